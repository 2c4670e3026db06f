"""``QuotaUsage`` and live counting: what a project uses, counted from the inventory every time.

There is no usage counter to drift: usage is the project's non-deleted ``Resource`` rows plus the
active ``Reservation`` rows of requests in flight, aggregated in SQL (one query for resources,
one for reservations, whatever the number of resources). What counts, per key:

* ``vms``, ``containers``, ``volumes``: how many exist, in any state (a stopped VM still holds its
  allocation, as Nova counts it);
* ``vcpus``, ``ram_mb``: summed over VMs and containers (a container without a limit adds 0);
* ``disk_gb``: summed over VMs (root disks) and volumes;
* ``budget``: the month's forecast cost from the chargeback engine (see ``budget_forecast``).

``QuotaUsage`` is the value object the dashboard, the API, the commands and the checks share, in
the spirit of Horizon's ``openstack_dashboard/usage/quotas.py``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, Sum

from metering.choices import QuotaKey
from metering.models import UNLIMITED, Reservation, Resource
from metering.quotas.limits import KEYS, effective_limits, scoped_limits
from providers.base import Kind

ZERO = Decimal(0)
INFINITY = Decimal("Infinity")
COUNTED = (QuotaKey.VMS, QuotaKey.CONTAINERS, QuotaKey.VCPUS, QuotaKey.RAM_MB, QuotaKey.DISK_GB, QuotaKey.VOLUMES)
_SIZED = Q(kind__in=[Kind.VM, Kind.CONTAINER])
_RESOURCE_AGGREGATES = {
    QuotaKey.VMS.value: Count("pk", filter=Q(kind=Kind.VM)),
    QuotaKey.CONTAINERS.value: Count("pk", filter=Q(kind=Kind.CONTAINER)),
    QuotaKey.VCPUS.value: Sum("vcpus", filter=_SIZED),
    QuotaKey.RAM_MB.value: Sum("ram_mb", filter=_SIZED),
    QuotaKey.DISK_GB.value: Sum("disk_gb", filter=Q(kind__in=[Kind.VM, Kind.VOLUME])),
    QuotaKey.VOLUMES.value: Count("pk", filter=Q(kind=Kind.VOLUME)),
}
_RESERVATION_AGGREGATES = {
    **{key: Sum(key) for key in COUNTED},
    QuotaKey.BUDGET.value: Sum("cost"),
}


def number(value) -> int | Decimal:
    """A quantity for display and JSON: whole numbers as ``int``, the rest as ``Decimal``."""
    value = Decimal(value)
    if value.is_finite() and value == value.to_integral_value():
        return int(value)
    return value.normalize()


@dataclass(frozen=True)
class QuotaUsage:
    """One limit and what is counted against it. ``limit == -1`` means unlimited."""

    key: str
    limit: int
    used: Decimal = ZERO
    reserved: Decimal = ZERO
    account_id: int | None = None

    @property
    def unlimited(self) -> bool:
        return self.limit == UNLIMITED

    @property
    def in_use(self) -> Decimal:
        """Used plus reserved: what a new request is checked against."""
        return self.used + self.reserved

    @property
    def available(self) -> Decimal:
        """What may still be requested (``Decimal('Infinity')`` when unlimited, never negative)."""
        if self.unlimited:
            return INFINITY
        return max(Decimal(self.limit) - self.in_use, ZERO)

    @property
    def over(self) -> bool:
        return not self.unlimited and self.in_use > self.limit

    @property
    def over_by(self) -> Decimal:
        return max(self.in_use - self.limit, ZERO) if not self.unlimited else ZERO

    @property
    def percent(self) -> Decimal | None:
        """Share of the limit in use (None when unlimited; a zero limit in use is 100)."""
        if self.unlimited:
            return None
        if self.limit == 0:
            return Decimal(100) if self.in_use > 0 else ZERO
        return (self.in_use * 100 / self.limit).quantize(Decimal("0.1"))

    def allows(self, requested) -> bool:
        """Whether ``requested`` more fits. Asking for nothing always fits, even when over."""
        requested = Decimal(requested)
        return self.unlimited or requested <= 0 or self.in_use + requested <= self.limit

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "limit": self.limit,
            "unlimited": self.unlimited,
            "used": number(self.used),
            "reserved": number(self.reserved),
            "available": None if self.unlimited else number(self.available),
            "over": self.over,
            "percent": self.percent,
        }


def budget_forecast(project) -> Decimal:
    """The month's forecast cost of ``project``, from the chargeback engine.

    The chargeback engine (``metering.chargeback.costs``) is its own room and is imported here, at
    call time, so that quotas work before it is installed: without it the budget counts 0, so a
    budget limit neither refuses a request nor opens a breach. A budget narrowed to one account is
    compared with the project's whole forecast, since costs are forecast per project.
    """
    try:
        from metering.chargeback.costs import month_to_date
    except ImportError:
        return ZERO
    return Decimal(month_to_date(project).forecast)


def budget_delta(project, account, *, vcpus, ram_mb, disk_gb, kind) -> Decimal:
    """What a new request would add to the month's forecast (0 without the chargeback engine)."""
    try:
        from metering.chargeback.costs import forecast_delta
    except ImportError:
        return ZERO
    return Decimal(forecast_delta(project, vcpus, ram_mb, disk_gb, kind, account))


def _as_counts(row: dict, keys) -> dict[str, Decimal]:
    return {key: Decimal(row.get(key) or 0) for key in keys}


def live_counts(project_ids: Iterable[int], account_id: int | None = None) -> dict[tuple[int, int], dict]:
    """``{(project_id, account_id): {key: Decimal}}`` from non-deleted resources (one query)."""
    qs = Resource.objects.live().filter(project_id__in=list(project_ids))
    if account_id is not None:
        qs = qs.filter(account_id=account_id)
    rows = qs.order_by().values("project_id", "account_id").annotate(**_RESOURCE_AGGREGATES)
    return {(r["project_id"], r["account_id"]): _as_counts(r, COUNTED) for r in rows}


def reserved_counts(project_ids: Iterable[int], account_id: int | None = None) -> dict[tuple[int, int], dict]:
    """``{(project_id, account_id): {key: Decimal}}`` from active reservations (one query)."""
    qs = Reservation.objects.filter(project_id__in=list(project_ids), active=True)
    if account_id is not None:
        qs = qs.filter(account_id=account_id)
    rows = qs.order_by().values("project_id", "account_id").annotate(**_RESERVATION_AGGREGATES)
    return {(r["project_id"], r["account_id"]): _as_counts(r, KEYS) for r in rows}


def _sum_scope(groups: dict[tuple[int, int], dict], project_id: int, account_id: int | None) -> dict[str, Decimal]:
    total = dict.fromkeys(KEYS, ZERO)
    for (pid, aid), counts in groups.items():
        if pid == project_id and (account_id is None or aid == account_id):
            for key, value in counts.items():
                total[key] += value
    return total


def project_usage(project, account=None, *, budget: bool = True) -> dict[str, QuotaUsage]:
    """Every key's ``QuotaUsage`` in one scope of ``project``: global, or narrowed to ``account``.

    The global scope counts resources on every account against the global limits (project value,
    else site default); an account scope counts that account's resources against the limits
    narrowed to it. ``budget=False`` skips the chargeback forecast (list pages).
    """
    account_id = account.pk if account is not None else None
    limits = effective_limits(project, account)
    used = _sum_scope(live_counts([project.pk], account_id), project.pk, account_id)
    reserved = _sum_scope(reserved_counts([project.pk], account_id), project.pk, account_id)
    if budget and limits[QuotaKey.BUDGET] != UNLIMITED:
        used[QuotaKey.BUDGET] = budget_forecast(project)
    return {
        key: QuotaUsage(key, limits[key], used[key], reserved[key], account_id)
        for key in KEYS
    }


def usage_by_scope(project_ids: Iterable[int], *, reserved: bool = True) -> dict[int, dict[int | None, dict[str, QuotaUsage]]]:
    """``{project_id: {account_id or None: {key: QuotaUsage}}}`` for many projects at once.

    Covers the global scope of every project and every account scope a project narrowed a limit
    to, in four queries. Budget usage is left at 0 here (the forecast is per project and costly);
    callers that need it use ``project_usage``. ``reserved=False`` counts the inventory alone
    (breach detection: reservations are Glasspane's own requests, which admission already bounds).
    """
    project_ids = list(project_ids)
    limits = scoped_limits(project_ids)
    live = live_counts(project_ids)
    held = reserved_counts(project_ids) if reserved else {}
    result: dict[int, dict[int | None, dict[str, QuotaUsage]]] = defaultdict(dict)
    for pid, scopes in limits.items():
        for aid, scope_limits in scopes.items():
            used, res = _sum_scope(live, pid, aid), _sum_scope(held, pid, aid)
            result[pid][aid] = {key: QuotaUsage(key, scope_limits[key], used[key], res[key], aid) for key in KEYS}
    return dict(result)
