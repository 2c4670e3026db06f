"""The Celery app. Tasks live in each app's ``tasks.py`` and are autodiscovered.

Beat runs one dispatcher tick (``metering.dispatch_refreshes``) that enqueues a refresh for every
enabled account whose interval is due, so adding an account never needs a schedule edit.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.dev")

app = Celery("glasspane")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _schedule(sender, **kwargs):
    from django.conf import settings

    sender.conf.beat_schedule = {
        "dispatch-refreshes": {
            "task": "metering.dispatch_refreshes",
            "schedule": float(settings.GLASSPANE_SCHEDULER_TICK),
        },
        "rollup-utilization": {"task": "metering.rollup_utilization", "schedule": 300.0},
        "prune-samples": {"task": "metering.prune_samples", "schedule": 3600.0},
        "check-budgets": {"task": "metering.check_budgets",
                          "schedule": float(settings.GLASSPANE_BUDGET_CHECK_INTERVAL)},
        "send-scheduled-reports": {"task": "metering.send_scheduled_reports", "schedule": 3600.0},
        "sweep-requests": {"task": "metering.sweep_requests", "schedule": 60.0},
        "reap-runs": {"task": "metering.reap_runs", "schedule": 60.0},
        "retry-quota-pushes": {"task": "metering.retry_quota_pushes", "schedule": 60.0},
        "compact-ledger-changes": {"task": "metering.compact_ledger_changes", "schedule": 60.0},
    }

