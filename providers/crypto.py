"""Encrypt provider credentials at rest with Fernet, rotation-capable.

``GLASSPANE_CREDENTIAL_KEYS`` is a list of Fernet keys: the first encrypts, all of them decrypt
(``MultiFernet``), so a new key can be put first and old ciphertexts re-encrypted at leisure with
``rotate()``.
"""

from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _fernet() -> MultiFernet:
    keys = [k for k in getattr(settings, "GLASSPANE_CREDENTIAL_KEYS", []) if k]
    if not keys:
        raise ImproperlyConfigured("GLASSPANE_CREDENTIAL_KEYS is empty: provider credentials cannot be stored")
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(f"GLASSPANE_CREDENTIAL_KEYS holds a malformed Fernet key: {exc}") from None


def encrypt(data: dict) -> str:
    if not data:
        return ""
    return _fernet().encrypt(json.dumps(data, sort_keys=True).encode()).decode()


def decrypt(token: str) -> dict:
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken:
        raise ImproperlyConfigured(
            "stored provider credentials cannot be decrypted with any key in GLASSPANE_CREDENTIAL_KEYS"
        ) from None


def rotate(token: str) -> str:
    """Re-encrypt ``token`` with the first (newest) key."""
    return _fernet().rotate(token.encode()).decode() if token else ""
