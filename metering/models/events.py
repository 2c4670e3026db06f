"""Lifecycle events recorded by the event listener (``metering.listener``), per account.

Events only *date* changes that polling finds (see ``metering.events``); they never create,
delete or re-state a resource. ``(account, external_id, action, at)`` is unique, so an event that
arrives twice (a reconnected stream, two listeners) is stored once.
"""

from django.db import models

from providers.models import ProviderAccount


class LifecycleEvent(models.Model):
    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="lifecycle_events")
    external_id = models.CharField(max_length=255)
    action = models.CharField(max_length=12)  # providers.base.EventAction
    at = models.DateTimeField(help_text="when it happened (the platform's time, or when it was received)")
    name = models.CharField(max_length=255, blank=True, default="")
    detail = models.CharField(max_length=64, blank=True, default="")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["account", "at"]
        constraints = [
            models.UniqueConstraint(fields=["account", "external_id", "action", "at"], name="event_unique"),
        ]
        indexes = [models.Index(fields=["account", "at"], name="event_account_at")]

    def __str__(self) -> str:
        return f"{self.name or self.external_id} {self.action} at {self.at.isoformat()}"
