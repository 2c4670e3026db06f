"""The API's exception handler: DRF's, plus a 503 for a database that went away mid-request.

A connection cut by a failover, a restart or ``pg_terminate_backend`` is an operational failure the
client can retry, not a bug: it answers 503 with ``Retry-After`` in JSON, never a 500 page. Django
closes the broken connection when the request ends, so the next request connects afresh.
"""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

log = logging.getLogger(__name__)
RETRY_AFTER = 5


def exception_handler(exc, context):
    if isinstance(exc, OperationalError | InterfaceError):
        log.warning("database unavailable during %s: %s", context.get("request").path if context.get("request")
                    else "a request", exc)
        return Response({"detail": "The database is unavailable; try again shortly."},
                        status=status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": str(RETRY_AFTER)})
    return drf_exception_handler(exc, context)
