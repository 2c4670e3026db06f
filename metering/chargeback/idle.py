"""Idle host capacity: each pool's idle cost, spread by an allocation rule or left idle.

A pool (``onprem.vm_uses``) is a host with a ``HostCost`` or an account with one. Over a period,
to the cent: **cost = covered + distributed + left idle**, where covered is the sum of each
project's VMs' cost there at the pool's internal prices (rounded per project), and the idle rest
is spread by the pool's rule or stays idle. ``over`` is what VMs cover beyond the cost (CPU
overcommit); such a pool has no idle.

**Which rule.** Enabled rules with ``spreads = idle``, by name: the first that names the host;
else the first that names no host (it covers every pool, account pools included). No rule: the
whole idle cost is left idle, a line of its own on the chargeback overview.

**Targets** are the rule's projects, or the projects whose VMs used the pool in the period; only
those billed in the pool's currency (a rate plan in that currency for the whole period, not
showback) can receive a share. **Weights**, the methods of shared costs applied to the pool:
evenly; by cost = each target's covered cost in the pool (exact, before rounding); by a measure =
its VMs' vCPU-, RAM GiB-, instance- or disk GiB-hours in the pool; by fixed weights per slug. A
target with no weight gets nothing; when none has any, everything is left idle. The split is exact
in minor units (``money.split_exactly``). Each target's statement gets a line "allocated from idle
capacity of host kvm-01 by vCPU-hours".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from metering.chargeback import memo
from metering.chargeback.money import split_exactly
from metering.chargeback.onprem import Pool, covered_by_project, idle_of, vm_uses
from metering.chargeback.rates import NoRatePlan, kept_rate_book
from metering.choices import BillingMode
from metering.models import AllocationRule, Project
from metering.models.allocation import ALLOCATION_MEASURES, AllocationMethod, AllocationSource


def describe(rule: AllocationRule) -> str:
    """How a rule weighs its targets, as statement lines say it."""
    if rule.method == AllocationMethod.MEASURE:
        return f"by {ALLOCATION_MEASURES.get(rule.measure, rule.measure)}"
    return {"even": "evenly", "cost": "by cost", "weights": "by fixed weights"}[rule.method]


@dataclass
class PoolIdle:
    pool: Pool
    currency: str
    cost: Decimal
    covered: Decimal
    idle: Decimal
    rule: AllocationRule | None = None
    shares: dict[int, Decimal] = field(default_factory=dict)  # project id -> amount

    @property
    def label(self) -> str:
        return self.pool.label

    @property
    def distributed(self) -> Decimal:
        return sum(self.shares.values(), Decimal(0))

    @property
    def left(self) -> Decimal:
        return self.idle - self.distributed

    @property
    def over(self) -> Decimal:
        return max(Decimal(0), self.covered - self.cost)

    def description(self) -> str:
        return f"allocated from idle capacity of {self.pool.label} {describe(self.rule)}" if self.rule else ""


def _rule_for(pool: Pool, rules: list[AllocationRule]) -> AllocationRule | None:
    if pool.host_id is not None:
        named = next((r for r in rules if pool.host_id in r.host_ids), None)
        if named is not None:
            return named
    return next((r for r in rules if not r.host_ids), None)


def _billed_in(project: Project, currency: str, start: datetime, end: datetime, seen: dict) -> bool:
    if project.pk not in seen:
        ok = project.billing_mode != BillingMode.SHOWBACK
        if ok:
            try:
                book = kept_rate_book(project, start, end)
                book.require_plans(start, end)
                ok = book.currency == currency
            except (NoRatePlan, ValueError):
                ok = False
        seen[project.pk] = ok
    return seen[project.pk]


def _weights(rule: AllocationRule, pool: Pool, targets: list[Project]) -> dict[int, Decimal]:
    if rule.method == AllocationMethod.EVEN:
        return {p.pk: Decimal(1) for p in targets}
    if rule.method == AllocationMethod.COST:
        return {p.pk: pool.covered.get(p.pk, Decimal(0)) for p in targets}
    if rule.method == AllocationMethod.MEASURE:
        return {p.pk: pool.measures[p.pk][rule.measure] if p.pk in pool.measures else Decimal(0) for p in targets}
    return {p.pk: Decimal(str(rule.weights.get(p.slug, 0))) for p in targets}


def idle_capacity(start: datetime, end: datetime) -> list[PoolIdle]:
    """Every pool's cost, covered cost and idle cost over [start, end), and who receives its idle.

    Memoized per request (``memo``): every statement of a page reads the same answer.
    """
    return memo.remember(("idle", start, end), lambda: _idle_capacity(start, end))


def _idle_capacity(start: datetime, end: datetime) -> list[PoolIdle]:
    rules = list(AllocationRule.objects.filter(enabled=True, spreads=AllocationSource.IDLE)
                 .prefetch_related("targets", "hosts").order_by("name"))
    for r in rules:
        r.host_ids = {h.pk for h in r.hosts.all()}
    pools, _ = vm_uses(start, end, pooled_only=True)
    users = {pid for pool in pools for pid in pool.covered if pid is not None}
    projects = {p.pk: p for p in Project.objects.filter(pk__in=users)}
    seen: dict[int, bool] = {}
    out = []
    for pool in pools:
        currency = pool.model.currency
        cost, covered, idle = idle_of(pool)
        row = PoolIdle(pool, currency, cost, covered, idle, _rule_for(pool, rules))
        if row.rule is not None and idle > 0:
            chosen = list(row.rule.targets.all()) or sorted(
                (projects[pid] for pid in covered_by_project(pool) if pid in projects), key=lambda p: p.slug)
            targets = [p for p in chosen if _billed_in(p, currency, start, end, seen)]
            row.shares = split_exactly(idle, _weights(row.rule, pool, targets), currency)
        out.append(row)
    return out


def lines_for(project: Project, start: datetime, end: datetime, currency: str, line_class) -> list:
    """The statement lines of ``project``'s shares of idle capacity (one per pool)."""
    from metering.chargeback.allocation import ALLOCATED

    out = []
    for row in idle_capacity(start, end):
        amount = row.shares.get(project.pk)
        if amount is None or row.currency != currency:
            continue
        out.append(line_class(None, row.rule.name, "", "", ALLOCATED, row.description()[:255], amount,
                              currency[:20], Decimal(1), amount, False, start, end))
    return out
