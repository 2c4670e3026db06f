"""Generate benchmark data fast: PostgreSQL COPY, not the ORM.

``ledger(resources, segments_per_resource, days)`` creates one account, projects, resources and
usage segments spread over the last ``days`` days.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from django.db import connection

from metering.models import Project, Resource, UsageSegment
from providers.models import ProviderAccount


def ledger(resources: int, segments_per_resource: int, days: int, projects: int = 10, name: str = "bench-ledger",
           end: datetime | None = None) -> tuple[ProviderAccount, list[Project], datetime, datetime]:
    """Returns the account, the projects and the [start, end) the segments cover."""
    rng = random.Random(42)
    end = end or datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    account = ProviderAccount.objects.create(name=name, kind="fake", settings={"world": name})
    slugs = [Project.objects.get_or_create(slug=f"bench-{i}", defaults={"name": f"Bench {i}"})[0]
             for i in range(projects)]
    now = end
    rows = []
    for i in range(resources):
        p = slugs[i % projects]
        kind = "vm" if i % 5 else "container"
        rows.append((account.pk, f"r{i}", kind, f"{kind}-{i}", p.pk, "running", rng.choice([1, 2, 4, 8]),
                     rng.choice([1024, 2048, 4096, 8192]), rng.choice([10, 20, 40, 80]), now, now, "{}", "{}"))
    _copy("metering_resource", ["account_id", "external_id", "kind", "name", "project_id", "state", "vcpus",
                                "ram_mb", "disk_gb", "first_seen", "last_seen", "labels", "properties"],
              rows, extra={"image": "", "flavor": "", "project_hint": "", "updated_at": now})
    ids = list(Resource.objects.filter(account=account).order_by("pk").values_list("pk", "kind", "project_id",
                                                                                   "vcpus", "ram_mb", "disk_gb"))
    step = (end - start) / segments_per_resource
    seg_rows = []
    for rid, kind, pid, vcpus, ram, disk in ids:
        for j in range(segments_per_resource):
            s = start + step * j
            e = s + step
            state = "running" if rng.random() < 0.8 else "stopped"
            seg_rows.append((rid, account.pk, kind, pid, state, vcpus, ram, disk, "", s, e,
                             j == segments_per_resource - 1, rng.random() < 0.02))
            if len(seg_rows) >= 100_000:
                _copy_segments(seg_rows)
                seg_rows = []
    _copy_segments(seg_rows)
    return account, slugs, start, end


def _copy_segments(rows):
    _copy("metering_usagesegment", ["resource_id", "account_id", "kind", "project_id", "state", "vcpus", "ram_mb",
                                    "disk_gb", "flavor", "start", "end", "open", "estimated"], rows)


def _copy(table: str, columns: list[str], rows: list[tuple], extra: dict | None = None) -> None:
    if not rows:
        return
    extra = extra or {}
    cols = columns + list(extra)
    if connection.vendor != "postgresql":  # SQLite: plain executemany, for small runs
        marks = ", ".join(["%s"] * len(cols))
        with connection.cursor() as cur:
            cur.executemany(f'INSERT INTO {table} ({", ".join(_q(c) for c in cols)}) VALUES ({marks})',
                            [tuple(r) + tuple(extra.values()) for r in rows])
        return
    with connection.cursor() as cur:
        with cur.copy(f'COPY {table} ({", ".join(_q(c) for c in cols)}) FROM STDIN') as copy:
            for r in rows:
                copy.write_row(tuple(r) + tuple(extra.values()))


def _q(name: str) -> str:
    return f'"{name}"'


def segment_count() -> int:
    return UsageSegment.objects.count()


# -- the pages' history: 10,000 resources over 12 months, as the collector would have left it -----------

#: the pages benchmark's projects; "analytics" alone has a rate plan (the priced pages are measured on it)
PAGE_PROJECTS = ["webshop", "analytics", "ci", "research"]
PAGE_PRICES = {"instance_hours": "0.02", "container_hours": "0.005", "vcpu_hours": "0.0125",
               "ram_gb_hours": "0.004", "disk_gb_hours": "0.0001", "running_hours": "0.001"}


def pages_history(resources: int = 10_000, days: int = 365, seed: int = 7, now: datetime | None = None) -> dict:
    """A portal's ledger after ``days`` days: hosts, VMs, containers and volumes created over the
    period (a quarter of them deleted since), each with one segment per change of state or size
    (about one every two weeks), the daily usage rollups of every finished day (``RolledDay``), a
    week of hourly utilization for 300 VMs, a rate plan on "analytics", quotas, a staff user
    ``bench-admin`` and a member of "webshop" ``bench-member``. COPY and one INSERT ... SELECT, no ORM
    loop: 10,000 resources and a year take well under a minute on PostgreSQL."""
    from decimal import Decimal

    from django.contrib.auth import get_user_model

    from metering.models import (
        DailyUsage,
        Membership,
        ProjectRatePlan,
        Quota,
        Rate,
        RatePlan,
        RolledDay,
    )

    rng = random.Random(seed)
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    begin = now - timedelta(days=days)
    projects = [Project.objects.create(slug=s, name=s.title()) for s in PAGE_PROJECTS]
    accounts = []
    for name in ("kvm-1", "docker-1", "openstack-1"):
        account = ProviderAccount(name=name, kind="fake", settings={"world": name})
        account.credentials = {}
        account.save()
        accounts.append(account)
    n_hosts = max(1, resources // 50)
    _copy("metering_resource",
          ["account_id", "external_id", "kind", "name", "state", "vcpus", "ram_mb", "first_seen", "last_seen"],
          [(accounts[0].pk, f"host-{i}", "host", f"host-{i}", "running", 64, 262144, begin, now)
           for i in range(n_hosts)], extra={**_resource_defaults(now), "labels": "{}"})
    hosts = list(Resource.objects.filter(kind="host").order_by("pk").values_list("pk", flat=True))
    kinds = ["vm"] * 60 + ["container"] * 30 + ["volume"] * 10
    rows, plan = [], []
    horizon = int((now - begin).total_seconds())
    for i in range(resources - n_hosts):
        kind = rng.choice(kinds)
        account = accounts[{"vm": rng.choice([0, 2]), "container": 1, "volume": 2}[kind]]
        # created over the first nine tenths of the period; a quarter deleted since
        first = begin + timedelta(seconds=rng.randrange(0, horizon * 9 // 10))
        deleted = None
        if rng.random() < 0.25:
            deleted = first + timedelta(seconds=rng.randrange(3600, max(3601, int((now - first).total_seconds()))))
        project = rng.choice(projects)
        sized = kind != "volume"
        state = "deleted" if deleted else ("in-use" if kind == "volume" else rng.choice(["running"] * 4 + ["stopped"]))
        vcpus = rng.choice([1, 2, 4, 8]) if sized else None
        ram = rng.choice([1024, 2048, 8192]) if sized else None
        disk = rng.choice([20, 40, 100])
        labels = f'{{"env": "{rng.choice(["prod", "dev"])}", "team": "t{i % 9}"}}'
        rows.append((account.pk, f"{kind}-{i}", kind, f"{project.slug}-{kind}-{i}", project.pk,
                     rng.choice(hosts) if kind == "vm" else None, state, vcpus, ram, disk, labels,
                     first, deleted or now, first, deleted))
        plan.append((kind, project.pk, account.pk, state, vcpus, ram, disk, first, deleted))
    _copy("metering_resource", ["account_id", "external_id", "kind", "name", "project_id", "parent_id", "state",
                                "vcpus", "ram_mb", "disk_gb", "labels", "first_seen", "last_seen", "started_at",
                                "deleted_at"], rows, extra=_resource_defaults(now))
    ids = list(Resource.objects.exclude(kind="host").order_by("pk").values_list("pk", flat=True))
    segments = []
    n_segments = 0
    for rid, (kind, pid, aid, state, vcpus, ram, disk, first, deleted) in zip(ids, plan, strict=True):
        end = deleted or now
        life = (end - first).total_seconds()
        cuts = sorted({first + timedelta(seconds=int(life * rng.random()))
                       for _ in range(rng.randrange(0, 2 + int(life // (14 * 86400))))} - {first, end})
        edges = [first, *cuts, end]
        for j, (lo, hi) in enumerate(zip(edges, edges[1:], strict=False)):
            last = j == len(edges) - 2
            if kind == "volume":
                seg_state = "in-use"
            elif last and state != "deleted":
                seg_state = state
            else:
                seg_state = rng.choice(["running", "running", "stopped"])
            seg_vcpus = vcpus if last or vcpus is None else vcpus * rng.choice([1, 1, 2])
            segments.append((rid, aid, kind, pid, seg_state, seg_vcpus, ram, disk, "", lo, hi,
                             last and deleted is None, rng.random() < 0.02))
        if len(segments) >= 100_000:
            n_segments += len(segments)
            _copy_segments(segments)
            segments = []
    n_segments += len(segments)
    _copy_segments(segments)
    # every finished UTC day rolled, as the collector leaves them (metering.daily): one statement
    today = now.date()
    first_day = begin.date()
    _roll_days(first_day, today)
    RolledDay.objects.bulk_create([RolledDay(day=first_day + timedelta(days=d))
                                   for d in range((today - first_day).days)])
    # a week of hourly utilization for 300 live VMs (the resource detail page's charts)
    hour0 = now.replace(minute=0, second=0) - timedelta(days=7)
    vms = list(Resource.objects.filter(kind="vm", deleted_at__isnull=True).order_by("pk")
               .values_list("pk", flat=True)[:300])
    util = [(rid, hour0 + timedelta(hours=h), 12, rng.random() * 100, 100.0, rng.random() * 3600, 1000.0, 1500.0,
             3.6e6, 0, 0) for rid in vms for h in range(7 * 24)]
    _copy("metering_utilizationrollup", ["resource_id", "hour", "samples", "cpu_pct_avg", "cpu_pct_max",
                                         "cpu_core_seconds", "memory_avg_mb", "memory_max_mb", "memory_mb_seconds",
                                         "net_bytes", "disk_bytes"], util)
    rate_plan = RatePlan.objects.create(name="bench", currency="EUR")
    for measure, price in PAGE_PRICES.items():
        Rate.objects.create(plan=rate_plan, measure=measure, unit_price=Decimal(price),
                            effective_from=begin - timedelta(days=31))
    ProjectRatePlan.objects.create(project=projects[1], plan=rate_plan, effective_from=begin - timedelta(days=31))
    limits = {"vms": 5000, "containers": 5000, "vcpus": 20000}
    Quota.objects.bulk_create([Quota(project=p, key=k, limit=v) for p in projects for k, v in limits.items()]
                              + [Quota(project=projects[1], key="budget", limit=100000)])
    User = get_user_model()
    User.objects.create_user("bench-admin", is_staff=True)
    member = User.objects.create_user("bench-member")
    Membership.objects.create(user=member, project=projects[0], role="member")
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    return {"resources": resources, "segments": n_segments, "daily_rows": DailyUsage.objects.count(),
            "utilization_rows": len(util), "days": days, "begin": begin, "now": now}


def _resource_defaults(now: datetime) -> dict:
    return {"image": "", "flavor": "", "project_hint": "", "properties": "{}", "updated_at": now}


def _roll_days(first_day, last_day) -> None:
    """``DailyUsage`` of every UTC day in [first_day, last_day), in one statement: each segment
    joined to the days it overlaps, grouped and clipped exactly as ``metering.daily`` does per day
    (``bench/pages.py`` checks two days against ``daily.rebuild``). The session's time zone is
    UTC (Django's PostgreSQL connections with ``USE_TZ``), so ``date_trunc`` cuts at UTC midnights."""
    from metering import daily
    from metering.models import DailyUsage

    clip = daily.clip_sql("lo", "hi").replace("%(lo)s", "d.lo").replace("%(hi)s", "d.hi")
    sql = f"""
        INSERT INTO {DailyUsage._meta.db_table}
            (resource_id, account_id, project_id, day, state, vcpus, ram_mb, disk_gb, estimated, us)
        SELECT s.resource_id, s.account_id, s.project_id, d.day, s.state, s.vcpus, s.ram_mb, s.disk_gb,
               s.estimated, SUM({clip})
        FROM metering_usagesegment s
        CROSS JOIN LATERAL (
            SELECT g::date AS day, g AS lo, g + interval '1 day' AS hi
            FROM generate_series(date_trunc('day', s.start), s."end", interval '1 day') g
        ) d
        WHERE s.start < d.hi AND s."end" > d.lo AND s.kind <> 'host'
          AND d.day >= %(first)s AND d.day < %(last)s
        GROUP BY s.resource_id, s.account_id, s.project_id, d.day, s.state, s.vcpus, s.ram_mb, s.disk_gb,
                 s.estimated
    """
    with connection.cursor() as cur:
        cur.execute(sql, {"first": first_day, "last": last_day})
