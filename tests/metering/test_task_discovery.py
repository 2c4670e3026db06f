"""Every Celery task is declared in its app's ``tasks.py`` and found by autodiscovery (no
``CELERY_IMPORTS``, no registration by importing a module for its side effect); services hand work
to tasks by name after commit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
TASKS = {"metering.refresh_account", "metering.dispatch_refreshes", "metering.rollup_utilization",
         "metering.prune_samples", "metering.resource_action", "metering.provision_request",
         "metering.breach_webhook", "metering.enforce_breach", "metering.push_quotas", "metering.check_budgets",
         "metering.notify_budget_alerts", "metering.budget_webhook", "metering.send_scheduled_reports", "metering.sweep_requests", "metering.reap_runs",
         "metering.retry_quota_pushes", "metering.compact_ledger_changes", "portal.ping"}
PROBE = """
import django
django.setup()
from portal.celery import app
app.loader.import_default_modules()
print(" ".join(sorted(n for n in app.tasks if not n.startswith("celery."))))
"""


def test_a_fresh_process_discovers_every_task_from_the_apps_tasks_modules():
    assert not hasattr(settings, "CELERY_IMPORTS")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.test"}
    found = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=120, check=True).stdout.split()
    assert set(found) == TASKS


@pytest.mark.django_db
def test_a_service_hands_work_to_a_task_only_after_commit(django_capture_on_commit_callbacks, monkeypatch):
    from metering import handoff

    sent = []
    monkeypatch.setattr(handoff.task("metering.push_quotas"), "delay", lambda *args: sent.append(args))
    with django_capture_on_commit_callbacks() as callbacks:
        handoff.after_commit("metering.push_quotas", 7)
        assert sent == []
    for callback in callbacks:
        callback()
    assert sent == [(7,)]
