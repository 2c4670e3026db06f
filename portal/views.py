"""Site-level views: liveness and readiness probes. The pages live in ``portal.web``."""

from __future__ import annotations

import logging

from django.db import connection
from django.http import JsonResponse

log = logging.getLogger(__name__)

#: seconds the broker gets to answer a readiness probe
BROKER_TIMEOUT = 3


def healthz(request):
    """Liveness: this process answers. Touches neither the database nor the broker, so an outage
    of either never makes a process manager restart healthy web workers."""
    return JsonResponse({"status": "ok"})


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # any failure means "not ready"; the reason goes to the log
        log.warning("readyz: database unreachable: %s", exc)
        return "unreachable"


def _broker() -> str:
    from portal.celery import app

    try:
        with app.connection_for_write(connect_timeout=BROKER_TIMEOUT) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT)
        return "ok"
    except Exception as exc:
        log.warning("readyz: broker unreachable: %s", exc)
        return "unreachable"


def readyz(request):
    """Readiness, for load balancers: 200 when the database and the broker answer, else 503 naming
    which one does not (a web process that cannot admit or enqueue should get no traffic)."""
    checks = {"database": _database(), "broker": _broker()}
    ready = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", **checks}, status=200 if ready else 503)
