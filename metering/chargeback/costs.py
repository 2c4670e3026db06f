"""Cost to date and the month-end forecast of a project, and what a new allocation would add.

``forecast = cost to date + live allocations + remaining fixed costs``, where the live allocations
are each live resource's current size priced by the rates in effect for the rest of the month,
from the resource's last observation (time not yet in the ledger) to the end of the month (UTC),
and the remaining fixed costs are prorated by days from now. Used measures (CPU, memory, I/O) are
not forecast: nobody knows them yet. Tiered rates continue from the month-to-date quantities.

Both functions stay fast: one rate book (two queries), the statement to date (one usage-report
call per rate change in the month, usually one), one query for live resources.
A project without any rate plan costs nothing here (currency ``""``).

The month-to-date figures (the statement's priced usage, each resource's cost and the live
allocations' forward price) are cached with Django's cache under a key that names what they are
computed from: the project's ledger (count, open count, newest id and latest end of its segments,
the latest change of its resources) and the content of its rate book. The next refresh that
touches the project's segments, or any change of its plans or rates, makes a new key. Fixed
costs (prorated by the clock) and the budget are read live. Nothing is cached while an enabled
allocation rule exists (shares depend on other projects' ledgers) or while the ledger holds time
after ``now`` (a ``now`` in the past).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Count, Exists, Max, OuterRef, Q, Subquery
from django.utils import timezone

from metering import ledger
from metering.chargeback.engine import FIXED_COST, US_PER_HOUR, _micros, build_statement, fixed_cost_lines
from metering.chargeback.money import QUANTITY, line_amount, round_money
from metering.chargeback.rates import RateBook, Subject, rate_book
from metering.choices import BillingMode, Measure, QuotaKey
from metering.models import UNLIMITED, AllocationRule, FixedCost, Project, Resource, UsageSegment
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
    return month_figures(project, now)[0]


@dataclass(frozen=True)
class _Priced:
    """What the cache holds: the month's priced usage to date, without fixed costs."""

    usage: Decimal  # the statement's lines other than fixed costs (allocation shares included)
    forward: Decimal  # the live resources' allocations priced to the end of the month
    by_resource: dict[int, Decimal]


def ledger_state(project: Project) -> tuple[str, datetime | None, bool]:
    """``(signature, latest segment end, allocation rules exist)`` in one query: what the
    month-to-date figures are computed from, besides the rate book."""
    segs = UsageSegment.objects.filter(project=OuterRef("pk")).order_by().values("project")
    res = Resource.objects.filter(project=OuterRef("pk")).order_by().values("project")
    row = (Project.objects.filter(pk=project.pk)
           .annotate(n=Subquery(segs.annotate(x=Count("pk")).values("x")),
                     n_open=Subquery(segs.annotate(x=Count("pk", filter=Q(open=True))).values("x")),
                     top=Subquery(segs.annotate(x=Max("pk")).values("x")),
                     last_end=Subquery(segs.annotate(x=Max("end")).values("x")),
                     res_changed=Subquery(res.annotate(x=Max("updated_at")).values("x")),
                     res_n=Subquery(res.annotate(x=Count("pk")).values("x")),
                     rules=Exists(AllocationRule.objects.filter(enabled=True)))
           .values_list("n", "n_open", "top", "last_end", "res_changed", "res_n", "rules").first())
    if row is None:
        return "", None, False
    n, n_open, top, last_end, res_changed, res_n, rules = row
    sig = f"{n}:{n_open}:{top}:{last_end and last_end.isoformat()}:{res_changed and res_changed.isoformat()}:{res_n}"
    return sig, last_end, bool(rules)


def book_fingerprint(book: RateBook) -> str:
    """The rate book's content (plans over time, every rate's snapshot) as a short digest."""
    parts = [f"{lo.isoformat()}/{hi.isoformat()}/{plan.pk if plan else '-'}/{plan.currency if plan else ''}"
             for lo, hi, plan in book.spans]
    parts += [repr(r.snapshot()) for pid in sorted(book.rates) for r in sorted(book.rates[pid], key=lambda r: r.id)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def month_cache_key(project: Project, lo: datetime, sig: str, book: RateBook) -> str:
    return f"glasspane:mtd:{project.pk}:{lo:%Y-%m}:{hashlib.sha256(sig.encode()).hexdigest()[:24]}:" \
           f"{book_fingerprint(book)}"


def month_figures(project: Project, now: datetime | None = None, report=None, report_end: datetime | None = None
                  ) -> tuple[CostSummary, ResourceCosts | None]:
    """The month's cost summary and, when the ledger holds nothing after ``now``, each resource's
    cost this month to date (for pages whose period is this month); one statement at most, cached.

    ``report`` is the project's usage report of [first of the month, ``report_end``) if the page
    has one (``report_end`` at or after the latest segment end and within the month): it is
    reused for the statement instead of computing the month's usage again.
    """
    now = now or timezone.now()
    lo, hi = month_of(now)
    # the figures follow the ledger's version (metering.ledger: any write to what they read, rates
    # and plans included, moves it); the rate book and the signature's aggregate (every segment of
    # the project) are read once per version
    at = ledger.version()
    book = ledger.cached("rate_book/1", (project.pk, lo, hi), lambda: rate_book(project, lo, hi), at=at)
    budget = budget_of(project)
    currency = book.currency
    if currency is None:
        return CostSummary(Decimal(0), Decimal(0), "", budget), None
    sig, last_end, rules = ledger.cached("ledger_state/1", (project.pk,), lambda: ledger_state(project), at=at)
    settled = last_end is None or last_end <= now  # the ledger holds nothing after now
    key = month_cache_key(project, lo, f"{at}/{sig}", book) if settled and not rules else None
    priced = cache.get(key) if key else None
    fixed = list(FixedCost.objects.filter(project=project, effective_from__lt=hi).exclude(effective_to__lte=lo)
                 .order_by("name", "effective_from", "pk"))
    if priced is None:
        priced = _price_month(project, book, lo, hi, now, currency, settled and not rules, report, report_end, fixed)
        if key:
            cache.set(key, priced, timeout=24 * 3600)  # keys are content-addressed; old ones just expire
    to_date = priced.usage
    extra = priced.forward
    if now > lo:
        for line in fixed_cost_lines(project, lo, now, currency, showback=False, costs=fixed):
            to_date += line_amount(line.quantity, line.unit_price, currency)
    if now < hi:
        for line in fixed_cost_lines(project, now, hi, currency, showback=False, costs=fixed):
            extra += line_amount(line.quantity, line.unit_price, currency)
    to_date = round_money(to_date, currency)
    costs = ResourceCosts(currency, priced.by_resource) if settled else None
    return CostSummary(to_date, to_date + extra, currency, budget), costs


def _price_month(project, book, lo, hi, now, currency, reusable, report, report_end, fixed) -> _Priced:
    counters: dict = {}
    usage = Decimal(0)
    by_resource: dict[int, Decimal] = {}
    if now > lo:
        # with nothing in the ledger after now (and no allocation shares, which depend on other
        # projects), [lo, report_end) has the same priced lines as [lo, now)
        reuse = report is not None and reusable and report_end is not None and now <= report_end <= hi
        end = report_end if reuse else now
        draft = build_statement(project, lo, end, showback=False, book=book, allow_gaps=True,
                                report=report if reuse else None, fixed_costs=fixed)
        counters = dict(draft.counters)
        for line in draft.lines:
            if line.measure == FIXED_COST or line.amount is None:
                continue
            usage += line.amount
            if line.resource_id is not None:
                by_resource[line.resource_id] = by_resource.get(line.resource_id, Decimal(0)) + line.amount
    periods = book.periods(lo, hi)
    forward = Decimal(0)
    for r in Resource.objects.live().filter(project=project).exclude(kind=Kind.HOST).select_related("account"):
        since = max(lo, min(r.last_seen, now))
        subject = Subject(r.account.kind, r.account_id, r.flavor, r.labels or {})
        forward += _price_forward(periods, since, hourly(r.kind, r.state, r.vcpus, r.ram_mb, r.disk_gb), subject,
                                  counters, currency)
    return _Priced(usage, forward, by_resource)


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
