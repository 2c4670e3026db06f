"""Shared costs: a shared project's whole cost spread over other projects by a rule.

An ``AllocationRule`` names a source project (platform, monitoring) and a method:

* **even**: every target the same share;
* **cost**: in proportion to each target's own (direct) cost in the period;
* **measure**: in proportion to each target's quantity of one measure (vCPU-hours, RAM GB-hours...);
* **weights**: by fixed weights per project slug.

Rules with ``spreads = idle`` spread hosts' idle capacity instead (``metering.chargeback.idle``).

Targets are the rule's projects, or every other project whose statement has the source's currency.
The source's direct total (its statement without allocations) is split **exactly** in minor units
by the largest-remainder method (ties by project id), so the shares add up to the total to the cent.

Each target's statement gets a line "allocated from SOURCE by METHOD" and the source's statement a
line "allocated to N projects" with the negative total: a project's direct cost and its share are
both visible, every statement still adds up exactly, and the sum over all projects is unchanged.
Lines are quantity (the amount, in the currency) x 1. A target with nothing to weigh it by (no
usage of the measure, no cost) gets nothing; when no target has any, nothing is allocated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Q

from metering.chargeback import idle, memo
from metering.chargeback.money import split_exactly
from metering.chargeback.rates import NoRatePlan
from metering.models import AllocationRule, Project
from metering.models.allocation import AllocationMethod
from metering.reports import usage_report

ALLOCATED = "allocated"


@dataclass(frozen=True)
class Share:
    rule: AllocationRule
    source: Project
    currency: str
    total: Decimal
    shares: dict[int, Decimal]  # target project id -> amount

    def describe(self) -> str:
        return idle.describe(self.rule)


def _direct(project: Project, start: datetime, end: datetime):
    return memo.remember(("direct", project.pk, start, end), lambda: _build_direct(project, start, end))


def _build_direct(project: Project, start: datetime, end: datetime):
    from metering.chargeback.engine import build_statement

    try:
        return build_statement(project, start, end, showback=False, allocations=False)
    except NoRatePlan:
        return None


def compute(rule: AllocationRule, start: datetime, end: datetime) -> Share | None:
    """The rule's shares over [start, end), or None when the source has nothing to spread.

    Memoized per request (``memo``) by rule and period: a page of N statements computes each rule
    once, not once per statement (and each rule's N direct statements once, not N times).
    """
    return memo.remember(("rule", rule.pk, start, end), lambda: _compute(rule, start, end))


def _compute(rule: AllocationRule, start: datetime, end: datetime) -> Share | None:
    source = _direct(rule.source, start, end)
    if source is None or not source.currency or not source.total:
        return None
    chosen = list(rule.targets.all()) or list(Project.objects.exclude(pk=rule.source_id).order_by("slug"))
    drafts = {p.pk: (p, _direct(p, start, end)) for p in chosen if p.pk != rule.source_id}
    targets = {pk: (p, d) for pk, (p, d) in drafts.items() if d is not None and d.currency == source.currency}
    if rule.method == AllocationMethod.EVEN:
        weights = {pk: 1 for pk in targets}
    elif rule.method == AllocationMethod.COST:
        weights = {pk: d.total for pk, (_, d) in targets.items() if d.total and d.total > 0}
    elif rule.method == AllocationMethod.MEASURE:
        weights = {pk: usage_report(start, end, project=p).totals.get(rule.measure, Decimal(0))
                   for pk, (p, _) in targets.items()}
        weights = {pk: w for pk, w in weights.items() if w > 0}
    else:
        weights = {pk: rule.weights.get(p.slug, 0) for pk, (p, _) in targets.items()}
        weights = {pk: w for pk, w in weights.items() if w}
    shares = split_exactly(source.total, weights, source.currency)
    if not shares:
        return None
    return Share(rule, rule.source, source.currency, source.total, shares)


def lines_for(project: Project, start: datetime, end: datetime, currency: str, line_class) -> list:
    """The allocation lines of ``project``'s statement: received shares of shared projects' costs and
    of idle capacity (``metering.chargeback.idle``) and, for a source, the credit."""
    rules = (AllocationRule.objects.filter(enabled=True)
             .filter(Q(source=project) | Q(targets=project) | Q(targets__isnull=True))
             .select_related("source").distinct())  # one query; none when no rule concerns the project
    out = []
    spreads_idle = False
    for rule in rules:
        if rule.is_idle:
            spreads_idle = True
            continue
        share = compute(rule, start, end)
        if share is None or share.currency != currency:
            continue
        if rule.source_id == project.pk:
            amount = -sum(share.shares.values(), Decimal(0))
            desc = f"allocated to {len(share.shares)} project{'s' if len(share.shares) != 1 else ''} {share.describe()}"
        elif project.pk in share.shares:
            amount = share.shares[project.pk]
            desc = f"allocated from {share.source.slug} {share.describe()}"
        else:
            continue
        out.append(line_class(None, f"{rule.name}", "", "", ALLOCATED, desc[:255], amount, currency[:20],
                              Decimal(1), amount, False, start, end))
    if spreads_idle:
        out += idle.lines_for(project, start, end, currency, line_class)
    return out
