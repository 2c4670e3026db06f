"""``ProviderAccount``: one connection to one platform.

The account stores the driver kind (a registry key), settings validated by that driver, and
credentials encrypted at rest. What the collector last heard from it (health, the last refresh,
the single-flight lease) lives with the collector (``metering.models.CollectionState``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

from providers import crypto, registry
from providers.base import Driver
from providers.configure import configure

NAME_VALIDATOR = RegexValidator(
    r"^[a-z0-9][a-z0-9_-]{0,62}$", "use lowercase letters, digits, '-' and '_' (at most 63)"
)


class ProviderAccount(models.Model):
    name = models.CharField(max_length=63, unique=True, validators=[NAME_VALIDATOR])
    kind = models.CharField(max_length=40, help_text="driver kind from the glasspane.providers registry")
    settings = models.JSONField(default=dict, blank=True)
    credentials_encrypted = models.TextField(blank=True, default="", editable=False)
    refresh_interval = models.PositiveIntegerField(
        default=300, validators=[MinValueValidator(10)], help_text="seconds between refreshes"
    )
    enabled = models.BooleanField(default=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def driver_class(self) -> type[Driver]:
        return registry.driver_class(self.kind)

    @property
    def credentials(self) -> dict:
        return crypto.decrypt(self.credentials_encrypted)

    @credentials.setter
    def credentials(self, value: dict) -> None:
        self.credentials_encrypted = crypto.encrypt(value)

    def configure(self, settings: Mapping[str, Any] | None = None, credentials: Mapping[str, Any] | None = None,
                  *, kind: str | None = None, save: bool = True) -> ProviderAccount:
        """Validate and set settings and credentials (see ``providers.configure``); raises
        ``ConfigurationError``. The one way admin, portal, API and commands change them."""
        return configure(self, kind=kind, settings=settings, credentials=credentials, save=save)

    def driver(self) -> Driver:
        """A fresh driver for this account; the caller closes it (use ``with``)."""
        return self.driver_class(self.settings, self.credentials)
