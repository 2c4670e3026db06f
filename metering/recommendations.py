"""Rightsizing and idle recommendations for VMs and containers, from hourly utilization rollups.

Over a window (14 or 30 days ending now), for each live VM or container of the projects asked:

* **idle**: running, with at least ``MIN_HOURS`` hours of samples, p95 of hourly CPU below
  ``IDLE_CPU_PCT`` % and p95 of hourly network traffic below ``IDLE_NET_BYTES`` per hour.
  Suggestion: stop or delete it; the saving is its whole monthly cost.
* **oversized**: not idle, p95 CPU below ``OVERSIZED_CPU_PCT`` % and peak memory below
  ``OVERSIZED_MEM_RATIO`` of its RAM. Suggestion: the smallest size that keeps p95 CPU at most
  ``TARGET_CPU_PCT`` % and the peak memory at most ``TARGET_MEM_RATIO`` of RAM; where the same
  provider account has resources with flavors, the smallest such flavor that fits. The saving is
  the monthly cost of the current size minus that of the suggestion.
* **stopped with disks**: stopped for at least ``STOPPED_DAYS`` days, still holding disk.
  Suggestion: delete it (or snapshot and delete); the saving is what it costs while stopped (every
  allocation measure counts while a resource exists; only running hours stop).

p95 is the nearest-rank 95th percentile of the hourly values in the window (hours with samples
only). "Monthly" is ``MONTH_HOURS`` (720) hours priced by the project's rate plan now, tiers
included, so the saving is what the project's own statement would show. Every recommendation
carries its evidence. A dismissed one stays hidden; a snoozed one until its date (both audited
in ``RecommendationDecision``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Max, Q
from django.utils import timezone

from metering.chargeback.costs import _price_forward, hourly
from metering.chargeback.money import round_money
from metering.chargeback.rates import Subject, rate_book
from metering.models import Project, RecommendationDecision, Resource, UsageSegment, UtilizationRollup
from providers.base import Kind, State

WINDOWS = (14, 30)
MIN_HOURS = 24
IDLE_CPU_PCT = 5.0
IDLE_NET_BYTES = 1024 * 1024  # per hour
OVERSIZED_CPU_PCT = 40.0
OVERSIZED_MEM_RATIO = 0.5
TARGET_CPU_PCT = 60.0
TARGET_MEM_RATIO = 0.8
STOPPED_DAYS = 7
MONTH_HOURS = 720


class Kinds:
    IDLE = "idle"
    OVERSIZED = "oversized"
    STOPPED = "stopped_with_disks"
    ALL = (IDLE, OVERSIZED, STOPPED)
    LABELS = {IDLE: "Idle", OVERSIZED: "Oversized", STOPPED: "Stopped with disks"}


@dataclass
class Recommendation:
    resource: Resource
    kind: str
    evidence: dict
    suggestion: str
    suggested: dict = field(default_factory=dict)  # vcpus, ram_mb, flavor
    monthly_saving: Decimal | None = None
    currency: str = ""

    @property
    def key(self) -> str:
        return f"{self.resource.pk}:{self.kind}"

    @property
    def kind_label(self) -> str:
        """The finding in words, for pages (the CSV and API keep ``kind``)."""
        return Kinds.LABELS.get(self.kind, self.kind)


def plain(value: Decimal) -> str:
    """A Decimal as people write it: 50, not 5E+1; 0.5, not 0.500."""
    return format(value.normalize(), "f")


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def _power_of_two_at_least(value: float, floor: int) -> int:
    n = floor
    while n < value:
        n *= 2
    return n


def suggest_size(resource: Resource, p95_cpu: float, peak_mb: float, flavors: list[tuple]) -> dict:
    """The smallest size (or known flavor on the same account) that fits the measured load."""
    vcpus = float(resource.vcpus or 1)
    need_cpu = vcpus * p95_cpu / TARGET_CPU_PCT
    need_mb = peak_mb / TARGET_MEM_RATIO
    fitting = [f for f in flavors if float(f[1]) >= need_cpu and f[2] >= need_mb
               and (float(f[1]), f[2]) < (vcpus, resource.ram_mb or 0)]
    if fitting:
        name, f_vcpus, f_ram = min(fitting, key=lambda f: (float(f[1]), f[2]))
        return {"flavor": name, "vcpus": Decimal(f_vcpus), "ram_mb": f_ram}
    new_vcpus = max(1, math.ceil(need_cpu))
    new_ram = _power_of_two_at_least(need_mb, 256)
    return {"flavor": "", "vcpus": Decimal(min(new_vcpus, int(vcpus) or 1)), "ram_mb": min(new_ram, resource.ram_mb or new_ram)}


class Pricer:
    """The monthly cost of a size for one resource, by its project's rate plan now."""

    def __init__(self, now: datetime):
        self.now, self.books = now, {}

    def monthly(self, resource: Resource, vcpus, ram_mb, disk_gb, state: str) -> tuple[Decimal | None, str]:
        project = resource.project
        if project is None:
            return None, ""
        if project.pk not in self.books:
            self.books[project.pk] = rate_book(project, self.now, self.now + timedelta(hours=MONTH_HOURS))
        book = self.books[project.pk]
        if not book.currency:
            return None, ""
        subject = Subject(resource.account.kind, resource.account_id, resource.flavor, resource.labels or {})
        periods = book.periods(self.now, self.now + timedelta(hours=MONTH_HOURS))
        total = _price_forward(periods, self.now, hourly(resource.kind, state, vcpus, ram_mb, disk_gb), subject, {},
                               book.currency)
        return round_money(total, book.currency), book.currency


def hidden(now: datetime) -> set[tuple[int, str]]:
    """(resource, kind) dismissed for good, or snoozed until after ``now``."""
    rows = RecommendationDecision.objects.filter(Q(until__isnull=True) | Q(until__gt=now))
    return set(rows.values_list("resource_id", "kind"))


def recommend(projects: list[Project] | None = None, window_days: int = 14, now: datetime | None = None,
              include_hidden: bool = False) -> list[Recommendation]:
    """Recommendations for the live VMs and containers of ``projects`` (default: every project)."""
    if window_days not in WINDOWS:
        raise ValueError(f"window must be one of {', '.join(map(str, WINDOWS))} days, got {window_days}")
    now = now or timezone.now()
    since = now - timedelta(days=window_days)
    resources = Resource.objects.live().filter(kind__in=[Kind.VM, Kind.CONTAINER]).select_related("account", "project")
    if projects is not None:
        resources = resources.filter(project__in=projects)
    resources = list(resources)
    by_id = {r.pk: r for r in resources}
    hourly_rows: dict[int, list] = {}
    for rid, cpu, net, mem in (UtilizationRollup.objects.filter(resource_id__in=by_id, hour__gte=since, hour__lt=now)
                               .values_list("resource_id", "cpu_pct_avg", "net_bytes", "memory_max_mb")):
        hourly_rows.setdefault(rid, []).append((cpu, net, mem))
    flavors: dict[int, list[tuple]] = {}
    for account_id, flavor, vcpus, ram in (Resource.objects.live().exclude(flavor="").filter(
            account_id__in={r.account_id for r in resources}).values_list("account_id", "flavor", "vcpus", "ram_mb")
            .distinct()):
        if vcpus and ram:
            flavors.setdefault(account_id, []).append((flavor, vcpus, ram))
    # when each stopped resource last ran: one grouped query, not one per resource
    last_ran = dict(UsageSegment.objects.filter(
        resource_id__in=[r.pk for r in resources if r.state == State.STOPPED], state=State.RUNNING)
        .values("resource_id").annotate(end=Max("end")).values_list("resource_id", "end"))
    skip = set() if include_hidden else hidden(now)
    pricer = Pricer(now)
    out = []
    for r in resources:
        rec = _one(r, hourly_rows.get(r.pk, []), flavors.get(r.account_id, []), window_days, now, pricer,
                   last_ran.get(r.pk))
        if rec is not None and (r.pk, rec.kind) not in skip:
            out.append(rec)
    return sorted(out, key=lambda x: (-(x.monthly_saving or 0), x.resource.name))


def _one(r: Resource, rows, flavors, window_days, now, pricer: Pricer, last_ran=None) -> Recommendation | None:
    if r.state == State.STOPPED:
        return _stopped(r, now, pricer, last_ran)
    if r.state != State.RUNNING:
        return None
    cpu = [c for c, _, _ in rows if c is not None]
    if len(cpu) < MIN_HOURS:
        return None
    p95_cpu, p95_net = p95(cpu), p95([n for _, n, _ in rows])
    mems = [m for _, _, m in rows if m is not None]
    peak = max(mems) if mems else None
    evidence = {"window_days": window_days, "hours": len(cpu), "p95_cpu_pct": round(p95_cpu, 2),
                "p95_net_bytes_per_hour": int(p95_net), "peak_memory_mb": round(peak, 1) if peak is not None else None}
    current, currency = pricer.monthly(r, r.vcpus, r.ram_mb, r.disk_gb, r.state)
    if p95_cpu < IDLE_CPU_PCT and p95_net < IDLE_NET_BYTES:
        return Recommendation(r, Kinds.IDLE, evidence, "stop or delete it: it has done nearly nothing",
                              monthly_saving=current, currency=currency)
    if (peak is not None and r.ram_mb and p95_cpu < OVERSIZED_CPU_PCT
            and peak < OVERSIZED_MEM_RATIO * r.ram_mb):
        size = suggest_size(r, p95_cpu, peak, flavors)
        if (size["vcpus"], size["ram_mb"]) == (r.vcpus, r.ram_mb):
            return None
        after, _ = pricer.monthly(r, size["vcpus"], size["ram_mb"], r.disk_gb, r.state)
        what = f"flavor {size['flavor']} " if size["flavor"] else ""
        text = f"resize to {what}{plain(size['vcpus'])} vCPU, {size['ram_mb']} MB"
        saving = None if current is None or after is None else current - after
        return Recommendation(r, Kinds.OVERSIZED, evidence, text, size, saving, currency)
    return None


def _stopped(r: Resource, now, pricer: Pricer, last_running) -> Recommendation | None:
    if not r.disk_gb:
        return None
    since = last_running or r.first_seen
    if since is None or now - since < timedelta(days=STOPPED_DAYS):
        return None
    stopped_cost, currency = pricer.monthly(r, r.vcpus, r.ram_mb, r.disk_gb, State.STOPPED)
    days = (now - since).days
    return Recommendation(r, Kinds.STOPPED, {"stopped_days": days, "disk_gb": plain(r.disk_gb)},
                          f"delete it (or keep a snapshot): stopped for {days} days, holding {plain(r.disk_gb)} GB",
                          monthly_saving=stopped_cost, currency=currency)


def decide(resource: Resource, kind: str, action: str, user=None, until: datetime | None = None,
           note: str = "") -> RecommendationDecision:
    """Dismiss (for good) or snooze (until a date) one recommendation; the row is the audit line."""
    if kind not in Kinds.ALL:
        raise ValueError(f"kind must be one of {', '.join(Kinds.ALL)}, got {kind!r}")
    if action not in ("dismiss", "snooze"):
        raise ValueError(f"action must be dismiss or snooze, got {action!r}")
    if action == "snooze" and until is None:
        raise ValueError("a snooze needs a date (until)")
    return RecommendationDecision.objects.create(resource=resource, kind=kind, action=action, user=user,
                                                 until=until if action == "snooze" else None, note=note[:500])


def rows(recs: list[Recommendation]):
    """CSV rows: a header, then one row per recommendation."""
    yield ["Project", "Resource", "Kind", "Provider", "Recommendation", "Suggestion", "Window (days)", "Hours",
           "p95 CPU %", "p95 network bytes/hour", "Peak memory MB", "vCPUs", "RAM MB", "Monthly saving", "Currency"]
    for x in recs:
        e, r = x.evidence, x.resource
        yield [r.project.slug if r.project else "", r.name, r.kind, r.account.name, x.kind, x.suggestion,
               e.get("window_days"), e.get("hours"), e.get("p95_cpu_pct"), e.get("p95_net_bytes_per_hour"),
               e.get("peak_memory_mb"), r.vcpus, r.ram_mb, x.monthly_saving, x.currency]
