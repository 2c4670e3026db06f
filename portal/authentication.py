"""Throttling of password and token guessing: a small counter of failures in the cache.

``FailureCounter`` counts failures per key (a login's username + client IP, or the API token that
was presented: its lookup prefix) in Django's cache (``django.core.cache``); once a key reaches ``limit`` failures it is locked until
the window that started with its first failure runs out. A success does not unlock a key early
for tokens, but a successful login resets its own username + IP key.

The cache must be shared by every web process for the limit to hold across them (a Redis or
database cache in production); with the default per-process memory cache each process counts on
its own, which still slows guessing down but multiplies the limit by the number of processes.

Locking the credential that fails, not the address it came from, keeps one office's users (behind
one NAT address) working while a script among them keeps sending a revoked token. The address is
the peer's, or, behind ``GLASSPANE_TRUSTED_PROXIES`` reverse proxies, the one they saw.
"""

from __future__ import annotations

import hashlib
import ipaddress

from django.conf import settings
from django.core.cache import cache


def client_ip(request) -> str:
    """The client's address: the peer, or behind N trusted proxies (``GLASSPANE_TRUSTED_PROXIES``) the
    address the outermost of them saw, the N-th from the right of ``X-Forwarded-For`` (each proxy
    appends the address it received from). Entries further left were written by the client
    and are never used; with no trusted proxy the header is ignored (DRF's ``NUM_PROXIES`` agrees)."""
    peer = request.META.get("REMOTE_ADDR", "") or "unknown"
    count = getattr(settings, "GLASSPANE_TRUSTED_PROXIES", 0)
    if count <= 0:
        return peer
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    if not hops:
        return peer
    candidate = hops[-min(count, len(hops))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return peer


class FailureCounter:
    def __init__(self, namespace: str, limit: int, window: int):
        self.namespace = namespace
        self.limit = limit
        self.window = window

    def _key(self, *parts: str) -> str:
        digest = hashlib.sha256("\x00".join(p.lower() for p in parts).encode()).hexdigest()
        return f"glasspane:{self.namespace}:{digest}"

    def failures(self, *parts: str) -> int:
        return cache.get(self._key(*parts), 0)

    def locked(self, *parts: str) -> bool:
        return self.failures(*parts) >= self.limit

    def fail(self, *parts: str) -> int:
        """Count one failure; returns the count. ``add`` + ``incr`` are atomic on shared caches."""
        key = self._key(*parts)
        if cache.add(key, 1, timeout=self.window):
            return 1
        try:
            return cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=self.window)
            return 1

    def reset(self, *parts: str) -> None:
        cache.delete(self._key(*parts))


def login_failures() -> FailureCounter:
    """Failed web logins per username + IP (``GLASSPANE_LOGIN_MAX_FAILURES`` within
    ``GLASSPANE_LOGIN_LOCKOUT`` seconds, default 5 per 15 minutes)."""
    return FailureCounter("login", getattr(settings, "GLASSPANE_LOGIN_MAX_FAILURES", 5),
                          getattr(settings, "GLASSPANE_LOGIN_LOCKOUT", 900))


def token_failures() -> FailureCounter:
    """Failures per presented API token (its prefix; 20 per 15 minutes unless set)."""
    return FailureCounter("token", getattr(settings, "GLASSPANE_TOKEN_MAX_FAILURES", 20),
                          getattr(settings, "GLASSPANE_LOGIN_LOCKOUT", 900))
