"""Personal access tokens: how scripts call the REST API.

A token reads ``gpat_<prefix>_<secret>``. Only the prefix (for lookup) and the SHA-256 of the whole
token are stored, so a database leak gives no usable token; the plain token is shown once, when it
is issued. SHA-256 (not a slow password hash) is enough because the secret is 256 random bits, not
something a person chose. A token has a scope (read: safe methods only; write: everything its
user may do), an optional expiry, records when it was last used, and can be revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

TOKEN_PREFIX = "gpat_"


class TokenScope(models.TextChoices):
    READ = "read", "Read (GET, HEAD, OPTIONS)"
    WRITE = "write", "Read and write"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def split_token(token: str) -> str | None:
    """The lookup prefix of a well-formed token, else None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    prefix, sep, secret = token[len(TOKEN_PREFIX):].partition("_")
    if not sep or len(prefix) != 8 or not secret:
        return None
    return prefix


class PersonalAccessTokenQuerySet(models.QuerySet):
    def usable(self, now=None):
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now))


class PersonalAccessToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_tokens")
    name = models.CharField(max_length=100, blank=True, default="", help_text="what the token is for")
    prefix = models.CharField(max_length=8, unique=True, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    scope = models.CharField(max_length=5, choices=TokenScope.choices, default=TokenScope.READ)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="empty: never expires")
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = PersonalAccessTokenQuerySet.as_manager()

    #: last_used_at is written at most this often, so a busy script does not write on every call
    LAST_USED_RESOLUTION = timedelta(minutes=1)

    class Meta:
        ordering = ["user", "-created_at"]
        verbose_name = "personal access token"

    def __str__(self) -> str:
        return f"{TOKEN_PREFIX}{self.prefix}… ({self.user}, {self.scope})"

    @classmethod
    def issue(cls, user, scope: str = TokenScope.READ, expires_days: int | None = None,
              name: str = "") -> tuple[PersonalAccessToken, str]:
        """Create a token; returns the row and the plain token (shown once, never stored)."""
        while True:
            prefix = secrets.token_hex(4)
            if not cls.objects.filter(prefix=prefix).exists():
                break
        plain = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
        token = cls.objects.create(user=user, name=name, prefix=prefix, token_hash=hash_token(plain),
                                   scope=scope, expires_at=expires_at)
        return token, plain

    @classmethod
    def find(cls, plain: str) -> PersonalAccessToken | None:
        """The usable token whose plain text is ``plain``, else None (constant-time compare)."""
        prefix = split_token(plain)
        if prefix is None:
            return None
        token = cls.objects.usable().select_related("user").filter(prefix=prefix).first()
        if token is None or not hmac.compare_digest(token.token_hash, hash_token(plain)):
            return None
        return token

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        return "active"

    @property
    def read_only(self) -> bool:
        return self.scope == TokenScope.READ

    def touch(self) -> None:
        now = timezone.now()
        if self.last_used_at is None or now - self.last_used_at >= self.LAST_USED_RESOLUTION:
            self.last_used_at = now
            type(self).objects.filter(pk=self.pk).update(last_used_at=now)

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


class SchedulerLease(models.Model):
    """Who may dispatch periodic tasks: exactly one Celery beat holds this lease (``portal.beat``);
    a second beat started by mistake waits as a standby and takes over when the holder stops
    renewing it."""

    name = models.CharField(max_length=50, primary_key=True)
    owner = models.CharField(max_length=200, blank=True, default="")
    until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} held by {self.owner or 'nobody'} until {self.until}"
