"""Show times in the user's timezone (their profile's zone, else the site default); one chargeback memo per
request."""

import zoneinfo

from django.conf import settings
from django.utils import timezone


class UserTimezoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        name = request.session.get("timezone") if hasattr(request, "session") else None
        name = name or settings.GLASSPANE_DEFAULT_TIMEZONE
        try:
            timezone.activate(zoneinfo.ZoneInfo(name))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class ChargebackMemoMiddleware:
    """One allocation memo per request (``metering.chargeback.memo``): every statement a page builds
    reads each allocation rule's result once."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from metering.chargeback import memo

        with memo.scope():
            return self.get_response(request)
