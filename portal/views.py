"""Site-level views: health. The pages live in ``portal.web`` (``/`` is ``web:home``)."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import connection
from django.http import JsonResponse
from django.views import defaults


def healthz(request):
    """Liveness and database reachability, for load balancers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def bad_request(request, exception=None):
    """Django's 400 (a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``, a bad Host header, ...): JSON for the
    API, which its clients parse, and Django's own page for the rest."""
    if request.path.startswith("/api/"):
        if isinstance(exception, RequestDataTooBig):
            detail = (f"request body too large: at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes")
        else:
            detail = "bad request"
        return JsonResponse({"detail": detail}, status=400)
    return defaults.bad_request(request, exception)
