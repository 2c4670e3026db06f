"""Providers: the driver contract, the registry of drivers and the accounts that use them.

Nothing here imports from ``metering`` or ``portal``: a driver observes a platform and returns
plain dataclasses (see ``providers.base``); the collector in ``metering`` writes them.
"""
