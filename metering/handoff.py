"""Handing work from a service to a Celery task once the current transaction commits.

Services name the task instead of importing it: every task lives in ``metering/tasks.py``, which
imports the services, so a service importing it back would be a cycle. The task is looked up in
the Celery app's registry (each app's ``tasks.py`` is autodiscovered on first use), and ``delay``
runs after commit, so a worker never looks for a row that is not committed yet; outside a
transaction it runs at once.
"""

from __future__ import annotations

from celery import current_app
from django.db import transaction


def task(name: str):
    """The registered Celery task called ``name`` (autodiscovering the apps' ``tasks.py`` if needed)."""
    if name not in current_app.tasks:
        current_app.loader.import_default_modules()
    return current_app.tasks[name]


def after_commit(name: str, *args) -> None:
    """Queue the task ``name`` with ``args`` when the current transaction commits."""
    transaction.on_commit(lambda: task(name).delay(*args))
