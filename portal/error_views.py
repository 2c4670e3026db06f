"""The 500 handler: the styled page with the navigation when the layout can still render.

Django's default handler renders ``500.html`` without the request, so the layout would lose its
navigation; this one renders with the request and falls back to the bare template when building
the layout fails too (the database may be what broke). 403 and 404 use Django's handlers, which
already render ``403.html`` / ``404.html`` with the request.
"""

from __future__ import annotations

import logging

from django.http import HttpResponseServerError
from django.template import loader

log = logging.getLogger(__name__)


def server_error(request, template_name: str = "500.html"):
    template = loader.get_template(template_name)
    try:
        body = template.render({}, request)
    except Exception:  # the layout's context (switcher, nav) needs the database
        log.exception("the 500 page could not render its layout; serving it bare")
        body = template.render({})
    return HttpResponseServerError(body)
