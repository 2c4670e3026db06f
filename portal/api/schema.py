"""OpenAPI additions: the error answers every operation can give, described once.

A postprocessing hook (``SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]``) adds to every operation
the responses it can give besides its own: 400 (bad field or unknown query parameter: a map of
field name to messages), 401 (no or bad credentials), 403 (role or token scope too low), 404 (for
paths naming an object: missing or in a project you cannot see) and 429 (throttled). Doing it in
one place means a new endpoint cannot forget them.
"""

from __future__ import annotations

ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
FIELD_ERRORS = {
    "type": "object",
    "description": "Field (or query parameter) name -> list of messages; nested objects for nested fields; "
                   "`non_field_errors` for errors of the whole body.",
    "additionalProperties": {},
}
ANSWERS = {
    "400": ("Invalid input: a field, a query parameter or an unknown query parameter.", "FieldErrors"),
    "401": ("Not authenticated: no session, or a missing, invalid, expired or revoked token.", "Error"),
    "403": ("Authenticated, but your role or the token's scope does not allow this.", "Error"),
    "404": ("Not found, or in a project you cannot see.", "Error"),
    "429": ("Too many requests (throttled); retry after the Retry-After header's seconds.", "Error"),
}
METHODS = {"get", "put", "post", "patch", "delete", "head", "options"}


def add_error_responses(result, generator, request, public):
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR)
    schemas.setdefault("FieldErrors", FIELD_ERRORS)
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for code, (description, schema) in ANSWERS.items():
                if code == "404" and "{" not in path:
                    continue
                responses.setdefault(code, {
                    "description": description,
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
                })
    return result
