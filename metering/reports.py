"""The usage report: measures per resource and totals for a period, computed in SQL.

One query clips every segment that overlaps [start, end) to the period and sums the overlapping
microseconds per resource and attribute set (state, size, estimated). Sizes are multiplied in
``Decimal`` afterwards, so quantities are exact on every database. Used measures (CPU, memory,
I/O) come from hourly rollups whose hour starts inside the period.

Units: hours; RAM and memory in GiB (MB / 1024, as Nova counts); transfer in GiB (1024**3 bytes).
Allocation measures (instance-, container-, vCPU-, RAM- and disk-hours) count while the resource
exists, in any state, as Nova's os-simple-tenant-usage does; running hours count only ``running``.
Hosts are capacity, not consumption, and are left out.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from django.db import connection
from django.db.models import Sum
from django.db.models.expressions import Col

from metering import daily
from metering.choices import Measure
from metering.models import Project, Resource, UsageSegment, UtilizationRollup
from metering.periods import PeriodError
from providers.base import Kind, State
from providers.models import ProviderAccount

US_PER_HOUR = Decimal(3_600_000_000)
RAM_US_PER_GB_HOUR = US_PER_HOUR * 1024  # MB-microseconds in one GiB-hour
GIB = Decimal(1024**3)
QUANTUM = Decimal("0.000001")
MEASURES = [m.value for m in Measure]
UNITS = {
    Measure.INSTANCE_HOURS: "hour", Measure.CONTAINER_HOURS: "hour", Measure.VCPU_HOURS: "vCPU-hour",
    Measure.RAM_GB_HOURS: "GiB-hour", Measure.DISK_GB_HOURS: "GiB-hour", Measure.RUNNING_HOURS: "hour",
    Measure.CPU_CORE_HOURS_USED: "core-hour", Measure.MEMORY_GB_HOURS_USED: "GiB-hour",
    Measure.NET_GB: "GiB", Measure.DISK_IO_GB: "GiB", Measure.ESTIMATED_HOURS: "hour",
}




@dataclass
class ResourceUsage:
    """One resource's usage in the period (``measures`` at full precision; round for display)."""

    resource_id: int
    name: str
    kind: str
    provider: str
    provider_kind: str
    project: str | None
    vcpus: Decimal | None
    ram_mb: int | None
    disk_gb: Decimal | None
    state: str
    flavor: str
    labels: dict
    started_at: datetime | None
    deleted_at: datetime | None
    measures: dict[str, Decimal] = field(default_factory=dict)

    @property
    def estimated(self) -> bool:
        return self.measures.get(Measure.ESTIMATED_HOURS, Decimal(0)) > 0

    def uptime(self, now: datetime) -> float | None:
        """Seconds since the resource last started, while it runs."""
        if self.state != State.RUNNING or self.started_at is None:
            return None
        return max(0.0, (now - self.started_at).total_seconds())


@dataclass
class UsageReport:
    start: datetime
    end: datetime
    project: Project | None
    rows: list[ResourceUsage]

    @property
    def totals(self) -> dict[str, Decimal]:
        totals = {m: Decimal(0) for m in MEASURES}
        for row in self.rows:
            for m, v in row.measures.items():
                totals[m] += v
        return totals

    def by_project(self) -> dict[str | None, dict[str, Decimal]]:
        out: dict[str | None, dict[str, Decimal]] = defaultdict(lambda: {m: Decimal(0) for m in MEASURES})
        for row in self.rows:
            for m, v in row.measures.items():
                out[row.project][m] += v
        return dict(out)

    def active(self) -> dict[str, Decimal | int]:
        """What is allocated now among the report's resources (live, not stopped)."""
        live = [r for r in self.rows if r.deleted_at is None]
        running = [r for r in live if r.state == State.RUNNING]
        return {
            "vms": sum(1 for r in live if r.kind == Kind.VM),
            "containers": sum(1 for r in live if r.kind == Kind.CONTAINER),
            "running": len(running),
            "vcpus": sum((r.vcpus or 0 for r in running), Decimal(0)),
            "ram_mb": sum(r.ram_mb or 0 for r in running),
            "disk_gb": sum((r.disk_gb or 0 for r in live), Decimal(0)),
        }


RESOURCE_FIELDS = ("name", "kind", "vcpus", "ram_mb", "disk_gb", "state", "flavor", "labels", "started_at",
                   "deleted_at")


def _report_rows(start: datetime, end: datetime, project_ids: list[int] | None) -> list[tuple]:
    """One statement: the exact sums per resource, project and size (``daily.sized_sql``: rolled
    whole days from ``DailyUsage``, the rest from the segments) joined with what the report shows
    of each resource, its provider and its project. Rows are ``(resource, project, vcpus, ram_mb,
    disk_gb, us, running us, estimated us, provider, provider kind, project slug, *RESOURCE_FIELDS)``
    with the resource's columns converted as the ORM converts them."""
    where, params = "", {}
    if project_ids is not None:
        where = "project_id IN (" + ", ".join(f"%(p{i})s" for i in range(len(project_ids))) + ")"
        params.update({f"p{i}": pid for i, pid in enumerate(project_ids)})
    sized, params = daily.sized_sql(start, end, where, params)
    columns = ", ".join(f"r.{connection.ops.quote_name(Resource._meta.get_field(f).column)}" for f in RESOURCE_FIELDS)
    sql = (f"SELECT g.resource_id, g.project_id, g.vcpus, g.ram_mb, g.disk_gb, g.us, g.running_us, g.estimated_us, "
           f"a.name, a.kind, p.slug, {columns} FROM ({sized}) g "
           f"JOIN {Resource._meta.db_table} r ON r.id = g.resource_id "
           f"JOIN {ProviderAccount._meta.db_table} a ON a.id = r.account_id "
           f"LEFT JOIN {Project._meta.db_table} p ON p.id = g.project_id")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    converters = [(11 + i, conv) for i, conv in enumerate(_converters(Resource, RESOURCE_FIELDS)) if conv]
    if converters:
        for n, row in enumerate(rows):
            row = list(row)
            for i, convs in converters:
                field = convs[0]
                for conv in convs[1]:
                    row[i] = conv(row[i], field, connection)
            rows[n] = row
    return rows


def _converters(model, names):
    """Per field, ``(Col, [converter, ...])`` as the ORM applies them to a fetched column (Decimal
    places, aware datetimes, JSON), or None where a column needs none."""
    out = []
    for name in names:
        field = model._meta.get_field(name)
        col = Col(model._meta.db_table, field)
        convs = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        out.append((col, convs) if convs else None)
    return out


def rounded(value: Decimal) -> Decimal:
    """A quantity as shown and exported: 6 decimal places, half-even."""
    return value.quantize(QUANTUM, ROUND_HALF_EVEN)


def _dec(v) -> Decimal | None:
    return None if v is None else Decimal(str(v))


def usage_report(start: datetime, end: datetime, project: Project | None = None,
                 projects: list[Project] | None = None) -> UsageReport:
    """Usage over [start, end) for one project, a list of projects, or (neither) every project."""
    if end <= start:
        raise PeriodError(f"the end ({end:%Y-%m-%d}) must be after the start ({start:%Y-%m-%d})")
    ids = [project.pk] if project is not None else ([p.pk for p in projects] if projects is not None else None)
    # exact sums first (microseconds, and microseconds times size), one division per measure after
    sums: dict[tuple[int, int | None], list] = {}
    info: dict[int, tuple] = {}
    slugs: dict[int | None, str | None] = {None: None}
    for row in _report_rows(start, end, ids):
        rid, pid, vcpus, ram_mb, disk_gb, us, running, estimated = row[:8]
        us = int(us or 0)
        a = sums.get((rid, pid))
        if a is None:
            a = sums[(rid, pid)] = [0, 0, 0, 0, 0, 0]  # time, vCPU, RAM MB, disk GB, running, estimated
            info[rid] = row
            slugs[pid] = row[10]
        a[0] += us
        if vcpus:
            a[1] += (vcpus if isinstance(vcpus, Decimal) else _dec(vcpus)) * us
        if ram_mb:
            a[2] += int(ram_mb) * us
        if disk_gb:
            a[3] += (disk_gb if isinstance(disk_gb, Decimal) else _dec(disk_gb)) * us
        a[4] += int(running or 0)
        a[5] += int(estimated or 0)
    per_resource = {key: _measures(a, info[key[0]][12]) for key, a in sums.items()}
    _used(per_resource, start, end, slugs, _in_scope(ids, start, end))
    rows = []
    for (rid, pid), m in per_resource.items():
        (provider, provider_kind, _slug, name, kind, vcpus, ram_mb, disk_gb, state, flavor, labels, started,
         deleted) = info[rid][8:]
        rows.append(ResourceUsage(
            resource_id=rid, name=name, kind=kind, provider=provider, provider_kind=provider_kind,
            project=slugs[pid], vcpus=vcpus, ram_mb=ram_mb, disk_gb=disk_gb, state=state, flavor=flavor,
            labels=labels, started_at=started, deleted_at=deleted, measures=m,
        ))
    rows.sort(key=lambda row: (row.project or "", row.provider, row.kind, row.name, row.resource_id))
    return UsageReport(start, end, project, rows)


ZEROS = {k: Decimal(0) for k in MEASURES}


def _measures(a: list, kind: str) -> dict[str, Decimal]:
    """The allocation measures of one resource and project from its exact sums (see above)."""
    m = dict(ZEROS)
    hours = Decimal(a[0]) / US_PER_HOUR
    if kind == Kind.VM:
        m[Measure.INSTANCE_HOURS] = hours
    elif kind == Kind.CONTAINER:
        m[Measure.CONTAINER_HOURS] = hours
    m[Measure.VCPU_HOURS] = Decimal(a[1]) / US_PER_HOUR
    m[Measure.RAM_GB_HOURS] = Decimal(a[2]) / RAM_US_PER_GB_HOUR
    m[Measure.DISK_GB_HOURS] = Decimal(a[3]) / US_PER_HOUR
    if kind in (Kind.VM, Kind.CONTAINER):  # volumes have no running state
        m[Measure.RUNNING_HOURS] = Decimal(a[4]) / US_PER_HOUR
    m[Measure.ESTIMATED_HOURS] = Decimal(a[5]) / US_PER_HOUR
    return m


def _in_scope(project_ids: list[int] | None, start: datetime, end: datetime):
    """The ids of every resource with a segment of these projects overlapping [start, end), as a
    subquery (a superset of the report's resources, whose rows come from those segments or their
    daily rollups); None for every project."""
    if project_ids is None:
        return None
    return (UsageSegment.objects.filter(project_id__in=project_ids, start__lt=end, end__gte=start)
            .exclude(kind=Kind.HOST).values("resource_id"))


def _used(per_resource, start, end, slugs, scope=None) -> None:
    by_rid = defaultdict(list)
    for rid, pid in sorted(per_resource, key=lambda key: (slugs[key[1]] or "", key[1] or 0)):
        by_rid[rid].append(pid)
    if not by_rid:
        return
    rollups = UtilizationRollup.objects.filter(hour__gte=start, hour__lt=end)
    if scope is not None:
        rollups = rollups.filter(resource_id__in=scope)
    elif len(by_rid) <= 5000:
        rollups = rollups.filter(resource_id__in=list(by_rid))
    used = (rollups.order_by().values("resource_id")
            .annotate(core=Sum("cpu_core_seconds"), mem=Sum("memory_mb_seconds"), net=Sum("net_bytes"),
                      disk=Sum("disk_bytes")))
    for u in used:
        if u["resource_id"] not in by_rid:
            continue
        pid = by_rid[u["resource_id"]][0]  # a resource that moved mid-period: its first project in the report's order
        m = per_resource[(u["resource_id"], pid)]
        m[Measure.CPU_CORE_HOURS_USED] = Decimal(str(u["core"] or 0)) / 3600
        m[Measure.MEMORY_GB_HOURS_USED] = Decimal(str(u["mem"] or 0)) / 1024 / 3600
        m[Measure.NET_GB] = Decimal(u["net"] or 0) / GIB
        m[Measure.DISK_IO_GB] = Decimal(u["disk"] or 0) / GIB
