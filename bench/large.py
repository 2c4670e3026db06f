"""``make bench SCALE=large`` (not in CI): 100,000 resources and 10,000,000 usage segments.

Figures: the usage report for one project and one month against the hand-written SQL aggregate
(target < 0.5 s); an issued statement's CSV streamed (target >= 50,000 rows/s, flat memory); and
how many workers refresh 1,000,000 resources over 10,000 accounts every 5 minutes, extrapolated
from per-account refresh costs measured here (the arithmetic is printed).

Data is made by the database itself (``INSERT ... SELECT`` over ``generate_series``, secondary
indexes and triggers off while loading, then rebuilt), so it takes minutes, not hours. The daily
rollups are rolled for every generated day in one statement with the same clipping expression as
``metering.daily`` and checked against the segments: the report for one project is computed both
ways and must be equal, or the run stops.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.db import connection, transaction

from bench import csv_export
from bench.harness import Figure, best_of, best_of_pair
from metering import collector, daily
from metering.models import Project, RolledDay
from metering.models.collection import CollectionState
from metering.reports import usage_report
from providers.models import ProviderAccount

RESOURCES = 100_000
SEGMENTS_PER_RESOURCE = 100
DAYS = 50  # segments of 12 hours, aligned to midnight and noon
PROJECTS = 100  # 1,000 resources each
CSV_LINES = 2_000_000
ACCOUNTS, ACCOUNT_RESOURCES, CYCLE_S = 10_000, 100, 300


def _say(text: str) -> None:
    print(f"bench: large: {text}", file=sys.stderr, flush=True)


def _secondary_indexes(cur, table: str) -> list[tuple[str, str]]:
    """(name, definition) of the indexes on ``table`` that back no constraint."""
    cur.execute("""SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x
                   JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
                   WHERE t.relname = %s AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)""",
                [table])
    return cur.fetchall()


def generate(start: datetime, resources: int | None = None, segments: int | None = None, days: int | None = None,
             projects: int | None = None, name: str = "large") -> tuple[ProviderAccount, list[Project]]:
    """The ledger: ``resources`` resources over ``projects`` projects, ``segments`` segments each
    over ``days`` days from ``start`` (a midnight), states and the estimated flag varying, sizes
    fixed per resource (defaults: this module's figures)."""
    resources, segments = resources or RESOURCES, segments or SEGMENTS_PER_RESOURCE
    days, projects_n = days or DAYS, projects or PROJECTS
    account = ProviderAccount.objects.create(name=f"bench-{name}", kind="fake", settings={"world": f"bench-{name}"})
    projects = Project.objects.bulk_create([Project(slug=f"{name}-{i:03d}", name=f"{name} {i}")
                                            for i in range(projects_n)])
    pids = [p.pk for p in projects]
    step = timedelta(days=days) / segments
    with connection.cursor() as cur:
        cur.execute("SET session_replication_role = replica")  # no FK triggers while loading
        cur.execute("SET jit = off")
        cur.execute("""
            INSERT INTO metering_resource (account_id, external_id, kind, name, project_id, state, vcpus, ram_mb,
                disk_gb, image, flavor, labels, properties, project_hint, first_seen, last_seen,
                updated_at)
            SELECT %(acc)s, %(name)s || i, CASE WHEN i %% 5 = 0 THEN 'container' ELSE 'vm' END, 'large-' || i,
                   (%(pids)s::bigint[])[1 + i %% %(np)s], 'running', (ARRAY[1, 2, 4, 8])[1 + (i * 7) %% 4],
                   (ARRAY[1024, 2048, 4096, 8192])[1 + (i * 3) %% 4], (ARRAY[10, 20, 40, 80])[1 + i %% 4],
                   '', '', '{}', '{}', '', %(start)s, %(end)s, %(end)s
            FROM generate_series(1, %(n)s) i""",
                    {"acc": account.pk, "name": name, "pids": pids, "np": projects_n, "n": resources, "start": start,
                     "end": start + timedelta(days=days)})
        dropped = _secondary_indexes(cur, "metering_usagesegment")
        for name, _ in dropped:
            cur.execute(f'DROP INDEX "{name}"')
        cur.execute("""
            INSERT INTO metering_usagesegment (resource_id, account_id, kind, project_id, state, vcpus, ram_mb,
                disk_gb, flavor, start, "end", open, estimated)
            SELECT r.id, r.account_id, r.kind, r.project_id,
                   CASE WHEN (r.id * 31 + j * 17) %% 5 = 0 THEN 'stopped' ELSE 'running' END,
                   r.vcpus, r.ram_mb, r.disk_gb, '', %(start)s + j * %(step)s, %(start)s + (j + 1) * %(step)s,
                   j = %(last)s, (r.id + j) %% 50 = 0
            FROM metering_resource r CROSS JOIN generate_series(0, %(last)s) j
            WHERE r.account_id = %(acc)s""",
                    {"acc": account.pk, "start": start, "step": step, "last": segments - 1})
        for _, definition in dropped:
            cur.execute(definition)
        cur.execute("SET session_replication_role = DEFAULT")
        cur.execute("SET jit = DEFAULT")
        cur.execute("VACUUM ANALYZE metering_resource")
        cur.execute("VACUUM ANALYZE metering_usagesegment")  # as a long-lived table is: hint bits set, all-visible
    return account, projects


def roll(first: datetime, days: int) -> None:
    """Roll ``days`` UTC days from ``first`` (a midnight) as ``metering.daily.rebuild`` rolls each
    of them, in one pass over the segments: each segment joined with the days it overlaps (a
    zero-length one only with a day it lies strictly inside), clipped with ``metering.daily``'s own
    expression, every resource of every account; then the days are marked rolled."""
    last = first + timedelta(days=days)
    lo = "GREATEST(s.start, d.day)"
    hi = "LEAST(s.\"end\", d.day + interval '1 day')"
    with connection.cursor() as cur:
        cur.execute("SET session_replication_role = replica")  # no FK triggers while loading
        cur.execute("SET jit = off")  # compiling costs more than it saves here
        cur.execute("DELETE FROM metering_dailyusage WHERE day >= %s AND day < %s", [first.date(), last.date()])
        dropped = _secondary_indexes(cur, "metering_dailyusage")
        for name, _ in dropped:
            cur.execute(f'DROP INDEX "{name}"')
        cur.execute(f"""
            INSERT INTO metering_dailyusage (resource_id, account_id, project_id, day, state, vcpus, ram_mb, disk_gb,
                                             estimated, us)
            SELECT s.resource_id, s.account_id, s.project_id, (d.day AT TIME ZONE 'UTC')::date, s.state, s.vcpus,
                   s.ram_mb, s.disk_gb, s.estimated, SUM({daily.micros_sql(hi, lo)})
            FROM metering_usagesegment s
            CROSS JOIN LATERAL generate_series(GREATEST(date_trunc('day', s.start, 'UTC'), %(first)s),
                                               LEAST(s."end" - interval '1 microsecond', %(last)s - interval '1 day'),
                                               interval '1 day') d(day)
            WHERE s.start < %(last)s AND s."end" > %(first)s AND s.kind <> 'host'
            GROUP BY s.resource_id, s.account_id, s.project_id, d.day, s.state, s.vcpus, s.ram_mb, s.disk_gb,
                     s.estimated""", {"first": first, "last": last})
        for _, definition in dropped:
            cur.execute(definition)
        cur.execute("SET session_replication_role = DEFAULT")
        cur.execute("SET jit = DEFAULT")
        cur.execute("VACUUM ANALYZE metering_dailyusage")
    RolledDay.objects.bulk_create([RolledDay(day=(first + timedelta(days=i)).date()) for i in range(days)],
                                  ignore_conflicts=True)


def _snapshot(report):
    return [(r.resource_id, r.project, dict(r.measures)) for r in report.rows]


def report_figures(start: datetime) -> list[Figure]:
    t = time.perf_counter()
    account, projects = generate(start)
    generated = time.perf_counter() - t
    _say(f"{RESOURCES:,} resources and {RESOURCES * SEGMENTS_PER_RESOURCE:,} segments in {generated:.0f} s")
    t = time.perf_counter()
    roll(start, DAYS)
    rolled = time.perf_counter() - t
    _say(f"{DAYS} days rolled up in {rolled:.0f} s")
    one = projects[7]
    end = start + timedelta(days=DAYS) - timedelta(hours=5)  # partial days at both edges, as a real month has
    month = end - timedelta(days=30)
    with transaction.atomic():  # the check: rollups plus edges equal the segment-level report
        with_rollups = _snapshot(usage_report(month, end, project=one))
        RolledDay.objects.all().delete()
        from_segments = _snapshot(usage_report(month, end, project=one))
        transaction.set_rollback(True)
    if with_rollups != from_segments or not with_rollups:
        raise SystemExit("bench: large: the report read with rollups differs from the segment-level report")
    from bench.report import _floor  # (bench.report uses this module to make its data)

    ours, floor = best_of_pair(lambda: usage_report(month, end, project=one), lambda: _floor(month, end, one.pk))
    note = (f"{RESOURCES:,} resources, {RESOURCES * SEGMENTS_PER_RESOURCE:,} segments, {PROJECTS} projects "
            f"({len(with_rollups)} resources in this one; equal to the segment-level report); generated in "
            f"{generated:.0f} s, rolled up in {rolled:.0f} s")
    return [Figure("LARGE: usage report, one project, one month", ours, floor, "s", "< 0.5 s", note)]


def csv_figures() -> list[Figure]:
    t = time.perf_counter()
    st = csv_export.populate(CSV_LINES)
    _say(f"statement of {CSV_LINES:,} lines stored in {time.perf_counter() - t:.0f} s")
    o_time, o_peak, o_rows = csv_export._measure(csv_export.ours, st)
    with transaction.atomic():
        f_time, f_peak, f_rows = csv_export._measure(csv_export.floor, st)
    rate, floor_rate = o_rows / o_time, f_rows / f_time
    note = (f"{CSV_LINES:,} lines; floor (server-side cursor + csv.writer) {floor_rate:,.0f} rows/s; resident memory "
            f"grew {o_peak:.1f} MiB at most (floor {f_peak:.1f} MiB)")
    return [Figure("LARGE: issued statement CSV", rate, floor_rate, "rows/s", ">= 50,000 rows/s, flat memory",
                   note)]


def workers_figures(samples: int = 5) -> list[Figure]:
    """Per-account refresh cost measured for accounts of ACCOUNT_RESOURCES libvirt test-driver
    domains (first refresh and steady state, driver + collector + database in this process), then
    the arithmetic for ACCOUNTS accounts every CYCLE_S seconds."""
    from devsim.libvirt_nodes import write_node_xml
    from providers.libvirt import connection as libvirt_connection

    folder = Path(tempfile.mkdtemp())
    firsts, steadies = [], []
    for i in range(samples):
        path = folder / f"node-{i}.xml"
        write_node_xml(path, ACCOUNT_RESOURCES - 1, ["large-000", "large-001"], seed=500 + i)  # + the host
        uri = f"test://{path}"
        account = ProviderAccount.objects.create(name=f"large-acct-{i}", kind="libvirt", settings={"uri": uri},
                                                 refresh_interval=CYCLE_S)
        firsts.append(best_of(lambda a=account: collector.refresh(a), repeat=1))
        steadies.append(best_of(
            lambda a=account: collector.refresh(a), repeat=3,
            setup=lambda a=account: CollectionState.objects.filter(account=a).update(last_observed_at=None)))
        libvirt_connection.forget(uri)
    steady = sorted(steadies)[len(steadies) // 2]  # the median account
    first = sorted(firsts)[len(firsts) // 2]
    work = ACCOUNTS * steady
    workers = work / CYCLE_S
    cores = os.cpu_count() or 1
    arithmetic = (f"{ACCOUNTS:,} accounts x {steady:.3f} s (median steady-state refresh of {ACCOUNT_RESOURCES} "
                  f"resources, measured) = {work:,.0f} s of refresh work per {CYCLE_S} s cycle; "
                  f"{work:,.0f} / {CYCLE_S} = {workers:.1f} busy worker processes, so {int(workers * 1.25) + 1} "
                  f"with 25% headroom (first refreshes: {first:.3f} s each, {ACCOUNTS * first / CYCLE_S:.1f} "
                  f"workers for one cycle); the database does part of each refresh, so count cores for it too "
                  f"(measured on {cores} cores, worker and PostgreSQL sharing them)")
    print(f"\nScale-out arithmetic: {arithmetic}\n")
    return [Figure("LARGE: workers for 1,000,000 resources / 10,000 accounts / 5 min", workers, None, "workers",
                   "extrapolated", arithmetic)]


def figures() -> list[Figure]:
    if connection.vendor != "postgresql":
        return [Figure("LARGE", None, None, "s", "-", "needs PostgreSQL")]
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=DAYS)
    out = []
    for label, step in (("usage report", lambda: report_figures(start)), ("CSV", csv_figures),
                        ("workers", workers_figures)):
        t = time.perf_counter()
        _say(f"{label} ...")
        out.extend(step())
        _say(f"{label} done in {time.perf_counter() - t:.0f} s")
    return out
