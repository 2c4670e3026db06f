"""Content negotiation and the CSV renderer.

``?format=`` picks a renderer. DRF answers an unknown format with 404; we answer 400 naming the
parameter, like every other bad query parameter. CSV views stream their own response
(``StreamingHttpResponse``); the renderer exists so negotiation and the schema know the format,
and errors of a CSV request are rendered as JSON (the documented error body).
"""

from __future__ import annotations

from rest_framework import renderers
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation


class CSVRenderer(renderers.BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        raise NotImplementedError("render: CSV views stream their rows themselves")


class FOCUSRenderer(CSVRenderer):
    """FOCUS cost and usage rows (CSV); the view streams them like the CSV."""

    format = "focus"


class StrictContentNegotiation(DefaultContentNegotiation):
    def filter_renderers(self, renderers, format):
        chosen = [r for r in renderers if r.format == format]
        if not chosen:
            known = ", ".join(sorted({r.format for r in renderers}))
            raise ValidationError({"format": [f"unknown format {format!r}: use one of {known}"]})
        return chosen


class CSVErrorsAsJSON:
    """View mixin: an error answer to a CSV request is JSON, as the schema says."""

    def finalize_response(self, request, response, *args, **kwargs):
        if getattr(request, "accepted_renderer", None) is not None and isinstance(
                request.accepted_renderer, CSVRenderer) and getattr(response, "data", None) is not None:
            request.accepted_renderer = renderers.JSONRenderer()
            request.accepted_media_type = request.accepted_renderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)
