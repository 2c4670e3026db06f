"""Metering: tenancy, inventory, usage accounting, quotas and chargeback.

Uses ``providers`` (drivers and accounts); knows nothing of ``portal``.
"""
