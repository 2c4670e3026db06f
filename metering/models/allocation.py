"""Rules that spread a shared project's cost over other projects (see ``metering.chargeback.allocation``)."""

from django.core.exceptions import ValidationError
from django.db import models

from metering.models.tenancy import Project


class AllocationMethod(models.TextChoices):
    EVEN = "even", "Evenly"
    COST = "cost", "In proportion to their own cost"
    MEASURE = "measure", "In proportion to a measure"
    WEIGHTS = "weights", "By fixed weights"


ALLOCATION_MEASURES = {"vcpu_hours": "vCPU-hours", "ram_gb_hours": "RAM GiB-hours",
                       "instance_hours": "instance-hours", "container_hours": "container-hours",
                       "disk_gb_hours": "disk GiB-hours"}


class AllocationRule(models.Model):
    name = models.CharField(max_length=100, unique=True)
    source = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="allocations_out",
                               help_text="the shared project whose whole cost is spread (platform, monitoring)")
    method = models.CharField(max_length=8, choices=AllocationMethod.choices, default=AllocationMethod.EVEN)
    measure = models.CharField(max_length=16, blank=True, default="",
                               choices=[("", "")] + list(ALLOCATION_MEASURES.items()),
                               help_text="for 'in proportion to a measure'")
    weights = models.JSONField(default=dict, blank=True, help_text='for fixed weights: {"shop": 3, "data": 1}')
    targets = models.ManyToManyField(Project, blank=True, related_name="allocations_in",
                                     help_text="empty: every other project with a statement in the same currency")
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name}: {self.source} {self.get_method_display().lower()}"

    def clean(self):
        errors = {}
        if self.method == AllocationMethod.MEASURE and self.measure not in ALLOCATION_MEASURES:
            errors["measure"] = f"choose one of {', '.join(ALLOCATION_MEASURES)}"
        if self.method == AllocationMethod.WEIGHTS:
            w = self.weights
            if not isinstance(w, dict) or not w or not all(
                    isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in w.values()):
                errors["weights"] = 'give each project slug a weight of 0 or more, e.g. {"shop": 3, "data": 1}'
            elif not sum(w.values()):
                errors["weights"] = "at least one weight must be above 0"
        if self.source_id and AllocationRule.objects.filter(targets=self.source_id).exclude(pk=self.pk).exists():
            errors["source"] = "this project receives an allocation itself; a shared project cannot be both"
        if errors:
            raise ValidationError(errors)
