"""Usage report at scale (10,000 resources, 1,000,000 segments) against a hand-written SQL floor."""

from __future__ import annotations

import time
from datetime import timedelta

from django.db import connection

from bench.datagen import ledger
from bench.harness import Figure, best_of_pair
from metering import daily
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
    account, projects, start, end = ledger(10_000, 100, 30)
    month_start = end - timedelta(days=30)
    # the ledger is bulk-inserted, not collected: roll its days as the collector would have
    rolled = time.perf_counter()
    day = month_start.date()
    while day < end.date():
        daily.rebuild(day)
        day += timedelta(days=1)
    rolled = time.perf_counter() - rolled
    one = projects[0]
    ours_one, floor_one = best_of_pair(lambda: usage_report(month_start, end, project=one),
                                       lambda: _floor(month_start, end, one.pk), repeat=7)
    ours_all, floor_all = best_of_pair(lambda: usage_report(month_start, end), lambda: _floor(month_start, end))
    note = f"10,000 resources, 1,000,000 segments; days rolled up in {rolled:.0f} s"
    return [
        Figure("usage report, one project, one month", ours_one, floor_one, "s", "<= 1.5x", note),
        Figure("usage report, all projects, one month", ours_all, floor_all, "s", "<= 1.5x", note),
    ]
