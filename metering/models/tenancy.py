"""Projects (the unit of quota and billing) and who may do what in them."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from metering.choices import BillingMode, BreachPolicy, Role

SLUG_VALIDATOR = RegexValidator(
    r"^[a-z0-9][a-z0-9-]{0,62}$", "use lowercase letters, digits and '-' (at most 63, no leading '-')"
)


class Project(models.Model):
    slug = models.CharField(max_length=63, unique=True, validators=[SLUG_VALIDATOR])
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    cost_centre = models.CharField(max_length=100, blank=True, default="")
    billing_mode = models.CharField(max_length=10, choices=BillingMode.choices, default=BillingMode.BILLED)
    breach_policy = models.CharField(max_length=12, choices=BreachPolicy.choices, default=BreachPolicy.ALERT)
    breach_webhook = models.URLField(blank=True, default="", help_text="JSON POST on breach open/close")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "user"]
        constraints = [models.UniqueConstraint(fields=["user", "project"], name="membership_unique_user_project")]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} as {self.role}"
