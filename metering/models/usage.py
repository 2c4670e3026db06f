"""The ledger: usage segments, utilization samples and hourly rollups, refresh runs.

A ``UsageSegment`` is a run of time in which one resource kept the same project, state and size.
``end`` is always set: for the open segment (``open=True``) it is the newest observation that
confirmed it, so a report never counts time nobody observed. ``estimated`` marks time that was
counted across a gap longer than the allowed one with no lifecycle timestamp to vouch for it.
"""

from django.db import models
from django.db.models import Q

from metering.choices import ResourceKind, ResourceState, RunStatus
from metering.models.inventory import Resource
from metering.models.tenancy import Project
from providers.models import ProviderAccount


class UsageSegment(models.Model):
    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="segments")
    # denormalised from the resource so period reports group without joins
    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=ResourceKind.choices)
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="segments")
    state = models.CharField(max_length=10, choices=ResourceState.choices)
    vcpus = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    ram_mb = models.BigIntegerField(null=True, blank=True)
    disk_gb = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)
    flavor = models.CharField(max_length=255, blank=True, default="")
    start = models.DateTimeField()
    end = models.DateTimeField()
    open = models.BooleanField(default=True)
    estimated = models.BooleanField(default=False)

    class Meta:
        ordering = ["resource", "start"]
        constraints = [
            models.UniqueConstraint(fields=["resource", "start"], name="segment_unique_start"),
            models.UniqueConstraint(fields=["resource"], condition=Q(open=True), name="segment_one_open"),
            models.CheckConstraint(condition=Q(end__gte=models.F("start")), name="segment_end_after_start"),
        ]
        indexes = [
            models.Index(fields=["project", "start", "end"], name="segment_project_period"),
            models.Index(fields=["start", "end"], name="segment_period"),
        ]

    def __str__(self) -> str:
        return f"{self.resource_id} {self.state} [{self.start:%Y-%m-%d %H:%M}, {self.end:%Y-%m-%d %H:%M})"

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


class RawSample(models.Model):
    """One raw utilization sample as stored (what a driver reports is ``providers.base.UtilizationSample``);
    deltas against the previous sample are computed on insert. Kept ``GLASSPANE_RAW_RETENTION`` days;
    ``UtilizationRollup`` keeps the hourly sums."""

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="samples")
    at = models.DateTimeField()
    interval_seconds = models.FloatField(null=True, blank=True, help_text="since the previous sample")
    cpu_time_ns = models.BigIntegerField(null=True, blank=True, help_text="cumulative")
    cpu_core_seconds = models.FloatField(null=True, blank=True, help_text="used since the previous sample")
    memory_used_mb = models.FloatField(null=True, blank=True)
    memory_total_mb = models.FloatField(null=True, blank=True)
    net_rx_bytes = models.BigIntegerField(null=True, blank=True, help_text="cumulative")
    net_tx_bytes = models.BigIntegerField(null=True, blank=True, help_text="cumulative")
    disk_read_bytes = models.BigIntegerField(null=True, blank=True, help_text="cumulative")
    disk_write_bytes = models.BigIntegerField(null=True, blank=True, help_text="cumulative")
    net_bytes = models.BigIntegerField(null=True, blank=True, help_text="rx+tx since the previous sample")
    disk_bytes = models.BigIntegerField(null=True, blank=True, help_text="read+write since the previous sample")

    class Meta:
        ordering = ["resource", "at"]
        db_table = "metering_utilizationsample"  # the table keeps its name
        constraints = [models.UniqueConstraint(fields=["resource", "at"], name="sample_unique_at")]
        indexes = [models.Index(fields=["at"], name="sample_at")]

    def __str__(self) -> str:
        return f"sample of {self.resource_id} at {self.at:%Y-%m-%d %H:%M:%S}"


class LastSample(models.Model):
    """The newest raw counters of one resource, so the next sample's deltas need no query of the
    samples. A narrow row of its own, not a column of ``Resource``: each refresh rewrites it for
    every resource sampled, and rewriting the wide, many-indexed resource row costs several times
    more."""

    resource = models.OneToOneField(Resource, primary_key=True, on_delete=models.CASCADE, related_name="last_sample")
    at = models.DateTimeField()
    cpu_time_ns = models.BigIntegerField(null=True, blank=True, help_text="cumulative")
    net_total_bytes = models.BigIntegerField(null=True, blank=True, help_text="rx+tx, cumulative")
    disk_total_bytes = models.BigIntegerField(null=True, blank=True, help_text="read+write, cumulative")

    def __str__(self) -> str:
        return f"last sample of {self.resource_id} at {self.at:%Y-%m-%d %H:%M:%S}"


class UtilizationRollup(models.Model):
    """Samples of one resource in one UTC hour, aggregated; kept after raw samples are pruned."""

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="rollups")
    hour = models.DateTimeField()
    samples = models.PositiveIntegerField(default=0)
    cpu_pct_avg = models.FloatField(null=True, blank=True)
    cpu_pct_max = models.FloatField(null=True, blank=True)
    cpu_core_seconds = models.FloatField(default=0)
    memory_avg_mb = models.FloatField(null=True, blank=True)
    memory_max_mb = models.FloatField(null=True, blank=True)
    memory_mb_seconds = models.FloatField(default=0)
    net_bytes = models.BigIntegerField(default=0)
    disk_bytes = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["resource", "hour"]
        constraints = [models.UniqueConstraint(fields=["resource", "hour"], name="rollup_unique_hour")]
        indexes = [models.Index(fields=["hour"], name="rollup_hour")]

    def __str__(self) -> str:
        return f"rollup of {self.resource_id} for {self.hour:%Y-%m-%d %H:00}"


class RefreshRun(models.Model):
    """One refresh of one account: what it found and how it went (shown on the providers page)."""

    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    trigger = models.CharField(max_length=20, default="schedule")
    task_id = models.CharField(max_length=255, blank=True, default="")
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True, help_text="seconds")
    observed_at = models.DateTimeField(null=True, blank=True, help_text="the provider's clock")
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    samples = models.PositiveIntegerField(default=0)
    issues = models.JSONField(default=list, blank=True)
    #: optional parts of the platform not collected this run (no volume service...), said once each
    skipped = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-queued_at", "-id"]
        indexes = [models.Index(fields=["account", "-queued_at"], name="run_account_recent")]

    def __str__(self) -> str:
        return f"{self.account} {self.status} {self.queued_at:%Y-%m-%d %H:%M:%S}"

    @property
    def counts(self) -> dict:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "samples": self.samples,
            "issues": len(self.issues),
        }


class ExternalProject(models.Model):
    """A tenant a provider knows (a Keystone project), its raw facts, and its own limits in our keys."""

    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="external_projects")
    external_id = models.CharField(max_length=255)
    name = models.CharField(max_length=255, blank=True, default="")
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="external")
    facts = models.JSONField(default=dict, blank=True)
    #: the provider's own limits and usage by our quota key, ``{key: {"limit": int|None, "used": str|None}}``,
    #: from ``Inventory.quotas`` at the last refresh (the drift view compares them with ours)
    quotas = models.JSONField(default=dict, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["account", "name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "external_id"], name="external_project_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.account}/{self.name or self.external_id}"


class ProviderUsage(models.Model):
    """The provider's own usage totals (Nova os-simple-tenant-usage) from ``start`` (the month's
    first day) to ``end`` (the latest refresh), stored beside ours to show the difference."""

    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="+")
    external_project = models.ForeignKey(ExternalProject, on_delete=models.CASCADE, related_name="usage")
    start = models.DateTimeField()
    end = models.DateTimeField()
    vcpu_hours = models.DecimalField(max_digits=20, decimal_places=6)
    ram_mb_hours = models.DecimalField(max_digits=24, decimal_places=6)
    disk_gb_hours = models.DecimalField(max_digits=20, decimal_places=6)
    instance_hours = models.DecimalField(max_digits=20, decimal_places=6)
    fetched_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["external_project", "start"], name="provider_usage_unique_start"),
        ]

    def __str__(self) -> str:
        return f"{self.external_project} usage from {self.start:%Y-%m-%d}"


class DailyUsage(models.Model):
    """One UTC day of one resource's segments, grouped like the usage report groups them: the
    overlapping microseconds per project, state, size and estimated flag (hosts left out).

    Maintained by the collector for rolled days (``RolledDay``) as segments change, rebuilt for a
    day on demand (``manage.py usage --rollup``); reports read it for whole rolled days and the
    segments for the rest (``metering.daily``)."""

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    day = models.DateField()
    state = models.CharField(max_length=10, choices=ResourceState.choices)
    vcpus = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    ram_mb = models.BigIntegerField(null=True, blank=True)
    disk_gb = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)
    estimated = models.BooleanField(default=False)
    us = models.BigIntegerField(help_text="microseconds of the day in this state and size")

    class Meta:
        indexes = [
            models.Index(fields=["day", "project"], name="daily_usage_day_project"),
            models.Index(fields=["resource", "day"], name="daily_usage_resource_day"),
            # one project's days in one run of the index, with everything the report sums (an
            # index-only scan on PostgreSQL; the rows of a project are scattered over the table)
            models.Index(fields=["project", "day"], name="daily_usage_project_day",
                         include=["resource", "state", "vcpus", "ram_mb", "disk_gb", "estimated", "us"]),
        ]

    def __str__(self) -> str:
        return f"{self.resource_id} {self.day} {self.us} us"


class RolledDay(models.Model):
    """A UTC day whose ``DailyUsage`` rows are complete: reports may read them instead of segments."""

    day = models.DateField(unique=True)
    rolled_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"rolled {self.day}"
