"""Limits, reservations for requests in flight, breaches, and the audit trail of every change.

Usage is never stored as a counter: it is counted live from the inventory plus active
reservations (``metering.quotas``), so it cannot drift from reality.
"""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from metering.choices import ChangeSource, PushOutcome, QuotaKey, RequestState
from metering.models.inventory import Resource
from metering.models.tenancy import Project
from metering.models.usage import ExternalProject
from providers.models import ProviderAccount

UNLIMITED = -1


class QuotaDefault(models.Model):
    """The site-wide default for one limit (like Horizon's Defaults)."""

    key = models.CharField(max_length=12, choices=QuotaKey.choices, unique=True)
    limit = models.BigIntegerField(validators=[MinValueValidator(UNLIMITED)])

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return f"default {self.key}={self.limit}"


class Quota(models.Model):
    """One project's limit for one key, global (``account`` empty) or narrowed to one account."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="quotas")
    account = models.ForeignKey(ProviderAccount, null=True, blank=True, on_delete=models.CASCADE)
    key = models.CharField(max_length=12, choices=QuotaKey.choices)
    limit = models.BigIntegerField(validators=[MinValueValidator(UNLIMITED)])
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["project", "key"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "key"], condition=Q(account__isnull=True), name="quota_unique_global"
            ),
            models.UniqueConstraint(
                fields=["project", "account", "key"], condition=Q(account__isnull=False), name="quota_unique_account"
            ),
        ]

    def __str__(self) -> str:
        scope = f"@{self.account}" if self.account_id else ""
        return f"{self.project} {self.key}{scope}={self.limit}"


class QuotaAudit(models.Model):
    """Who changed which limit, when, from where, old -> new (``project`` empty = a default).

    A push-down to a provider is audited too (source ``push``): ``external_id`` is the provider's
    project, ``old`` its limit before (as last read), ``new`` what was pushed, ``outcome`` applied or
    failed and ``message`` the provider's own words when it refused or could not be reached.
    """

    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.CASCADE, related_name="quota_audit")
    account = models.ForeignKey(ProviderAccount, null=True, blank=True, on_delete=models.SET_NULL)
    key = models.CharField(max_length=12, choices=QuotaKey.choices)
    old = models.BigIntegerField(null=True, blank=True, help_text="empty: was not set")
    new = models.BigIntegerField(null=True, blank=True, help_text="empty: removed")
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    source = models.CharField(max_length=10, choices=ChangeSource.choices)
    at = models.DateTimeField(auto_now_add=True)
    external_id = models.CharField(max_length=255, blank=True, default="", help_text="push: the provider's project")
    outcome = models.CharField(max_length=8, choices=PushOutcome.choices, blank=True, default="",
                               help_text="push: applied or not")
    message = models.TextField(blank=True, default="", help_text="push: the provider's message when not applied")

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        text = f"{self.project or 'defaults'} {self.key}: {self.old} -> {self.new} ({self.source})"
        return f"{text} {self.outcome}" if self.outcome else text


class QuotaPush(models.Model):
    """The last push-down of one key to one provider project: applied, or not, why and when it is
    tried again. The drift view says "not applied" from here until a later push succeeds."""

    external = models.ForeignKey(ExternalProject, on_delete=models.CASCADE, related_name="pushes")
    key = models.CharField(max_length=12, choices=QuotaKey.choices)
    value = models.BigIntegerField(help_text="the limit pushed last")
    applied = models.BooleanField(default=False)
    message = models.TextField(blank=True, default="", help_text="the provider's own words when not applied")
    attempted_at = models.DateTimeField()
    #: consecutive failed attempts for this value (0 once applied)
    failures = models.PositiveIntegerField(default=0)
    #: when the failed push is tried again; empty: applied, or given up (see ``metering.quotas.pushdown``)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    #: the provider could not be reached and a Celery retry of the push task is already scheduled
    #: (the beat's scan leaves the row alone unless that retry is overdue)
    task_retry = models.BooleanField(default=False)

    class Meta:
        ordering = ["external", "key"]
        constraints = [models.UniqueConstraint(fields=["external", "key"], name="quota_push_one_per_key")]
        indexes = [models.Index(fields=["applied", "next_retry_at"], name="quota_push_due")]

    def __str__(self) -> str:
        return f"{self.external} {self.key}={self.value} {'applied' if self.applied else 'not applied'}"


class ProvisionRequest(models.Model):
    """A request to create a VM, container or server through Glasspane."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="provision_requests")
    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="provision_requests")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    kind = models.CharField(max_length=10)
    spec = models.JSONField(default=dict)
    state = models.CharField(max_length=14, choices=RequestState.choices, default=RequestState.PENDING)
    message = models.TextField(blank=True, default="")
    resource = models.ForeignKey(Resource, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    #: the client's ``Idempotency-Key`` header: a retry with the same key gets this request back
    idempotency_key = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["requested_by", "idempotency_key"], condition=~Q(idempotency_key=""),
                                    name="provision_request_idempotency_key"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.project} on {self.account} ({self.state})"


class Reservation(models.Model):
    """What an admitted request will use, counted until it succeeds (then the resource counts)
    or fails (then it is released)."""

    request = models.OneToOneField(ProvisionRequest, on_delete=models.CASCADE, related_name="reservation")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="reservations")
    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE)
    vms = models.PositiveIntegerField(default=0)
    containers = models.PositiveIntegerField(default=0)
    vcpus = models.DecimalField(max_digits=10, decimal_places=3, default=0)
    ram_mb = models.BigIntegerField(default=0)
    disk_gb = models.DecimalField(max_digits=14, decimal_places=3, default=0)
    volumes = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=18, decimal_places=2, default=0, help_text="forecast for the month")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["project", "active"], name="reservation_project_active")]

    def __str__(self) -> str:
        return f"reservation for request {self.request_id} ({'active' if self.active else 'released'})"


class QuotaBreach(models.Model):
    """A project over a limit because of something created behind Glasspane's back."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="breaches")
    account = models.ForeignKey(ProviderAccount, null=True, blank=True, on_delete=models.SET_NULL)
    key = models.CharField(max_length=12, choices=QuotaKey.choices)
    limit = models.BigIntegerField()
    used = models.DecimalField(max_digits=18, decimal_places=3)
    over_by = models.DecimalField(max_digits=18, decimal_places=3)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    actions = models.JSONField(default=list, blank=True, help_text="what the policy did (audited)")

    class Meta:
        ordering = ["-opened_at", "-id"]
        verbose_name_plural = "quota breaches"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "key"], condition=Q(closed_at__isnull=True), name="breach_one_open_per_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project} over {self.key} by {self.over_by}"
