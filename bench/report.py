"""Usage report at scale (10,000 resources, 1,000,000 segments) against a hand-written SQL floor
(``bench.report._floor``: every segment of the period clipped and summed per resource)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction

from bench import large
from bench.harness import Figure, best_of_pair
from metering.models import RolledDay
from metering.reports import usage_report

FLOOR_SQL = """
    SELECT resource_id,
           SUM(EXTRACT(EPOCH FROM (LEAST("end", %(e)s) - GREATEST(start, %(s)s)))) AS secs,
           SUM(EXTRACT(EPOCH FROM (LEAST("end", %(e)s) - GREATEST(start, %(s)s))) * vcpus) AS vcpu_secs,
           SUM(EXTRACT(EPOCH FROM (LEAST("end", %(e)s) - GREATEST(start, %(s)s))) * ram_mb) AS ram_secs,
           SUM(EXTRACT(EPOCH FROM (LEAST("end", %(e)s) - GREATEST(start, %(s)s))) * disk_gb) AS disk_secs
    FROM metering_usagesegment
    WHERE start < %(e)s AND "end" > %(s)s {where}
    GROUP BY resource_id
"""


def _floor(start, end, project_id=None):
    where = "AND project_id = %(p)s" if project_id else ""
    with connection.cursor() as cur:
        cur.execute(FLOOR_SQL.format(where=where), {"s": start, "e": end, "p": project_id})
        return cur.fetchall()


def figures() -> list[Figure]:
    if connection.vendor != "postgresql":
        return [Figure("usage report", None, None, "s", "<= 1.5x", "needs PostgreSQL")]
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(hours=14)
    first = end.replace(hour=0) - timedelta(days=30)
    t = time.perf_counter()
    # 10,000 resources x 100 segments over 31 days, made by the database (bench.large.generate)
    _, projects = large.generate(first, resources=10_000, segments=100, days=31, projects=10, name="report")
    generated = time.perf_counter() - t
    t = time.perf_counter()  # every day rolled as the collector rolls it (bench.large.roll checks the same)
    large.roll(first, 31)
    rolled = time.perf_counter() - t
    month_start = end - timedelta(days=30)  # partial days at both edges
    with transaction.atomic():  # rollups plus edges must equal the segment-level report
        snapshot = [(r.resource_id, dict(r.measures)) for r in usage_report(month_start, end, project=projects[0]).rows]
        RolledDay.objects.all().delete()
        plain = [(r.resource_id, dict(r.measures)) for r in usage_report(month_start, end, project=projects[0]).rows]
        transaction.set_rollback(True)
    if snapshot != plain or not snapshot:
        raise SystemExit("bench: usage report: the report read with rollups differs from the segment-level report")
    one = projects[0]
    ours_one, floor_one = best_of_pair(lambda: usage_report(month_start, end, project=one),
                                       lambda: _floor(month_start, end, one.pk), repeat=7)
    ours_all, floor_all = best_of_pair(lambda: usage_report(month_start, end), lambda: _floor(month_start, end))
    note = (f"10,000 resources, 1,000,000 segments, equal to the segment-level report; generated in "
            f"{generated:.0f} s, rolled up in {rolled:.0f} s")
    return [
        Figure("usage report, one project, one month", ours_one, floor_one, "s", "<= 1.5x", note),
        Figure("usage report, all projects, one month", ours_all, floor_all, "s", "<= 1.5x", note),
    ]
