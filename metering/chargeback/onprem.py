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

**Idle cost** is the part of a host's cost over a period that no VM's allocation covers
(capacity cost - allocated cost, never negative). ``compare(..., share_idle=True)`` shares each
host's idle cost among the projects that use it, in proportion to their allocated cost there.

**Public cloud** prices come from an editable ``PriceSheet``: each VM segment is priced at the
cheapest size with at least its vCPUs and RAM, per hour. Hours of VMs that no size fits are
counted apart (``unfit_hours``). No currency conversion is made: each figure keeps its currency.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from metering.chargeback.engine import US_PER_HOUR, _micros
from metering.chargeback.money import UNIT_PRICE, round_money
from metering.choices import Measure
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


def cheapest(entries, vcpus, ram_mb):
    """The cheapest sheet entry with at least ``vcpus`` and ``ram_mb`` (entries sorted by price)."""
    for e in entries:
        if e.vcpus >= (vcpus or 0) and e.ram_mb >= (ram_mb or 0):
            return e
    return None


def compare(start: datetime, end: datetime, sheet: PriceSheet, *, share_idle: bool = False) -> Comparison:
    """Each project's VMs over [start, end): internal cost, share of idle cost, public-cloud price."""
    host_models = {c.host_id: model_of(c) for c in HostCost.objects.filter(host__isnull=False).select_related("host")}
    account_models: dict[int, CostModel | None] = {}
    entries = list(sheet.entries.order_by("hourly_price", "vcpus", "ram_mb"))
    segs = list(UsageSegment.objects.filter(kind=Kind.VM, start__lt=end, end__gt=start)
                .values_list("resource_id", "project_id", "account_id", "vcpus", "ram_mb", "start", "end"))
    parents = dict(Resource.objects.filter(pk__in={s[0] for s in segs}).values_list("pk", "parent_id"))
    slugs = dict(Project.objects.values_list("pk", "slug"))
    projects: dict[int | None, ProjectCost] = {}
    allocated: dict[str, Decimal] = defaultdict(Decimal)
    by_model_project: dict[str, dict[int | None, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    models: dict[str, CostModel] = {}
    for rid, pid, account_id, vcpus, ram_mb, s, e in segs:
        hours = Decimal(_micros(min(e, end) - max(s, start))) / US_PER_HOUR
        pc = projects.setdefault(pid, ProjectCost(slugs.get(pid)))
        size = cheapest(entries, vcpus, ram_mb)
        if size is None:
            pc.unfit_hours += hours
        else:
            pc.public += size.hourly_price * hours
        parent = parents.get(rid)
        if parent in host_models:
            key, model = f"host:{parent}", host_models[parent]
        else:
            if account_id not in account_models:
                account_models[account_id] = account_model(ProviderAccount.objects.get(pk=account_id))
            key, model = f"account:{account_id}", account_models[account_id]
        if model is None:
            continue
        models[key] = model
        cost = hours * ((vcpus or 0) * model.vcpu_hour + Decimal(ram_mb or 0) / 1024 * model.ram_gb_hour)
        pc.internal += cost
        allocated[key] += cost
        by_model_project[key][pid] += cost
    for key, m in account_models.items():
        if m is not None:
            models.setdefault(f"account:{key}", m)
    models.update({f"host:{h}": m for h, m in host_models.items()})
    period_hours = Decimal(_micros(end - start)) / US_PER_HOUR
    currency = next(iter(models.values())).currency if models else sheet.currency
    result = Comparison(start, end, currency, sheet.currency)
    for key, model in sorted(models.items(), key=lambda kv: kv[1].name):
        cost = model.period_cost(period_hours)
        idle = max(Decimal(0), cost - allocated[key])
        result.hosts.append(HostIdle(model.name, round_money(cost, model.currency),
                                     round_money(allocated[key], model.currency), round_money(idle, model.currency)))
        users = by_model_project.get(key, {})
        used = sum(users.values(), Decimal(0))
        if share_idle and used:
            for pid, part in users.items():
                projects[pid].idle_share += idle * part / used
    for pc in sorted(projects.values(), key=lambda p: p.project or ""):
        pc.internal, pc.idle_share = round_money(pc.internal, currency), round_money(pc.idle_share, currency)
        pc.public = round_money(pc.public, sheet.currency)
        result.projects.append(pc)
    return result
