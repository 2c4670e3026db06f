"""Decisions on recommendations: a dismissal (for good) or a snooze (until a date), with who and
when. The recommendations themselves are computed on demand (``metering.recommendations``)."""

from django.conf import settings
from django.db import models

from metering.models.inventory import Resource


class RecommendationDecision(models.Model):
    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="recommendation_decisions")
    kind = models.CharField(max_length=24)
    action = models.CharField(max_length=8, choices=[("dismiss", "Dismissed"), ("snooze", "Snoozed")])
    until = models.DateTimeField(null=True, blank=True, help_text="a snooze ends then; empty: dismissed for good")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.kind} for {self.resource_id}"
