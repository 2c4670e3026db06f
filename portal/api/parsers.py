"""The API's only request parser: JSON, refusing text no database column can hold.

PostgreSQL cannot store NUL characters in text or jsonb, and a lone UTF-16 surrogate (``"\\ud800"``
is valid JSON) cannot be encoded at all; either would fail deep in a query as a 500. Refusing
them here, for every key and value of the body, makes both a 400 naming the problem.
"""

from __future__ import annotations

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

#: how deep a request's JSON may nest; ours nests four levels (a plan, its rates, a tier, a value)
MAX_DEPTH = 32


def bad_text(value, depth: int = 0) -> str | None:
    """Why ``value`` (a parsed JSON document) cannot be stored, or None."""
    if depth > MAX_DEPTH:
        return f"nested more than {MAX_DEPTH} levels deep"
    if isinstance(value, str):
        if "\x00" in value:
            return "text may not contain NUL characters"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "text is not valid Unicode (a lone surrogate)"
        return None
    if isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    elif isinstance(value, list):
        items = value
    else:
        return None
    for item in items:
        problem = bad_text(item, depth + 1)
        if problem:
            return problem
    return None


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:  # the decoder's own stack ran out: JSON nested thousands deep
            raise ParseError(f"JSON parse error - nested more than {MAX_DEPTH} levels deep") from None
        problem = bad_text(data)
        if problem:
            raise ParseError(f"JSON parse error - {problem}")
        return data
