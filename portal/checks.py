"""System checks (``manage.py check``) for settings that only fail under load or after a crash."""

from __future__ import annotations

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.compatibility)
def visibility_timeout_above_task_limit(app_configs, **kwargs):
    """On Redis, a message unacknowledged for ``visibility_timeout`` seconds is delivered again:
    below the longest task's time limit, a task still running would be handed to a second worker."""
    timeout = (getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {}).get("visibility_timeout")
    limit = settings.CELERY_TASK_TIME_LIMIT
    if timeout is not None and timeout <= limit:
        return [checks.Error(
            f"GLASSPANE_VISIBILITY_TIMEOUT ({timeout} s) must be above GLASSPANE_TASK_TIME_LIMIT ({limit} s)",
            hint="a task still running would be delivered to a second worker; raise the visibility timeout",
            id="portal.E001",
        )]
    return []
