"""Finding the rate that prices one measure of one resource at one time.

A project's plan at an instant is its ``ProjectRatePlan`` with the latest ``effective_from`` that
covers the instant, else the site default plan (``RatePlan.is_default``). A plan's rates carry
their own effective dates. ``RateBook.periods()`` cuts a statement period at every instant where
the plan or one of its rates changes, so that inside each sub-period the set of rates is constant
and the usage report can be called once per sub-period.

**Precedence (most specific rate wins).** Among the plan's rates for the measure that are in
effect and whose filters all match the resource (an empty filter matches everything):

1. the rate with more filters set wins (account, provider kind, flavor, label each count one);
2. on a tie, the first filter that one has and the other has not decides, in this order:
   account, flavor, label, provider kind;
3. then the rate that took effect later; then the newer row (higher id).

**Tiers** (``Rate.tiers``: ``[{"from": "0", "unit_price": "0.05"}, {"from": "1000", "unit_price":
"0.04"}]``) are graduated, like tax brackets: the quantity of the measure accumulated in the
statement period, in line order, is priced band by band; a line that crosses a boundary is split
into one line per band. Quantity below the first tier's ``from`` is priced at ``unit_price``.
Tiers count per plan, measure and filter set, so a price change mid-period (a new row with the
same filters) keeps counting where the old row stopped.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from itertools import pairwise

from django.db.models import Q

from metering.models import Project, ProjectRatePlan, Rate, RatePlan


class NoRatePlan(LookupError):
    """The project has no plan at some instant of the period and there is no site default plan."""


@dataclass(frozen=True)
class Tier:
    start: Decimal
    unit_price: Decimal


@dataclass(frozen=True)
class Subject:
    """What a rate's filters look at: the resource's provider, flavor and labels."""

    provider_kind: str = ""
    account_id: int | None = None
    flavor: str = ""
    labels: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class RateView:
    id: int
    plan_id: int
    measure: str
    unit_price: Decimal
    effective_from: datetime
    effective_to: datetime | None
    provider_kind: str = ""
    account_id: int | None = None
    flavor: str = ""
    label_key: str = ""
    label_value: str = ""
    tiers: tuple[Tier, ...] = ()

    @classmethod
    def from_model(cls, rate: Rate) -> RateView:
        return cls(rate.pk, rate.plan_id, rate.measure, Decimal(rate.unit_price), rate.effective_from,
                   rate.effective_to, rate.provider_kind, rate.account_id, rate.flavor, rate.label_key,
                   rate.label_value, parse_tiers(rate.tiers, rate.pk))

    def active_at(self, at: datetime) -> bool:
        return self.effective_from <= at and (self.effective_to is None or self.effective_to > at)

    def matches(self, s: Subject) -> bool:
        return ((not self.account_id or self.account_id == s.account_id)
                and (not self.provider_kind or self.provider_kind == s.provider_kind)
                and (not self.flavor or self.flavor == s.flavor)
                and (not self.label_key or s.labels.get(self.label_key) == self.label_value))

    @property
    def specificity(self) -> tuple:
        has = (bool(self.account_id), bool(self.flavor), bool(self.label_key), bool(self.provider_kind))
        return (sum(has), *has, self.effective_from, self.id)

    @property
    def counter_key(self) -> tuple:
        """Where the tier counter of this rate accumulates (same plan, measure and filters)."""
        return (self.plan_id, self.measure, self.provider_kind, self.account_id, self.flavor, self.label_key,
                self.label_value)

    def bands(self, prior: Decimal, quantity: Decimal) -> list[tuple[Decimal, Decimal, Decimal | None]]:
        """``quantity`` on top of ``prior`` split into ``(quantity, unit_price, tier_from)`` by tier."""
        if not self.tiers:
            return [(quantity, self.unit_price, None)]
        edges = [(Decimal(0), self.unit_price, None)] + [(t.start, t.unit_price, t.start) for t in self.tiers]
        lo, hi = prior, prior + quantity
        out = []
        for i, (start, price, label) in enumerate(edges):
            end = edges[i + 1][0] if i + 1 < len(edges) else None
            a, b = max(lo, start), hi if end is None else min(hi, end)
            if b > a:
                out.append((b - a, price, label))
        return out

    def price_at(self, cumulative: Decimal) -> Decimal:
        price = self.unit_price
        for t in self.tiers:
            if cumulative >= t.start:
                price = t.unit_price
        return price

    def snapshot(self) -> dict:
        """The rate as JSON, frozen into an issued statement's ``rates_snapshot``."""
        return {
            "id": self.id, "plan_id": self.plan_id, "measure": self.measure, "unit_price": str(self.unit_price),
            "effective_from": self.effective_from.isoformat(),
            "effective_to": self.effective_to.isoformat() if self.effective_to else None,
            "provider_kind": self.provider_kind, "account_id": self.account_id, "flavor": self.flavor,
            "label_key": self.label_key, "label_value": self.label_value,
            "tiers": [{"from": str(t.start), "unit_price": str(t.unit_price)} for t in self.tiers],
        }


def parse_tiers(raw, rate_id=None) -> tuple[Tier, ...]:
    """``Rate.tiers`` JSON -> sorted ``Tier`` tuple; bad input names the rate and the field."""
    where = f"rate {rate_id} tiers" if rate_id else "tiers"
    if not raw:
        return ()
    if not isinstance(raw, list):
        raise ValueError(f"{where}: expected a list of {{'from': ..., 'unit_price': ...}}")
    tiers = []
    for i, item in enumerate(raw):
        try:
            tiers.append(Tier(Decimal(str(item["from"])), Decimal(str(item["unit_price"]))))
        except (KeyError, TypeError, InvalidOperation):
            raise ValueError(f"{where}[{i}]: expected 'from' and 'unit_price' as decimal numbers") from None
        if tiers[-1].start < 0 or tiers[-1].unit_price < 0:
            raise ValueError(f"{where}[{i}]: 'from' and 'unit_price' must not be negative")
    tiers.sort(key=lambda t: t.start)
    if len({t.start for t in tiers}) != len(tiers):
        raise ValueError(f"{where}: two tiers start at the same quantity")
    return tuple(tiers)


@dataclass
class SubPeriod:
    """A stretch of the statement period in which the plan and its rates do not change."""

    start: datetime
    end: datetime
    plan: RatePlan | None
    by_measure: dict[str, list[RateView]]  # most specific first

    def find(self, measure: str, subject: Subject) -> RateView | None:
        for rate in self.by_measure.get(measure, ()):
            if rate.matches(subject):
                return rate
        return None

    @property
    def measures(self) -> set[str]:
        return set(self.by_measure)


@dataclass
class RateBook:
    """The plans and rates of one project over one period, loaded in two queries."""

    project: Project
    start: datetime
    end: datetime
    spans: list[tuple[datetime, datetime, RatePlan | None]]
    rates: dict[int, list[RateView]]  # by plan id

    @property
    def currency(self) -> str | None:
        codes = {plan.currency.upper() for _, _, plan in self.spans if plan is not None}
        if len(codes) > 1:
            raise ValueError(f"project {self.project.slug}: its plans in the period use different currencies "
                             f"({', '.join(sorted(codes))}); a statement has one currency")
        return codes.pop() if codes else None

    def require_plans(self, start: datetime | None = None, end: datetime | None = None) -> None:
        start, end = start or self.start, end or self.end
        for lo, hi, plan in self.spans:
            if plan is None and lo < end and hi > start:
                lo = max(lo, start)
                raise NoRatePlan(f"project {self.project.slug!r} has no rate plan on {lo:%Y-%m-%d %H:%M} and "
                                 "there is no site default plan")

    def periods(self, start: datetime | None = None, end: datetime | None = None) -> list[SubPeriod]:
        """Sub-periods of [start, end) (default: the book's period) cut at every plan or rate change."""
        start, end = start or self.start, end or self.end
        out = []
        for lo, hi, plan in self.spans:
            lo, hi = max(lo, start), min(hi, end)
            if lo >= hi:
                continue
            rates = self.rates.get(plan.pk, []) if plan else []
            cuts = {lo, hi}
            for r in rates:
                cuts.update(t for t in (r.effective_from, r.effective_to) if t is not None and lo < t < hi)
            for a, b in pairwise(sorted(cuts)):
                by_measure = defaultdict(list)
                for r in rates:
                    if r.active_at(a):
                        by_measure[r.measure].append(r)
                for lst in by_measure.values():
                    lst.sort(key=lambda r: r.specificity, reverse=True)
                out.append(SubPeriod(a, b, plan, dict(by_measure)))
        return out


def _overlapping(qs, start, end):
    return qs.filter(effective_from__lt=end).filter(Q(effective_to__isnull=True) | Q(effective_to__gt=start))


def rate_book(project: Project, start: datetime, end: datetime) -> RateBook:
    """The plans that apply to ``project`` over [start, end) and all their rates in effect then."""
    assignments = list(_overlapping(ProjectRatePlan.objects.filter(project=project), start, end)
                       .select_related("plan"))
    default = RatePlan.objects.filter(is_default=True).first()
    cuts = {start, end}
    for a in assignments:
        cuts.update(t for t in (a.effective_from, a.effective_to) if t is not None and start < t < end)
    spans: list[tuple[datetime, datetime, RatePlan | None]] = []
    for lo, hi in pairwise(sorted(cuts)):
        covering = [a for a in assignments if a.effective_from <= lo and (a.effective_to is None or a.effective_to > lo)]
        plan = max(covering, key=lambda a: (a.effective_from, a.pk)).plan if covering else default
        if spans and spans[-1][2] == plan:
            spans[-1] = (spans[-1][0], hi, plan)
        else:
            spans.append((lo, hi, plan))
    plan_ids = {plan.pk for _, _, plan in spans if plan is not None}
    rates: dict[int, list[RateView]] = defaultdict(list)
    for rate in _overlapping(Rate.objects.filter(plan_id__in=plan_ids), start, end):
        rates[rate.plan_id].append(RateView.from_model(rate))
    return RateBook(project, start, end, spans, dict(rates))


def kept_rate_book(project: Project, start: datetime, end: datetime) -> RateBook:
    """``rate_book``, read once per request inside ``metering.chargeback.memo``'s scope (a page of
    every project's statement with allocation rules asks for each book several times)."""
    from metering.chargeback import memo

    return memo.remember(("book", project.pk, start, end), lambda: rate_book(project, start, end))
