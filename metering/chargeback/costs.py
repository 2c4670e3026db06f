"""Cost to date and the month-end forecast of a project, and what a new allocation would add.

``forecast = cost to date + live allocations + remaining fixed costs``, where the live allocations
are each live resource's current size priced by the rates in effect for the rest of the month,
from the resource's last observation (time not yet in the ledger) to the end of the month (UTC),
and the remaining fixed costs are prorated by days from now. Used measures (CPU, memory, I/O) are
not forecast: nobody knows them yet. Tiered rates continue from the month-to-date quantities.

Both functions stay fast: one rate book (two queries), the statement to date (one usage-report
call per rate change in the month, usually one), one query for live resources.
A project without any rate plan costs nothing here (currency ``""``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.utils import timezone

from metering.chargeback.engine import US_PER_HOUR, _micros, build_statement, fixed_cost_lines
from metering.chargeback.money import QUANTITY, line_amount, round_money
from metering.chargeback.rates import Subject, rate_book
from metering.choices import BillingMode, Measure, QuotaKey
from metering.models import UNLIMITED, Project, Resource
from metering.quotas.limits import effective_limits
from providers.base import Kind, State


@dataclass(frozen=True)
class CostSummary:
    cost_to_date: Decimal
    forecast: Decimal
    currency: str
    budget: Decimal | None  # None: no budget (unlimited)

    @property
    def over_budget(self) -> bool:
        return self.budget is not None and self.forecast > self.budget

    @property
    def budget_left(self) -> Decimal | None:
        return None if self.budget is None else self.budget - self.forecast


def month_of(now: datetime) -> tuple[datetime, datetime]:
    """The UTC calendar month holding ``now``, as [first instant, first instant of the next)."""
    now = now.astimezone(UTC)
    first = datetime(now.year, now.month, 1, tzinfo=UTC)
    return first, datetime(first.year + (first.month == 12), first.month % 12 + 1, 1, tzinfo=UTC)


def budget_of(project: Project) -> Decimal | None:
    """The project's global monthly budget (``effective_limits``); None if unlimited."""
    limit = effective_limits(project)[QuotaKey.BUDGET]
    return None if limit == UNLIMITED else Decimal(limit)


def hourly(kind: str, state: str, vcpus, ram_mb, disk_gb) -> dict[str, Decimal]:
    """The allocation measures one hour of a resource of this size adds."""
    out = {
        Measure.VCPU_HOURS: Decimal(vcpus or 0),
        Measure.RAM_GB_HOURS: Decimal(ram_mb or 0) / 1024,
        Measure.DISK_GB_HOURS: Decimal(disk_gb or 0),
    }
    if kind == Kind.VM:
        out[Measure.INSTANCE_HOURS] = Decimal(1)
    elif kind == Kind.CONTAINER:
        out[Measure.CONTAINER_HOURS] = Decimal(1)
    if state == State.RUNNING and kind in (Kind.VM, Kind.CONTAINER):
        out[Measure.RUNNING_HOURS] = Decimal(1)
    return out


def _price_forward(periods, since: datetime, per_hour: dict[str, Decimal], subject: Subject, counters: dict,
                   currency: str) -> Decimal:
    total = Decimal(0)
    for sp in periods:
        lo = max(sp.start, since)
        if lo >= sp.end or sp.plan is None:
            continue
        hours = Decimal(_micros(sp.end - lo)) / US_PER_HOUR
        for m, rate_per_hour in per_hour.items():
            rate = sp.find(m, subject)
            q = (rate_per_hour * hours).quantize(QUANTITY)
            if rate is None or not q:
                continue
            for qty, price, _tier in rate.bands(counters.get(rate.counter_key, Decimal(0)), q):
                total += line_amount(qty, price, currency)
            counters[rate.counter_key] = counters.get(rate.counter_key, Decimal(0)) + q
    return total


def month_to_date(project: Project, now: datetime | None = None) -> CostSummary:
    now = now or timezone.now()
    lo, hi = month_of(now)
    book = rate_book(project, lo, hi)
    budget = budget_of(project)
    currency = book.currency
    if currency is None:
        return CostSummary(Decimal(0), Decimal(0), "", budget)
    counters: dict = {}
    to_date = round_money(Decimal(0), currency)
    if now > lo:
        draft = build_statement(project, lo, now, showback=False, book=book, allow_gaps=True)
        to_date, counters = draft.total, dict(draft.counters)
    periods = book.periods(lo, hi)
    extra = Decimal(0)
    for r in Resource.objects.live().filter(project=project).exclude(kind=Kind.HOST).select_related("account"):
        since = max(lo, min(r.last_seen, now))
        subject = Subject(r.account.kind, r.account_id, r.flavor, r.labels or {})
        extra += _price_forward(periods, since, hourly(r.kind, r.state, r.vcpus, r.ram_mb, r.disk_gb), subject,
                                counters, currency)
    if now < hi:
        for line in fixed_cost_lines(project, now, hi, currency, showback=False):
            extra += line_amount(line.quantity, line.unit_price, currency)
    return CostSummary(to_date, to_date + extra, currency, budget)


@dataclass(frozen=True)
class ResourceCosts:
    """What each resource cost in a period (its statement lines summed), for usage tables."""

    currency: str
    by_resource: dict[int, Decimal]

    def get(self, resource_id: int) -> Decimal:
        return self.by_resource.get(resource_id, round_money(Decimal(0), self.currency))


def resource_costs(project: Project, start: datetime, end: datetime, report=None) -> ResourceCosts | None:
    """Each resource's cost over [start, end) from the live statement; None when nothing is priced
    (a showback project, or no rate plan anywhere in the period). A stretch without a plan costs
    nothing. Amounts are sums of the statement's rounded lines, so they add up to its total less
    the fixed costs. ``report`` (the project's usage report of the same period) is reused."""
    if project.billing_mode == BillingMode.SHOWBACK:
        return None
    draft = build_statement(project, start, end, showback=False, allow_gaps=True, report=report)
    if not draft.currency:
        return None
    by_resource: dict[int, Decimal] = {}
    for line in draft.lines:
        if line.resource_id is not None and line.amount is not None:
            by_resource[line.resource_id] = by_resource.get(line.resource_id, Decimal(0)) + line.amount
    return ResourceCosts(draft.currency, by_resource)


def forecast_delta(project: Project, vcpus, ram_mb, disk_gb, kind: str, account=None,
                   now: datetime | None = None) -> Decimal:
    """What allocating this (running, from ``now`` to the end of the month) would add to the forecast.

    ``account`` is a ``ProviderAccount`` (or None: only rates without account filter match).
    Tiered rates are priced from the month-to-date quantity, which costs one statement to date.
    """
    now = now or timezone.now()
    lo, hi = month_of(now)
    book = rate_book(project, now, hi)
    currency = book.currency
    if currency is None:
        return Decimal(0)
    subject = Subject(account.kind if account else "", account.pk if account else None, "", {})
    periods = book.periods(now, hi)
    counters: dict = {}
    if now > lo and any(r.tiers for rates in book.rates.values() for r in rates):
        counters = dict(build_statement(project, lo, now, showback=False, allow_gaps=True).counters)
    return round_money(_price_forward(periods, now, hourly(kind, State.RUNNING, vcpus, ram_mb, disk_gb), subject,
                                      counters, currency), currency)
