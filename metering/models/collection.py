"""``CollectionState``: what the collector knows about one provider account (lease, last refresh,
health). It lives with the collector, one row per account, so ``providers`` keeps only what
configures an account and the pages read the state without joining the run history."""

from __future__ import annotations

from django.db import models

from metering.choices import AccountHealth
from providers.models import ProviderAccount


class CollectionState(models.Model):
    account = models.OneToOneField(ProviderAccount, on_delete=models.CASCADE, primary_key=True,
                                   related_name="collection")

    health = models.CharField(max_length=12, choices=AccountHealth.choices, default=AccountHealth.UNKNOWN)
    health_message = models.TextField(blank=True, default="")
    health_checked_at = models.DateTimeField(null=True, blank=True)

    last_refresh_started = models.DateTimeField(null=True, blank=True)
    last_refresh_finished = models.DateTimeField(null=True, blank=True)
    last_refresh_duration = models.FloatField(null=True, blank=True, help_text="seconds")
    last_refresh_counts = models.JSONField(default=dict, blank=True)
    last_refresh_error = models.TextField(blank=True, default="")
    #: the provider's clock at the last complete inventory; used for changes-since queries
    last_observed_at = models.DateTimeField(null=True, blank=True)
    #: single-flight lease: a refresh holds it until it finishes or the lease runs out
    lease_owner = models.CharField(max_length=64, blank=True, default="")
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "collection state"

    def __str__(self) -> str:
        return f"{self.account} ({self.health})"

    @classmethod
    def of(cls, account: ProviderAccount) -> CollectionState:
        """The account's state (as loaded with the account when it was), created when missing."""
        try:
            return account.collection
        except cls.DoesNotExist:
            return cls.objects.get_or_create(account=account)[0]
