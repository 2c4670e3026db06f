"""Rate plans, their assignment to projects, fixed costs, and statements.

A ``Rate`` carries its own effective dates, so a price change mid-period is a second row and the
statement splits the period at the change. An issued ``Statement`` is frozen: its lines and the
rates it used (``rates_snapshot``) never change; re-issuing creates the next revision.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from metering.chargeback.money import validate_currency
from metering.choices import Measure, StatementStatus
from metering.models.inventory import Resource
from metering.models.tenancy import Project
from providers.models import ProviderAccount


class RatePlan(models.Model):
    name = models.CharField(max_length=100, unique=True)
    currency = models.CharField(max_length=3, default="EUR", help_text="ISO 4217 code",
                                validators=[validate_currency])
    description = models.TextField(blank=True, default="")
    is_default = models.BooleanField(default=False, help_text="the site default plan")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="one_default_plan"),
        ]

    def __str__(self) -> str:
        return self.name


class Rate(models.Model):
    plan = models.ForeignKey(RatePlan, on_delete=models.CASCADE, related_name="rates")
    measure = models.CharField(max_length=24, choices=Measure.choices)
    unit_price = models.DecimalField(max_digits=18, decimal_places=8)
    effective_from = models.DateTimeField()
    effective_to = models.DateTimeField(null=True, blank=True)
    # optional filters: empty = applies to everything
    provider_kind = models.CharField(max_length=40, blank=True, default="")
    account = models.ForeignKey(ProviderAccount, null=True, blank=True, on_delete=models.CASCADE)
    flavor = models.CharField(max_length=255, blank=True, default="", help_text="flavor or size class")
    label_key = models.CharField(max_length=255, blank=True, default="")
    label_value = models.CharField(max_length=255, blank=True, default="")
    #: [{"from": "0", "unit_price": "0.05"}, {"from": "1000", "unit_price": "0.04"}] by period quantity
    tiers = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["plan", "measure", "effective_from"]
        indexes = [models.Index(fields=["plan", "measure", "effective_from"], name="rate_lookup")]

    def __str__(self) -> str:
        return f"{self.plan} {self.measure} {self.unit_price} from {self.effective_from:%Y-%m-%d}"


class ProjectRatePlan(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="rate_plans")
    plan = models.ForeignKey(RatePlan, on_delete=models.PROTECT)
    effective_from = models.DateTimeField()
    effective_to = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project", "effective_from"]

    def __str__(self) -> str:
        return f"{self.project} on {self.plan} from {self.effective_from:%Y-%m-%d}"


class FixedCost(models.Model):
    """A monthly cost of a project (support, licences), prorated by the real number of days."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="fixed_costs")
    name = models.CharField(max_length=200)
    monthly_amount = models.DecimalField(max_digits=18, decimal_places=2)
    effective_from = models.DateTimeField()
    effective_to = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project", "name"]

    def __str__(self) -> str:
        return f"{self.project} {self.name} {self.monthly_amount}/month"


class Statement(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="statements")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    revision = models.PositiveIntegerField(default=0, help_text="0 = live draft; 1.. = issued revisions")
    status = models.CharField(max_length=8, choices=StatementStatus.choices, default=StatementStatus.DRAFT)
    currency = models.CharField(max_length=3, default="EUR")
    showback = models.BooleanField(default=False)
    total = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    rates_snapshot = models.JSONField(default=list, blank=True)
    changes = models.JSONField(default=dict, blank=True, help_text="difference to the previous revision")
    issued_at = models.DateTimeField(null=True, blank=True)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "-period_start", "-revision"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "period_start", "period_end", "revision"], name="statement_unique_revision"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project} {self.period_start:%Y-%m-%d}..{self.period_end:%Y-%m-%d} rev {self.revision}"

    def save(self, *args, **kwargs):
        if self.pk is not None and Statement.objects.filter(pk=self.pk, status=StatementStatus.ISSUED).exists():
            raise ValueError("an issued statement is frozen: issue a new revision instead")
        super().save(*args, **kwargs)


class StatementLine(models.Model):
    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="lines")
    resource = models.ForeignKey(Resource, null=True, blank=True, on_delete=models.SET_NULL)
    resource_name = models.CharField(max_length=255, blank=True, default="")
    resource_kind = models.CharField(max_length=10, blank=True, default="")
    provider = models.CharField(max_length=63, blank=True, default="")
    measure = models.CharField(max_length=24)
    description = models.CharField(max_length=255, blank=True, default="")
    quantity = models.DecimalField(max_digits=24, decimal_places=6)
    unit = models.CharField(max_length=20)
    unit_price = models.DecimalField(max_digits=18, decimal_places=8, null=True, blank=True)
    amount = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    estimated = models.BooleanField(default=False)
    #: the part of the period this line covers (a rate change mid-period splits a line there)
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["statement", "provider", "resource_name", "measure", "id"]

    def __str__(self) -> str:
        return f"{self.resource_name} {self.measure} {self.quantity} {self.unit}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("statement lines are write-once: issue a new revision instead")
        super().save(*args, **kwargs)


class HostCost(models.Model):
    """What a host (or, pooled, every host of one provider account) costs to run for a month.

    ``metering.chargeback.onprem`` turns this into an internal price per vCPU-hour and RAM GiB-hour.
    Capacity defaults to the host's own vCPUs and RAM (or the sum over the account's live hosts).
    """

    host = models.OneToOneField(Resource, null=True, blank=True, on_delete=models.CASCADE, related_name="cost",
                                limit_choices_to={"kind": "host"})
    account = models.OneToOneField(ProviderAccount, null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="host_cost")
    currency = models.CharField(max_length=3, default="EUR", validators=[validate_currency])
    monthly_hardware_cost = models.DecimalField(max_digits=14, decimal_places=2,
                                                help_text="amortised purchase, support, rack space per month")
    power_watts = models.DecimalField(max_digits=10, decimal_places=1, default=0, help_text="average draw")
    electricity_price_kwh = models.DecimalField(max_digits=10, decimal_places=5, default=0)
    pue = models.DecimalField(max_digits=4, decimal_places=2, default=1.5,
                              help_text="power usage effectiveness: total facility power / IT power (cooling)")
    cpu_share = models.DecimalField(max_digits=4, decimal_places=3, default=0.5,
                                    help_text="share of the cost carried by vCPUs; the rest by RAM")
    vcpus = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True,
                                help_text="capacity override (e.g. with CPU overcommit)")
    ram_mb = models.BigIntegerField(null=True, blank=True, help_text="capacity override")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(host__isnull=True) ^ Q(account__isnull=True),
                                   name="hostcost_host_xor_account",
                                   violation_error_message="Give a host or a provider account: exactly one of them."),
        ]

    def __str__(self) -> str:
        return f"cost of {self.host or self.account}"


class PriceSheet(models.Model):
    """A public cloud's instance sizes and hourly prices, to compare on-premises costs with."""

    name = models.CharField(max_length=100, unique=True)
    currency = models.CharField(max_length=3, default="EUR", validators=[validate_currency])
    description = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PriceSheetEntry(models.Model):
    sheet = models.ForeignKey(PriceSheet, on_delete=models.CASCADE, related_name="entries")
    name = models.CharField(max_length=100)
    vcpus = models.DecimalField(max_digits=10, decimal_places=3)
    ram_mb = models.BigIntegerField()
    hourly_price = models.DecimalField(max_digits=18, decimal_places=8)

    class Meta:
        ordering = ["sheet", "hourly_price", "name"]
        constraints = [models.UniqueConstraint(fields=["sheet", "name"], name="pricesheet_unique_size")]

    def __str__(self) -> str:
        return f"{self.sheet}/{self.name}"
