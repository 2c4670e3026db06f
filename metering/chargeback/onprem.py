"""The on-premises cost model: what a vCPU-hour and a RAM GiB-hour cost on our own hypervisors,
and what the same allocations would cost on a public cloud.

**Monthly cost of a host** (``HostCost``) = hardware (amortised purchase, support, rack) +
energy, where energy = power draw (W) / 1000 x 730 h x electricity price per kWh x PUE (the
facility's overhead for cooling and power distribution). A month is 730 hours (8760 / 12) here,
because the derived prices are per hour and must not change with the length of a month.

**Split rule.** ``cpu_share`` of the monthly cost is carried by the vCPUs, the rest by the RAM,
each spread over the host's whole capacity (the ``HostCost`` overrides, else the host's own vCPUs
and RAM; for an account-level cost, the sum over its live hosts):

    vCPU-hour = monthly x cpu_share / (vCPUs x 730)
    RAM GiB-hour = monthly x (1 - cpu_share) / (RAM GiB x 730)

A host full of VMs therefore recovers exactly its cost. Rates are per provider account (a rate
cannot filter by host): ``account_model`` pools the account's costs and capacities (an
account-level ``HostCost`` wins over its hosts' own), and ``apply_to_plan`` writes the two rates
into a plan from a date on, closing the previous ones so issued statements keep their prices.

**Idle cost** is the part of a pool's cost over a period that no VM's allocation covers. A pool
is a capacity with a cost of its own: a host with a ``HostCost``, or an account with one (its VMs
on hosts without a cost). Per pool, rounded to the minor unit: cost = covered + idle, where
covered is the sum of each project's rounded covered cost and idle is never negative (``idle_of``).
A VM on a host without a cost in an account without one is still priced at the account's pooled
prices, but covers no pool (its hosts' costs are already pools of their own).
``compare(..., share_idle=True)`` shares each pool's idle cost among the projects that use it, in
proportion to their covered cost there; ``metering.chargeback.idle`` spreads it by allocation rules.

**Public cloud** prices come from an editable ``PriceSheet``: each VM segment is priced at the
cheapest size with at least its vCPUs and RAM, per hour. Hours of VMs that no size fits are
counted apart (``unfit_hours``). No currency conversion is made: each figure keeps its currency.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from django.db import connection

from metering.chargeback.engine import US_PER_HOUR, _micros
from metering.chargeback.money import UNIT_PRICE, round_money
from metering.choices import Measure
from metering.daily import _adapt, clip_sql
from metering.models import HostCost, PriceSheet, Project, Rate, RatePlan, Resource, UsageSegment
from providers.base import Kind
from providers.models import ProviderAccount

HOURS_PER_MONTH = Decimal(730)


@dataclass(frozen=True)
class CostModel:
    name: str
    currency: str
    monthly_cost: Decimal
    vcpus: Decimal
    ram_gb: Decimal
    cpu_share: Decimal

    @property
    def vcpu_hour(self) -> Decimal:
        if not self.vcpus:
            return Decimal(0)
        return (self.monthly_cost * self.cpu_share / (self.vcpus * HOURS_PER_MONTH)).quantize(UNIT_PRICE,
                                                                                               ROUND_HALF_EVEN)

    @property
    def ram_gb_hour(self) -> Decimal:
        if not self.ram_gb:
            return Decimal(0)
        return (self.monthly_cost * (1 - self.cpu_share) / (self.ram_gb * HOURS_PER_MONTH)).quantize(
            UNIT_PRICE, ROUND_HALF_EVEN)

    def period_cost(self, hours: Decimal) -> Decimal:
        return self.monthly_cost * hours / HOURS_PER_MONTH


def monthly_cost(cost: HostCost) -> Decimal:
    energy = cost.power_watts / 1000 * HOURS_PER_MONTH * cost.electricity_price_kwh * cost.pue
    return cost.monthly_hardware_cost + energy


def model_of(cost: HostCost) -> CostModel:
    """A ``HostCost`` with its capacity resolved; a capacity of zero makes its prices zero."""
    if cost.host_id:
        vcpus = cost.vcpus if cost.vcpus is not None else (cost.host.vcpus or 0)
        ram_mb = cost.ram_mb if cost.ram_mb is not None else (cost.host.ram_mb or 0)
        name = cost.host.name
    else:
        hosts = Resource.objects.live().filter(account_id=cost.account_id, kind=Kind.HOST)
        vcpus = cost.vcpus if cost.vcpus is not None else sum((h.vcpus or 0 for h in hosts), Decimal(0))
        ram_mb = cost.ram_mb if cost.ram_mb is not None else sum(h.ram_mb or 0 for h in hosts)
        name = cost.account.name
    return CostModel(name, cost.currency, monthly_cost(cost), Decimal(vcpus), Decimal(ram_mb) / 1024,
                     Decimal(cost.cpu_share))


def account_model(account: ProviderAccount) -> CostModel | None:
    """The account's pooled model: its own ``HostCost``, else the sum of its hosts' costs."""
    own = HostCost.objects.filter(account=account).first()
    if own is not None:
        return model_of(own)
    models = [model_of(c) for c in HostCost.objects.filter(host__account=account).select_related("host")]
    if not models:
        return None
    if len({m.currency for m in models}) > 1:
        raise ValueError(f"account {account.name}: its hosts' costs use different currencies")
    total = sum((m.monthly_cost for m in models), Decimal(0))
    share = sum((m.monthly_cost * m.cpu_share for m in models), Decimal(0)) / total if total else Decimal("0.5")
    return CostModel(account.name, models[0].currency, total, sum((m.vcpus for m in models), Decimal(0)),
                     sum((m.ram_gb for m in models), Decimal(0)), share)


def apply_to_plan(plan: RatePlan, account: ProviderAccount, effective_from: datetime,
                  model: CostModel | None = None) -> list[Rate]:
    """Write the account's internal vCPU-hour and RAM GiB-hour prices into ``plan`` from a date on.

    Rates of the plan for the same measure and account (and no other filter) still open at
    ``effective_from`` are closed there; one starting exactly then is updated in place.
    """
    model = model or account_model(account)
    if model is None:
        raise ValueError(f"account {account.name}: no host cost recorded")
    if model.currency.upper() != plan.currency.upper():
        raise ValueError(f"plan {plan.name} is in {plan.currency}, the cost model of {account.name} in "
                         f"{model.currency}")
    out = []
    for measure, price in ((Measure.VCPU_HOURS, model.vcpu_hour), (Measure.RAM_GB_HOURS, model.ram_gb_hour)):
        same = Rate.objects.filter(plan=plan, measure=measure, account=account, provider_kind="", flavor="",
                                   label_key="")
        rate = same.filter(effective_from=effective_from).first()
        if rate is not None:
            rate.unit_price = price
            rate.save(update_fields=["unit_price"])
        else:
            same.filter(effective_from__lt=effective_from, effective_to__isnull=True).update(effective_to=effective_from)
            rate = Rate.objects.create(plan=plan, measure=measure, account=account, unit_price=price,
                                       effective_from=effective_from)
        out.append(rate)
    return out


@dataclass
class ProjectCost:
    project: str | None
    internal: Decimal = Decimal(0)
    idle_share: Decimal = Decimal(0)
    public: Decimal = Decimal(0)
    unfit_hours: Decimal = Decimal(0)

    @property
    def internal_with_idle(self) -> Decimal:
        return self.internal + self.idle_share


@dataclass
class HostIdle:
    name: str
    period_cost: Decimal
    allocated: Decimal
    idle: Decimal


@dataclass
class Comparison:
    start: datetime
    end: datetime
    currency: str
    public_currency: str
    projects: list[ProjectCost] = field(default_factory=list)
    hosts: list[HostIdle] = field(default_factory=list)


@dataclass
class Pool:
    """A capacity with a cost of its own (a host's ``HostCost``, or an account's) over a period.

    ``covered`` is each project's VMs' cost at the pool's internal prices, ``measures`` their
    allocation measures there; both exact (unrounded). A VM counts in its host's pool when the host
    has a cost, else in its account's pool when the account has a cost of its own, else in none.
    """

    key: str
    label: str  # "host kvm-01" or "account lab"
    host_id: int | None
    model: CostModel
    period_cost: Decimal
    covered: dict[int | None, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    measures: dict[int | None, dict[str, Decimal]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(Decimal)))


@dataclass(frozen=True)
class VMUse:
    project_id: int | None
    hours: Decimal
    vcpus: Decimal
    ram_mb: int
    disk_gb: Decimal
    pool: Pool | None  # the capacity it runs on, when that has a cost of its own
    model: CostModel | None  # the internal prices it is charged at (its pool's, else its account's pooled ones)

    @property
    def internal(self) -> Decimal:
        if self.model is None:
            return Decimal(0)
        return self.hours * (self.vcpus * self.model.vcpu_hour + Decimal(self.ram_mb) / 1024 * self.model.ram_gb_hour)


def vm_uses(start: datetime, end: datetime, *, pooled_only: bool = False) -> tuple[list[Pool], list[VMUse]]:
    """Every capacity with a cost and the VMs' time over [start, end), priced internally.

    One ``VMUse`` per pool (or account), project and size, not per segment: the database sums each
    group's whole microseconds (exact on every database) and the hours are divided once, so the
    rows read do not grow with the segments. ``pooled_only`` (idle capacity) reads only the VMs a
    pool covers (on a host with a cost, or in an account with one); the comparison also needs the
    others, for their public-cloud price."""
    period_hours = Decimal(_micros(end - start)) / US_PER_HOUR
    pools: dict[str, Pool] = {}
    for c in HostCost.objects.select_related("host", "account"):
        model = model_of(c)
        if c.host_id:
            key, label = f"host:{c.host_id}", f"host {c.host.name}"
        else:
            key, label = f"account:{c.account_id}", f"account {c.account.name}"
        pools[key] = Pool(key, label, c.host_id, model, model.period_cost(period_hours))
    host_ids = sorted(p.host_id for p in pools.values() if p.host_id is not None)
    account_ids = sorted(int(k.split(":")[1]) for k in pools if k.startswith("account:"))
    if pooled_only and not pools:
        return [], []
    pooled: dict[int, CostModel | None] = {}  # accounts without a cost of their own: their hosts' pooled prices
    uses = []
    for host, account_id, pid, vcpus, ram_mb, disk_gb, us in _vm_groups(start, end, host_ids, account_ids,
                                                                           pooled_only):
        hours = Decimal(int(us or 0)) / US_PER_HOUR
        pool = pools.get(f"host:{host}") if host is not None else pools.get(f"account:{account_id}")
        if pool is not None:
            model = pool.model
        else:
            if account_id not in pooled:
                pooled[account_id] = account_model(ProviderAccount.objects.get(pk=account_id))
            model = pooled[account_id]
        use = VMUse(pid, hours, _dec(vcpus), int(ram_mb or 0), _dec(disk_gb), pool, model)
        uses.append(use)
        if pool is not None:
            pool.covered[pid] += use.internal
            m = pool.measures[pid]
            m[Measure.INSTANCE_HOURS] += hours
            m[Measure.VCPU_HOURS] += use.vcpus * hours
            m[Measure.RAM_GB_HOURS] += Decimal(use.ram_mb) / 1024 * hours
            m[Measure.DISK_GB_HOURS] += use.disk_gb * hours
    return sorted(pools.values(), key=lambda p: (p.label, p.key)), uses


def _dec(v) -> Decimal:
    """A size column as read (PostgreSQL: Decimal; SQLite: int or float, written from a decimal)."""
    if not v:
        return Decimal(0)
    return v if isinstance(v, Decimal) else Decimal(str(v))


def _vm_groups(start: datetime, end: datetime, host_ids: list[int], account_ids: list[int],
               pooled_only: bool) -> list[tuple]:
    """VM segments' whole microseconds inside [start, end), summed per group ``(host with a cost
    or None, account, project, vCPUs, RAM MB, disk GB)``. With ``pooled_only``, only the VMs on
    ``host_ids`` or in ``account_ids``."""
    params: dict = {"start": start, "end": end, "vm": Kind.VM}
    params.update({f"h{i}": h for i, h in enumerate(host_ids)})
    params.update({f"a{i}": a for i, a in enumerate(account_ids)})
    on_host = "r.parent_id IN (" + ", ".join(f"%(h{i})s" for i in range(len(host_ids))) + ")" if host_ids else ""
    in_account = ("s.account_id IN (" + ", ".join(f"%(a{i})s" for i in range(len(account_ids))) + ")"
                  if account_ids else "")
    host = f"CASE WHEN {on_host} THEN r.parent_id ELSE NULL END" if on_host else "NULL"
    where = ["s.kind = %(vm)s", "s.start < %(end)s", 's."end" > %(start)s']
    if pooled_only:
        where.append("(" + " OR ".join(x for x in (on_host, in_account) if x) + ")")
    cols = "s.account_id, s.project_id, s.vcpus, s.ram_mb, s.disk_gb"
    sql = (f"SELECT {host} AS host, {cols}, SUM({clip_sql('start', 'end')}) AS us "
           f"FROM {UsageSegment._meta.db_table} s LEFT JOIN {Resource._meta.db_table} r ON r.id = s.resource_id "
           f"WHERE {' AND '.join(where)} GROUP BY {host}, {cols}")
    with connection.cursor() as cursor:
        cursor.execute(sql, _adapt(params))
        return cursor.fetchall()


def covered_by_project(pool: Pool) -> dict[int | None, Decimal]:
    """Each project's covered cost in the pool, rounded to the minor unit (the amounts shown)."""
    return {pid: round_money(v, pool.model.currency) for pid, v in pool.covered.items()}


def idle_of(pool: Pool) -> tuple[Decimal, Decimal, Decimal]:
    """``(period cost, covered, idle)`` rounded so that cost = covered + idle to the cent (idle is
    never negative: a pool covered beyond its capacity, by overcommit, has no idle)."""
    cost = round_money(pool.period_cost, pool.model.currency)
    covered = sum(covered_by_project(pool).values(), Decimal(0))
    return cost, covered, max(Decimal(0), cost - covered)


def cheapest(entries, vcpus, ram_mb):
    """The cheapest sheet entry with at least ``vcpus`` and ``ram_mb`` (entries sorted by price)."""
    for e in entries:
        if e.vcpus >= (vcpus or 0) and e.ram_mb >= (ram_mb or 0):
            return e
    return None


def compare(start: datetime, end: datetime, sheet: PriceSheet, *, share_idle: bool = False) -> Comparison:
    """Each project's VMs over [start, end): internal cost, share of idle cost, public-cloud price.

    With ``share_idle`` each pool's idle cost is split exactly (largest remainder) among the
    projects that used it, in proportion to their covered cost there (exact, before rounding).
    """
    from metering.chargeback.money import split_exactly

    pools, uses = vm_uses(start, end)
    entries = list(sheet.entries.order_by("hourly_price", "vcpus", "ram_mb"))
    slugs = dict(Project.objects.values_list("pk", "slug"))
    projects: dict[int | None, ProjectCost] = {}
    internal: dict[int | None, Decimal] = defaultdict(Decimal)
    for use in uses:
        pc = projects.setdefault(use.project_id, ProjectCost(slugs.get(use.project_id)))
        size = cheapest(entries, use.vcpus, use.ram_mb)
        if size is None:
            pc.unfit_hours += use.hours
        else:
            pc.public += size.hourly_price * use.hours
        internal[use.project_id] += use.internal
    currencies = {p.model.currency for p in pools} | {u.model.currency for u in uses if u.model}
    if len(currencies) > 1:
        raise ValueError(f"host costs use several currencies: {', '.join(sorted(currencies))}; the comparison "
                         f"adds internal costs, so give every host cost one currency")
    currency = next(iter(currencies)) if currencies else sheet.currency
    result = Comparison(start, end, currency, sheet.currency)
    idle_share: dict[int | None, Decimal] = defaultdict(Decimal)
    for pool in pools:
        cost, covered, idle = idle_of(pool)
        result.hosts.append(HostIdle(pool.model.name, cost, covered, idle))
        if share_idle:
            weights = {pid: v for pid, v in pool.covered.items() if v > 0}
            for pid, part in split_exactly(idle, weights, pool.model.currency).items():
                idle_share[pid] += part
    for pid, pc in sorted(projects.items(), key=lambda kv: kv[1].project or ""):
        pc.internal = round_money(internal[pid], currency)
        pc.idle_share = idle_share.get(pid, Decimal(0))
        pc.public = round_money(pc.public, sheet.currency)
        result.projects.append(pc)
    return result
