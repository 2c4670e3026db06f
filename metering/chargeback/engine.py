"""Building a statement: the usage report priced by the project's rates, plus fixed costs.

The period is cut at every plan or rate change (``RateBook.periods``) and the usage report is
called once per sub-period; it clips segments exactly, so time before a VM existed or after it was
deleted is never charged, and a resize is time-weighted because every segment keeps its own size.
Quantities come from the ledger's segments, never from the resource's latest attributes: a flavor
filter matches the flavor each segment had (a resource whose flavor changed in a sub-period gets
one line per flavor), while a label filter matches the resource's current labels (labels are not
part of a segment).

Lines: one per resource, measure, unit price and tier (equal prices in several sub-periods merge
into one line). A measure the plan has no matching rate for produces no line (the plan decides
what is billed). A line is ``estimated`` when the resource had estimated hours in its sub-period.
Fixed monthly costs are prorated by the real length of each calendar month (UTC): quantity in
days, unit price = monthly amount / days in that month, so a week of a 31-day month costs 7/31.

Money follows the rule in ``metering.chargeback.money``: each line is rounded once, half-even,
to the currency's minor unit, and the total is the sum of the rounded lines.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from metering.chargeback import memo
from metering.chargeback.money import QUANTITY, UNIT_PRICE, line_amount, minor_unit
from metering.chargeback.rates import RateBook, RateView, Subject, SubPeriod, kept_rate_book
from metering.choices import BillingMode, Measure
from metering.models import FixedCost, Project, UsageSegment
from metering.reports import MEASURES, UNITS, ResourceUsage, UsageReport, usage_report
from providers.base import Kind, State
from providers.models import ProviderAccount

FIXED_COST = "fixed_cost"
US_PER_HOUR = Decimal(3_600_000_000)
US_PER_DAY = Decimal(86_400_000_000)
ALLOCATION = (Measure.INSTANCE_HOURS, Measure.CONTAINER_HOURS, Measure.VCPU_HOURS, Measure.RAM_GB_HOURS,
              Measure.DISK_GB_HOURS, Measure.RUNNING_HOURS, Measure.ESTIMATED_HOURS)
#: what a showback statement of a project without any plan lists (estimated hours are a flag)
SHOWBACK_MEASURES = [m for m in MEASURES if m != Measure.ESTIMATED_HOURS]


@dataclass
class Line:
    """One statement line; the same attribute names as ``StatementLine`` so exports take both."""

    resource_id: int | None
    resource_name: str
    resource_kind: str
    provider: str
    measure: str
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal | None
    amount: Decimal | None
    estimated: bool
    start: datetime | None
    end: datetime | None


@dataclass
class Draft:
    """A statement computed on demand (never stored); ``statements.issue`` freezes one."""

    project: Project
    start: datetime
    end: datetime
    currency: str
    showback: bool
    lines: list[Line]
    rates: dict[int, RateView] = field(default_factory=dict)
    counters: dict[tuple, Decimal] = field(default_factory=dict)
    revision: int = 0
    status: str = "draft"

    @property
    def total(self) -> Decimal | None:
        if self.showback:
            return None
        return sum((line.amount for line in self.lines), Decimal(0)).quantize(minor_unit(self.currency))

    def rates_snapshot(self) -> list[dict]:
        return [self.rates[k].snapshot() for k in sorted(self.rates)]


def subtotals(lines) -> tuple[dict, dict]:
    """``({measure: [quantity, amount]}, {provider: amount})`` summed over rounded lines."""
    by_measure: dict[str, list] = {}
    by_provider: dict[str, Decimal | None] = {}
    for line in lines:
        m = by_measure.setdefault(line.measure, [Decimal(0), None])
        m[0] += line.quantity
        if line.amount is not None:
            m[1] = (m[1] or Decimal(0)) + line.amount
            by_provider[line.provider] = (by_provider.get(line.provider) or Decimal(0)) + line.amount
        else:
            by_provider.setdefault(line.provider, None)
    return by_measure, by_provider


def build_statement(project: Project, start: datetime, end: datetime, *, showback: bool | None = None,
                    book: RateBook | None = None, allow_gaps: bool = False,
                    report: UsageReport | None = None, allocations: bool = True, fixed_costs=None) -> Draft:
    """The live statement of ``project`` over [start, end): priced lines, or quantities if showback.

    Raises ``NoRatePlan`` for a billed project without a plan somewhere in the period, and
    ``metering.periods.PeriodError`` (from the usage report) when ``end <= start``. With
    ``allow_gaps`` a stretch without any plan costs nothing instead (the cost-to-date helpers).
    ``report``, the project's usage report of exactly [start, end), is reused when no plan or rate
    change splits the period (a page that shows the report anyway saves computing it twice).
    """
    if showback is None:
        showback = project.billing_mode == BillingMode.SHOWBACK
    # within a request's memo (``metering.chargeback.memo``) the direct part of a billed statement is
    # computed once, whether the page asks for it or an allocation rule does (its source, targets)
    direct_key = ("direct", project.pk, start, end) if not showback and not allow_gaps and fixed_costs is None \
        else None
    cached = memo.peek(direct_key) if direct_key and allocations else None
    if cached is not None:
        lines = list(cached.lines)
        if cached.currency:
            from metering.chargeback.allocation import lines_for

            lines += lines_for(project, start, end, cached.currency, Line)
        return Draft(project, start, end, cached.currency, False, lines, dict(cached.rates), dict(cached.counters))
    book = book or kept_rate_book(project, start, end)
    if not showback and not allow_gaps:
        book.require_plans(start, end)
    currency = book.currency or ""
    if currency:
        minor_unit(currency)  # refuses a code we cannot store
    by_account = any(r.account_id for rates in book.rates.values() for r in rates)
    accounts = dict(ProviderAccount.objects.values_list("name", "pk")) if by_account else {}
    merged: dict[tuple, Line] = {}
    counters: dict[tuple, Decimal] = defaultdict(Decimal)
    used: dict[int, RateView] = {}
    for sp in book.periods(start, end):
        if sp.plan is None and not showback:
            continue
        whole = report is not None and (sp.start, sp.end) == (start, end)
        part = report if whole else usage_report(sp.start, sp.end, project=project)
        for row, flavor in _flavor_rows(part.rows, project, sp):
            _price_row(row, flavor, sp, accounts, showback, counters, used, merged)
    lines = sorted(merged.values(), key=lambda x: (x.provider, x.resource_name, x.resource_id or 0, x.measure,
                                                   x.start, x.description))
    lines += fixed_cost_lines(project, start, end, currency, showback, costs=fixed_costs)
    if not showback:
        for line in lines:
            line.amount = line_amount(line.quantity, line.unit_price, currency)
        if direct_key:
            memo.offer(direct_key, Draft(project, start, end, currency, False, list(lines), used, dict(counters)))
        if allocations and currency:  # shared costs (metering.chargeback.allocation), already exact amounts
            from metering.chargeback.allocation import lines_for

            lines += lines_for(project, start, end, currency, Line)
    return Draft(project, start, end, currency, showback, lines, used, dict(counters))


def _price_row(row: ResourceUsage, flavor: str, sp: SubPeriod, accounts, showback, counters, used, merged):
    subject = Subject(row.provider_kind, accounts.get(row.provider), flavor, row.labels or {})
    measures = [m for m in MEASURES if m in sp.by_measure] if sp.plan else SHOWBACK_MEASURES
    for m in measures:
        q = row.measures.get(m, Decimal(0)).quantize(QUANTITY, ROUND_HALF_EVEN)
        if not q:
            continue
        rate = sp.find(m, subject) if sp.plan else None
        if rate is None and sp.plan is not None:
            continue
        if rate is None:
            bands = [(q, None, None)]
        else:
            bands = rate.bands(counters[rate.counter_key], q)
            counters[rate.counter_key] += q
            used[rate.id] = rate
        for qty, price, tier in bands:
            desc = "; ".join(x for x in (f"flavor {flavor}" if flavor else "",
                                         f"tier from {tier}" if tier is not None else "") if x)
            shown = None if showback or price is None else price.quantize(UNIT_PRICE, ROUND_HALF_EVEN)
            key = (row.resource_id, m, shown, desc)
            line = merged.get(key)
            if line is None:
                merged[key] = Line(row.resource_id, row.name, row.kind, row.provider, m, desc, qty, UNITS[m], shown,
                                   None, row.estimated, sp.start, sp.end)
            else:
                line.quantity += qty
                line.estimated = line.estimated or row.estimated
                line.start, line.end = min(line.start, sp.start), max(line.end, sp.end)


def _flavor_rows(rows: list[ResourceUsage], project: Project, sp: SubPeriod):
    """Each report row with the flavor its segments had; a row whose flavor changed is split.

    The split parts take the allocation measures from their own segments; used measures (CPU,
    memory, I/O) are shared in proportion to hours. The last part takes the rounding remainder so
    the parts add up to the report's row exactly.
    """
    flavors: dict[int, set[str]] = defaultdict(set)
    for rid, flavor in (UsageSegment.objects.filter(project=project, start__lt=sp.end, end__gt=sp.start)
                        .exclude(kind=Kind.HOST).order_by().values_list("resource_id", "flavor").distinct()):
        flavors[rid].add(flavor)
    multi = {rid for rid, fs in flavors.items() if len(fs) > 1}
    parts = _flavor_parts(multi, project, sp) if multi else {}
    for row in rows:
        if row.resource_id not in multi:
            fs = flavors.get(row.resource_id)
            yield row, (next(iter(fs)) if fs else row.flavor)
            continue
        yield from _split_row(row, parts[row.resource_id])


def _micros(td: timedelta) -> int:
    return (td.days * 86_400 + td.seconds) * 1_000_000 + td.microseconds


def _flavor_parts(rids, project, sp) -> dict[int, dict[str, dict[str, Decimal]]]:
    parts: dict[int, dict[str, dict[str, Decimal]]] = defaultdict(dict)
    segs = (UsageSegment.objects.filter(resource_id__in=rids, project=project, start__lt=sp.end, end__gt=sp.start)
            .order_by("resource_id", "start")
            .values_list("resource_id", "kind", "flavor", "state", "vcpus", "ram_mb", "disk_gb", "estimated",
                         "start", "end"))
    for rid, kind, flavor, state, vcpus, ram_mb, disk_gb, estimated, start, end in segs:
        hours = Decimal(_micros(min(end, sp.end) - max(start, sp.start))) / US_PER_HOUR
        m = parts[rid].pop(flavor, None) or {k: Decimal(0) for k in ALLOCATION}
        parts[rid][flavor] = m  # re-inserted: dict order = order of each flavor's latest segment
        if kind == Kind.VM:
            m[Measure.INSTANCE_HOURS] += hours
        elif kind == Kind.CONTAINER:
            m[Measure.CONTAINER_HOURS] += hours
        m[Measure.VCPU_HOURS] += (vcpus or 0) * hours
        m[Measure.RAM_GB_HOURS] += Decimal(ram_mb or 0) / 1024 * hours
        m[Measure.DISK_GB_HOURS] += (disk_gb or 0) * hours
        if state == State.RUNNING and kind != Kind.VOLUME:
            m[Measure.RUNNING_HOURS] += hours
        if estimated:
            m[Measure.ESTIMATED_HOURS] += hours
    return parts


def _split_row(row: ResourceUsage, parts: dict[str, dict[str, Decimal]]):
    flavors = list(parts)
    hours = {f: parts[f][Measure.INSTANCE_HOURS] + parts[f][Measure.CONTAINER_HOURS] for f in flavors}
    all_hours = sum(hours.values(), Decimal(0))
    out = {f: {} for f in flavors}
    for m in MEASURES:
        total, given = row.measures.get(m, Decimal(0)).quantize(QUANTITY, ROUND_HALF_EVEN), Decimal(0)
        for i, f in enumerate(flavors):
            if i == len(flavors) - 1:
                out[f][m] = total - given
                break
            if m in parts[f]:
                q = parts[f][m]
            else:
                q = total * hours[f] / all_hours if all_hours else Decimal(0)
            out[f][m] = q.quantize(QUANTITY, ROUND_HALF_EVEN)
            given += out[f][m]
    for f in flavors:
        part = ResourceUsage(**{**row.__dict__, "measures": out[f], "flavor": f})
        yield part, f


def month_spans(start: datetime, end: datetime):
    """``(lo, hi, days_in_month, 'YYYY-MM')`` for each UTC calendar month overlapping [start, end)."""
    cur = datetime(start.year, start.month, 1, tzinfo=UTC)
    while cur < end:
        nxt = datetime(cur.year + (cur.month == 12), cur.month % 12 + 1, 1, tzinfo=UTC)
        lo, hi = max(cur, start), min(nxt, end)
        if lo < hi:
            yield lo, hi, (nxt - cur).days, f"{cur:%Y-%m}"
        cur = nxt


def fixed_cost_lines(project: Project, start: datetime, end: datetime, currency: str, showback: bool,
                     costs=None) -> list[Line]:
    """Each fixed cost prorated by days, one line per cost and calendar month. ``costs``: the
    project's fixed costs already read (a superset of those overlapping the period, in order)."""
    lines = []
    if costs is None:
        costs = (FixedCost.objects.filter(project=project, effective_from__lt=end)
                 .exclude(effective_to__lte=start).order_by("name", "effective_from", "pk"))
    for fc in costs:
        if fc.effective_from >= end or (fc.effective_to is not None and fc.effective_to <= start):
            continue
        lo = max(start, fc.effective_from)
        hi = min(end, fc.effective_to) if fc.effective_to else end
        for a, b, days_in_month, month in month_spans(lo, hi):
            days = (Decimal(_micros(b - a)) / US_PER_DAY).quantize(QUANTITY, ROUND_HALF_EVEN)
            price = (fc.monthly_amount / days_in_month).quantize(UNIT_PRICE, ROUND_HALF_EVEN)
            desc = f"{fc.monthly_amount}{' ' + currency if currency else ''} per month, {days_in_month} days in {month}"
            lines.append(Line(None, fc.name, "fixed", "", FIXED_COST, desc, days, "day",
                              None if showback else price, None, False, a, b))
    return lines
