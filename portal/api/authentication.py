"""API authentication with personal access tokens: ``Authorization: Bearer <token>`` (or ``Token``).

Listed first in ``DEFAULT_AUTHENTICATION_CLASSES`` so an unauthenticated call gets 401 with a
``WWW-Authenticate: Bearer`` challenge. Failures are counted per presented token (its lookup
prefix, or the whole text when it has none); past the limit that token gets 429 before it is looked
up (``portal.authentication.token_failures``), and every other token keeps working.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from portal.authentication import token_failures
from portal.models import PersonalAccessToken, split_token

KEYWORDS = ("bearer", "token")


class TokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode("latin-1").lower() not in KEYWORDS:
            return None  # not ours: let session authentication try
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid Authorization header: expected 'Bearer <token>'.")
        try:
            plain = header[1].decode("ascii")
        except UnicodeDecodeError:
            plain = ""
        counter, credential = token_failures(), split_token(plain) or plain
        if counter.locked(credential):
            raise exceptions.Throttled(wait=counter.window, detail="Too many failures with this token.")
        token = PersonalAccessToken.find(plain) if plain else None
        if token is None or not token.user.is_active:
            counter.fail(credential)
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        token.touch()
        return token.user, token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    """Describes the token scheme in the OpenAPI schema."""

    target_class = "portal.api.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal access token (`manage.py token create USERNAME`); "
                           "`Authorization: Token <token>` is accepted too.",
        }
