"""Rules that spread a shared project's cost, or hosts' idle capacity, over projects (see
``metering.chargeback.allocation`` and ``metering.chargeback.idle``)."""

from django.core.exceptions import ValidationError
from django.db import models

from metering.models.inventory import Resource
from metering.models.tenancy import Project


class AllocationSource(models.TextChoices):
    PROJECT = "project", "A shared project's cost"
    IDLE = "idle", "Idle capacity of hosts (on-premises cost model)"


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
    spreads = models.CharField(max_length=8, choices=AllocationSource.choices, default=AllocationSource.PROJECT,
                               help_text="what the rule spreads: a shared project's whole cost, or the idle "
                                         "capacity of hosts with a host cost (idle no rule spreads stays idle)")
    source = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="allocations_out",
                               null=True, blank=True,
                               help_text="the shared project whose whole cost is spread (platform, monitoring); "
                                         "empty for idle capacity")
    hosts = models.ManyToManyField(Resource, blank=True, related_name="idle_rules",
                                   limit_choices_to={"kind": "host"},
                                   help_text="idle capacity: the hosts whose idle cost is spread; empty: every "
                                             "host or account with a host cost that no rule names")
    method = models.CharField(max_length=8, choices=AllocationMethod.choices, default=AllocationMethod.EVEN)
    measure = models.CharField(max_length=16, blank=True, default="",
                               choices=[("", "")] + list(ALLOCATION_MEASURES.items()),
                               help_text="for 'in proportion to a measure'")
    weights = models.JSONField(default=dict, blank=True, help_text='for fixed weights: {"shop": 3, "data": 1}')
    targets = models.ManyToManyField(Project, blank=True, related_name="allocations_in",
                                     help_text="empty: every other project with a statement in the same currency "
                                               "(idle capacity: the projects whose VMs used the host)")
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        what = "idle capacity" if self.spreads == AllocationSource.IDLE else self.source
        return f"{self.name}: {what} {self.get_method_display().lower()}"

    @property
    def is_idle(self) -> bool:
        return self.spreads == AllocationSource.IDLE

    def clean(self):
        errors = {}
        if self.is_idle:
            if self.source_id:
                errors["source"] = "leave empty: an idle-capacity rule spreads hosts' idle cost, not a project's"
            if self.method == AllocationMethod.MEASURE and self.measure == "container_hours":
                errors["measure"] = "idle capacity is used by VMs: choose vCPU-, RAM-, instance- or disk-hours"
        elif not self.source_id:
            errors["source"] = "choose the shared project whose cost is spread"
        if self.method == AllocationMethod.MEASURE and self.measure not in ALLOCATION_MEASURES:
            errors["measure"] = f"choose one of {', '.join(ALLOCATION_MEASURES)}"
        if self.method == AllocationMethod.WEIGHTS:
            w = self.weights
            if not isinstance(w, dict) or not w or not all(
                    isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in w.values()):
                errors["weights"] = 'give each project slug a weight of 0 or more, e.g. {"shop": 3, "data": 1}'
            elif not sum(w.values()):
                errors["weights"] = "at least one weight must be above 0"
        if (self.source_id and not self.is_idle
                and AllocationRule.objects.filter(targets=self.source_id, spreads=AllocationSource.PROJECT)
                .exclude(pk=self.pk).exists()):
            errors["source"] = "this project receives an allocation itself; a shared project cannot be both"
        if errors:
            raise ValidationError(errors)
