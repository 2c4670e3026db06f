"""Which resource counts against which limit, and by how much: the one table.

Live usage (aggregated in SQL), breach enforcement (which resources make up an excess) and
admission (what a request adds) all read ``CONTRIBUTIONS``, so a resource kind counts the same way
everywhere. A key listed here is counted from the inventory: a resource of one of ``kinds`` adds
its ``size`` attribute, or 1 when ``size`` is None (a stopped VM still holds its allocation, as
Nova counts it). The budget is not counted from resources: it is the month's forecast cost
(``metering.quotas.usage.budget_forecast``), added by the same usage builder.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, Sum

from metering.choices import QuotaKey
from providers.base import Kind


@dataclass(frozen=True)
class Contribution:
    """How one resource adds to one key: which kinds count, and what each adds."""

    kinds: tuple[str, ...]
    size: str | None = None  # the resource's attribute summed; None: each resource counts 1

    def amount(self, kind: str, sizes) -> Decimal:
        """What one resource (or request) of ``kind`` with ``sizes`` (attributes or a mapping) adds."""
        if kind not in self.kinds:
            return Decimal(0)
        if self.size is None:
            return Decimal(1)
        value = sizes.get(self.size) if isinstance(sizes, dict) else getattr(sizes, self.size, None)
        return Decimal(value or 0)

    def aggregate(self):
        """The SQL aggregate over ``Resource`` rows."""
        if self.size is None:
            return Count("pk", filter=Q(kind__in=self.kinds))
        return Sum(self.size, filter=Q(kind__in=self.kinds))


CONTRIBUTIONS: dict[str, Contribution] = {
    QuotaKey.VMS.value: Contribution((Kind.VM,)),
    QuotaKey.CONTAINERS.value: Contribution((Kind.CONTAINER,)),
    QuotaKey.VCPUS.value: Contribution((Kind.VM, Kind.CONTAINER), "vcpus"),
    QuotaKey.RAM_MB.value: Contribution((Kind.VM, Kind.CONTAINER), "ram_mb"),
    QuotaKey.DISK_GB.value: Contribution((Kind.VM, Kind.VOLUME), "disk_gb"),
    QuotaKey.VOLUMES.value: Contribution((Kind.VOLUME,)),
}
#: the keys counted from the inventory (every key but the budget)
COUNTED: tuple[str, ...] = tuple(CONTRIBUTIONS)


def adds(kind: str, sizes) -> dict[str, Decimal]:
    """What one resource or request adds to every counted key."""
    return {key: c.amount(kind, sizes) for key, c in CONTRIBUTIONS.items()}
