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
                     rng.choice([1024, 2048, 4096, 8192]), rng.choice([10, 20, 40, 80]), now, now, "{}", "{}", "{}"))
    _copy("metering_resource", ["account_id", "external_id", "kind", "name", "project_id", "state", "vcpus",
                                "ram_mb", "disk_gb", "first_seen", "last_seen", "labels", "properties",
                                "last_sample"], rows, extra={"image": "", "flavor": "", "project_hint": "", "updated_at": now})
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
