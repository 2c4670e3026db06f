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


@checks.register(checks.Tags.caches, deploy=True)
def shared_cache_in_production(app_configs, **kwargs):
    """Throttles count in the cache: a per-process cache multiplies every limit by the number of
    processes, and a lock-out in one process is unknown to the others."""
    backend = settings.CACHES["default"]["BACKEND"]
    if backend.endswith(("LocMemCache", "DummyCache")):
        return [checks.Warning(
            "the cache is per process: login and API throttles multiply with web processes",
            hint="set GLASSPANE_CACHE_URL=redis://HOST:6379/N (a shared Redis cache)",
            id="portal.W002",
        )]
    return []
