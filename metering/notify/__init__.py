"""Telling people about money: budget alerts, scheduled reports, and the channels both use.

``budgets`` decides which thresholds a project has crossed this month (once each), ``reports``
builds and sends subscribed reports after their period closes, ``channels`` delivers through
Django's email backend (SMTP settings from the environment) and signed webhooks.
"""
