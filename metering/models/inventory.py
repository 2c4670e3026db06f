"""What the providers hold: resources (host -> VM -> container, volumes) and mapping rules.

A ``Resource`` is the latest observation of one thing on one account; its history lives in
``UsageSegment``. ``(account, external_id)`` is unique so collection is an upsert. A deleted
resource keeps its row (``deleted_at`` set) so past usage and statements still name it.
"""

import re

from django.db import models

from metering.choices import MappingSource, ResourceKind, ResourceState
from metering.models.tenancy import Project
from providers.models import ProviderAccount


class ResourceQuerySet(models.QuerySet):
    def live(self):
        return self.filter(deleted_at__isnull=True)


class Resource(models.Model):
    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="resources")
    external_id = models.CharField(max_length=255)
    kind = models.CharField(max_length=10, choices=ResourceKind.choices)
    name = models.CharField(max_length=255)
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="resources")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    state = models.CharField(max_length=10, choices=ResourceState.choices, default=ResourceState.UNKNOWN)
    #: None = unlimited (a container without a CPU limit), never 0
    vcpus = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    ram_mb = models.BigIntegerField(null=True, blank=True)
    disk_gb = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)
    image = models.CharField(max_length=255, blank=True, default="")
    flavor = models.CharField(max_length=255, blank=True, default="")
    labels = models.JSONField(default=dict, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    #: the raw project reference the provider gave (kept to re-map when rules change)
    project_hint = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(null=True, blank=True, help_text="the provider's creation time")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField(help_text="provider clock of the newest observation applied")
    deleted_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ResourceQuerySet.as_manager()

    class Meta:
        ordering = ["account", "kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "external_id"], name="resource_unique_external_id"),
        ]
        indexes = [
            models.Index(fields=["project", "deleted_at"], name="resource_project_live"),
            models.Index(fields=["kind", "state"], name="resource_kind_state"),
            models.Index(fields=["name"], name="resource_name"),
        ]

    def __str__(self) -> str:
        return f"{self.account.name}/{self.name}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class MappingRule(models.Model):
    """How a found resource gets its project when the provider's own hint is not a project slug.

    Rules are tried by ``priority`` (lowest first); ``account`` narrows a rule to one account.
    """

    account = models.ForeignKey(ProviderAccount, null=True, blank=True, on_delete=models.CASCADE)
    source = models.CharField(max_length=10, choices=MappingSource.choices)
    key = models.CharField(max_length=255, blank=True, default="", help_text="label key (source=label)")
    value = models.CharField(
        max_length=255, help_text="the hint or label value to match, or a regular expression (source=name)"
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="mapping_rules")
    priority = models.PositiveIntegerField(default=100)

    class Meta:
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.key}={self.value} -> {self.project}"

    def matches(self, name: str, hint: str | None, labels: dict) -> bool:
        if self.source == MappingSource.HINT:
            return hint is not None and hint == self.value
        if self.source == MappingSource.LABEL:
            return labels.get(self.key) == self.value
        return re.search(self.value, name) is not None
