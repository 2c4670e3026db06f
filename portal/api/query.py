"""Unknown query parameters are errors, not silently ignored.

A typo such as ``?projet=shop`` would otherwise return every resource, and a script would believe
it had filtered. ``StrictQueryParams`` (a view mixin) answers 400 naming each unknown parameter,
after authentication, so an anonymous caller still gets 401.
"""

from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter, SearchFilter

from portal.api.parsers import bad_text

ALWAYS = {"format"}


def allowed_query_params(view) -> set[str]:
    allowed = set(ALWAYS) | set(getattr(view, "query_params", {}).get(getattr(view, "action", None), ()))
    if getattr(view, "action", None) != "list":
        return allowed
    filterset_class = getattr(view, "filterset_class", None)
    if filterset_class is not None:
        allowed |= set(filterset_class.base_filters)
    allowed |= set(getattr(view, "filterset_fields", None) or ())
    for backend in getattr(view, "filter_backends", ()):
        if issubclass(backend, OrderingFilter):
            allowed.add(backend.ordering_param)
        if issubclass(backend, SearchFilter):
            allowed.add(backend.search_param)
    paginator = getattr(view, "paginator", None)
    for name in ("page_query_param", "page_size_query_param", "cursor_query_param"):
        value = getattr(paginator, name, None)
        if value:
            allowed.add(value)
    return allowed


class StrictQueryParams:
    """View mixin. A view lists extra parameters per action in ``query_params``."""

    query_params: dict[str, tuple[str, ...]] = {}

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        allowed = allowed_query_params(self)
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            known = ", ".join(sorted(allowed))
            raise ValidationError({name: [f"unknown query parameter (known here: {known})"] for name in unknown})
        unstorable = sorted(name for name, value in request.query_params.items() if bad_text(value))
        if unstorable:
            raise ValidationError({name: [bad_text(request.query_params[name])] for name in unstorable})
        empty = sorted(name for name, value in request.query_params.items() if value == "")
        if empty:  # web forms send empty fields; a script meant something, so say so
            raise ValidationError({name: ["empty: give a value or leave the parameter out"] for name in empty})
        repeated = sorted(name for name, values in request.query_params.lists() if len(values) > 1)
        if repeated:  # every parameter here takes one value; which one would win is a guess
            raise ValidationError({name: ["given more than once"] for name in repeated})
