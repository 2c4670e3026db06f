"""``QuotaUsage`` and live counting: what a project uses, counted from the inventory every time.

There is no usage counter to drift: usage is the project's non-deleted ``Resource`` rows plus the
active ``Reservation`` rows of requests in flight, aggregated in SQL (one query for resources,
one for reservations, whatever the number of resources). How each resource kind counts against
each key is the table in ``metering.quotas.contributions``; the budget's "used" is the month's
forecast cost from the chargeback engine, computed once per project by the same builder
(``usage_by_scope``) wherever a budget limit applies or the caller already knows the forecast.

``QuotaUsage`` is the value object the dashboard, the API, the commands, admission and breach
detection share, in the spirit of Horizon's ``openstack_dashboard/usage/quotas.py``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Sum

from metering.choices import QuotaKey
from metering.models import UNLIMITED, Project, Reservation, Resource
from metering.quotas.contributions import CONTRIBUTIONS, COUNTED
from metering.quotas.limits import KEYS, scoped_limits

ZERO = Decimal(0)
INFINITY = Decimal("Infinity")
_RESOURCE_AGGREGATES = {key: c.aggregate() for key, c in CONTRIBUTIONS.items()}
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

    Imported at call time because the chargeback engine reads the budget limit from
    ``metering.quotas.limits``. A budget narrowed to one account is compared with the project's
    whole forecast, since costs are forecast per project.
    """
    from metering.chargeback.costs import month_to_date

    return Decimal(month_to_date(project).forecast)


def budget_delta(project, account, *, vcpus, ram_mb, disk_gb, kind) -> Decimal:
    """What a new request would add to the month's forecast."""
    from metering.chargeback.costs import forecast_delta

    return Decimal(forecast_delta(project, vcpus, ram_mb, disk_gb, kind, account))


def _as_counts(row: dict, keys) -> dict[str, Decimal]:
    return {key: Decimal(row.get(key) or 0) for key in keys}


def live_counts(project_ids: Iterable[int], account_id: int | None = None) -> dict[tuple[int, int], dict]:
    """``{(project_id, account_id): {key: Decimal}}`` from non-deleted resources (one query)."""
    qs = Resource.objects.live().filter(project_id__in=list(project_ids))
    if account_id is not None:
        qs = qs.filter(account_id=account_id)
    rows = live_rows(qs)
    return {(r["project_id"], r["account_id"]): _as_counts(r, COUNTED) for r in rows}


def live_rows(resources):
    """``resources`` (non-deleted) summed per project and account, a column per counted key: the
    one aggregate of live usage (admission's PostgreSQL statement embeds it too)."""
    return resources.order_by().values("project_id", "account_id").annotate(**_RESOURCE_AGGREGATES)


def held_rows(reservations):
    """Active ``reservations`` summed per project and account, a column per key (budget: cost)."""
    return reservations.filter(active=True).order_by().values("project_id", "account_id").annotate(
        **_RESERVATION_AGGREGATES)


def reserved_counts(project_ids: Iterable[int], account_id: int | None = None) -> dict[tuple[int, int], dict]:
    """``{(project_id, account_id): {key: Decimal}}`` from active reservations (one query)."""
    qs = Reservation.objects.filter(project_id__in=list(project_ids))
    if account_id is not None:
        qs = qs.filter(account_id=account_id)
    rows = held_rows(qs)
    return {(r["project_id"], r["account_id"]): _as_counts(r, KEYS) for r in rows}


def _sum_scope(groups: dict[tuple[int, int], dict], project_id: int, account_id: int | None) -> dict[str, Decimal]:
    total = dict.fromkeys(KEYS, ZERO)
    for (pid, aid), counts in groups.items():
        if pid == project_id and (account_id is None or aid == account_id):
            for key, value in counts.items():
                total[key] += value
    return total


def _forecasts(scopes_by_project: dict[int, dict], known: Mapping[int, Decimal]) -> dict[int, Decimal]:
    """The month's forecast of every project that has a budget limit in some scope (or is known)."""
    out = dict(known)
    need = [pid for pid, scopes in scopes_by_project.items() if pid not in out
            and any(limits[QuotaKey.BUDGET] != UNLIMITED for limits in scopes.values())]
    for project in Project.objects.filter(pk__in=need):
        out[project.pk] = budget_forecast(project)
    return out


def usage_by_scope(project_ids: Iterable[int], *, reserved: bool = True, accounts: Iterable[int] = (),
                   forecasts: Mapping[int, Decimal] | None = None) -> dict[int, dict[int | None, dict[str, QuotaUsage]]]:
    """``{project_id: {account_id or None: {key: QuotaUsage}}}``: the one usage builder.

    Covers the global scope of every project, every account scope a project narrowed a limit to,
    and the scopes of ``accounts`` (unlimited where nothing is narrowed), in four queries plus one
    forecast per project with a budget limit. The global scope counts every account's resources
    against the global limits (project value, else site default); an account scope counts that
    account's resources against the limits narrowed to it. ``forecasts`` passes forecasts the
    caller already has (``{project_id: Decimal}``). ``reserved=False`` counts the inventory alone
    (breach detection: reservations are Glasspane's own requests, which admission already bounds).
    """
    project_ids = list(project_ids)
    limits = scoped_limits(project_ids)
    for aid in accounts:
        for scopes in limits.values():
            scopes.setdefault(aid, dict.fromkeys(KEYS, UNLIMITED))
    live = live_counts(project_ids)
    held = reserved_counts(project_ids) if reserved else {}
    budget = _forecasts(limits, forecasts or {})
    result: dict[int, dict[int | None, dict[str, QuotaUsage]]] = defaultdict(dict)
    for pid, scopes in limits.items():
        for aid, scope_limits in scopes.items():
            used, res = _sum_scope(live, pid, aid), _sum_scope(held, pid, aid)
            used[QuotaKey.BUDGET] = budget.get(pid, ZERO)
            result[pid][aid] = {key: QuotaUsage(key, scope_limits[key], used[key], res[key], aid) for key in KEYS}
    return dict(result)


def project_usage(project, account=None, *, forecast: Decimal | None = None) -> dict[str, QuotaUsage]:
    """Every key's ``QuotaUsage`` in one scope of ``project``: global, or narrowed to ``account``
    (see ``usage_by_scope``; ``forecast`` is the month's forecast when the caller has it)."""
    account_id = account.pk if account is not None else None
    known = {project.pk: forecast} if forecast is not None else None
    extra = (account_id,) if account_id is not None else ()
    return usage_by_scope([project.pk], accounts=extra, forecasts=known)[project.pk][account_id]
