"""Telling people: budget alerts that fire once per threshold and month, and report subscriptions.

``BudgetAlert`` rows are the record of what fired, with the numbers that made it fire; the unique
constraint is what makes "once per period and per threshold" hold under concurrent checks.
``ReportRun`` rows likewise make a scheduled report go out once per period.
"""

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models

from metering.models.tenancy import Project

DEFAULT_THRESHOLDS = [50, 75, 90, 100]


def split_addresses(text: str) -> list[str]:
    return [a.strip() for a in (text or "").replace(";", ",").split(",") if a.strip()]


def check_addresses(text: str, *, required: bool) -> None:
    """Every comma-separated address valid (one error naming the bad ones); at least one if required."""
    addresses = split_addresses(text)
    if required and not addresses:
        raise ValidationError("give at least one email address")
    bad = []
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            bad.append(address)
    if bad:
        raise ValidationError(f"not an email address: {', '.join(repr(b[:80]) for b in bad[:5])}")
    if len(addresses) > 50:
        raise ValidationError(f"at most 50 addresses, got {len(addresses)}")


def default_thresholds() -> list[int]:
    return list(DEFAULT_THRESHOLDS)


class AlertBasis(models.TextChoices):
    COST_TO_DATE = "cost_to_date", "Cost to date"
    FORECAST = "forecast", "Month-end forecast"


class BudgetAlertPolicy(models.Model):
    """How a project wants to hear about its budget; a project without one gets the defaults."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="budget_alert_policy")
    enabled = models.BooleanField(default=True, help_text="untick to opt the project out of budget alerts")
    thresholds = models.JSONField(default=default_thresholds, help_text="percentages of the budget, e.g. [50, 90]")
    email_admins = models.BooleanField(default=True, help_text="email the project's admins")
    extra_emails = models.TextField(blank=True, default="", help_text="more addresses, comma-separated")
    webhook_url = models.URLField(blank=True, default="", help_text="signed JSON POST for each alert")
    webhook_secret = models.CharField(max_length=200, blank=True, default="",
                                      help_text="HMAC-SHA256 key for the X-Glasspane-Signature header")

    class Meta:
        verbose_name = "budget alert policy"
        verbose_name_plural = "budget alert policies"

    def __str__(self) -> str:
        return f"budget alerts of {self.project}"

    def clean(self):
        errors = {}
        values = self.thresholds
        if not isinstance(values, list) or not values or not all(
                isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 1000 for v in values):
            errors["thresholds"] = "a list of whole percentages from 1 to 1000, e.g. [50, 75, 90, 100]"
        try:
            check_addresses(self.extra_emails, required=False)
        except ValidationError as exc:
            errors["extra_emails"] = exc.messages
        if errors:
            raise ValidationError(errors)


class BudgetAlert(models.Model):
    """One threshold crossed in one month, with the numbers that crossed it and where it was sent."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="budget_alerts")
    period_start = models.DateTimeField(help_text="the month (UTC) the budget is for")
    basis = models.CharField(max_length=16, choices=AlertBasis.choices)
    threshold = models.PositiveSmallIntegerField(help_text="percent of the budget")
    budget = models.DecimalField(max_digits=18, decimal_places=2)
    amount = models.DecimalField(max_digits=18, decimal_places=2, help_text="cost to date or forecast then")
    currency = models.CharField(max_length=3, blank=True, default="")
    fired_at = models.DateTimeField()
    #: channel -> "sent", "failed: why", or "skipped: why"
    deliveries = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-fired_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["project", "period_start", "basis", "threshold"],
                                               name="budget_alert_once_per_month")]

    def __str__(self) -> str:
        return f"{self.project}: {self.get_basis_display()} at {self.threshold}% of {self.budget}"


class ReportKind(models.TextChoices):
    USAGE_CSV = "usage_csv", "Usage CSV"
    STATEMENT_CSV = "statement_csv", "Chargeback statement CSV"
    FOCUS = "focus", "FOCUS 1.0 cost and usage CSV"


class ReportFrequency(models.TextChoices):
    WEEKLY = "weekly", "Weekly (Monday to Monday)"
    MONTHLY = "monthly", "Monthly"


class ReportSubscription(models.Model):
    """Addresses that receive one report for one project (or all, staff only) every period."""

    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.CASCADE,
                                related_name="report_subscriptions", help_text="empty: every project (staff only)")
    kind = models.CharField(max_length=16, choices=ReportKind.choices)
    frequency = models.CharField(max_length=8, choices=ReportFrequency.choices, default=ReportFrequency.MONTHLY)
    timezone = models.CharField(max_length=64, default="UTC", help_text="where the period's days begin")
    recipients = models.TextField(help_text="comma-separated email addresses")
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project__slug", "kind", "pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.project or 'all projects'}, {self.frequency}"

    @property
    def recipient_list(self) -> list[str]:
        return split_addresses(self.recipients)

    def clean(self):
        errors = {}
        try:
            check_addresses(self.recipients, required=True)
        except ValidationError as exc:
            errors["recipients"] = exc.messages
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            errors["timezone"] = f"unknown timezone {self.timezone[:64]!r}: use an IANA name like Europe/Berlin"
        if errors:
            raise ValidationError(errors)


class ReportRun(models.Model):
    """One period of one subscription: sent once, with what was attached."""

    subscription = models.ForeignKey(ReportSubscription, on_delete=models.CASCADE, related_name="runs")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    status = models.CharField(max_length=8, choices=[("sent", "Sent"), ("failed", "Failed")])
    attempts = models.PositiveSmallIntegerField(default=0, help_text="a failed run is tried again, up to 5 times")
    error = models.TextField(blank=True, default="")
    attachment = models.CharField(max_length=200, blank=True, default="")
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    statement = models.ForeignKey("metering.Statement", null=True, blank=True, on_delete=models.SET_NULL)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-period_start", "-pk"]
        constraints = [models.UniqueConstraint(fields=["subscription", "period_start"], name="report_run_once")]

    def __str__(self) -> str:
        return f"{self.subscription} {self.period_start:%Y-%m-%d}: {self.status}"
