"""Streaming a 100,000-line chargeback statement as CSV: rows per second and peak memory.

Builds a throwaway database (SQLite in a temporary folder, or ``DATABASE_URL`` if set: give it a
database of your own), bulk-creates LINES/4 VMs with one month-long segment each, prices them with
four rates (instance-, vCPU-, RAM- and disk-hours) so the statement has LINES lines, issues it,
then streams the issued statement's CSV to /dev/null through ``csv.writer``.

The streaming peak (tracemalloc, measured around the streaming only) stays flat as LINES grows
because the lines are read with an iterator and written one row at a time; building the draft
holds every line in memory and is reported separately.

Run ``python -m bench.chargeback_csv [LINES]`` (default 100000).
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from decimal import Decimal

MEASURES = ("instance_hours", "vcpu_hours", "ram_gb_hours", "disk_gb_hours")


def setup(var_dir: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")
    os.environ["GLASSPANE_VAR_DIR"] = var_dir
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{var_dir}/bench.sqlite3")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def populate(lines: int):
    from metering.models import Project, Rate, RatePlan, Resource, UsageSegment
    from providers.models import ProviderAccount

    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    account = ProviderAccount(name="bench", kind="fake", settings={"world": "bench"})
    account.credentials = {}
    account.save()
    project = Project.objects.create(slug="bench", name="Bench")
    plan = RatePlan.objects.create(name="bench", currency="EUR", is_default=True)
    for i, m in enumerate(MEASURES):
        Rate.objects.create(plan=plan, measure=m, unit_price=Decimal("0.0123") + i, effective_from=start)
    n = lines // len(MEASURES)
    Resource.objects.bulk_create(
        [Resource(account=account, external_id=f"vm-{i}", kind="vm", name=f"vm-{i:06d}", project=project,
                  state="running", vcpus=Decimal(1 + i % 8), ram_mb=1024 * (1 + i % 16), disk_gb=Decimal(20),
                  first_seen=start, last_seen=end) for i in range(n)], batch_size=5000)
    segs = (UsageSegment(resource_id=pk, account=account, kind="vm", project=project, state="running",
                         vcpus=Decimal(1 + i % 8), ram_mb=1024 * (1 + i % 16), disk_gb=Decimal(20),
                         start=start, end=end, open=False)
            for i, pk in enumerate(Resource.objects.order_by("pk").values_list("pk", flat=True)))
    while batch := [s for _, s in zip(range(5000), segs, strict=False)]:
        UsageSegment.objects.bulk_create(batch)
    return project, start, end


def main(lines: int) -> None:
    with tempfile.TemporaryDirectory() as var_dir:
        setup(var_dir)
        from metering.chargeback import statements

        t = time.perf_counter()
        project, start, end = populate(lines)
        print(f"populate: {lines // len(MEASURES)} VMs and segments in {time.perf_counter() - t:.1f} s")

        tracemalloc.start()
        t = time.perf_counter()
        draft = statements.draft(project, start, end)
        built = time.perf_counter() - t
        _, draft_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"draft: {len(draft.lines)} lines, total {draft.total} {draft.currency}, built in {built:.2f} s, "
              f"peak {draft_peak / 2**20:.1f} MiB")
        del draft

        t = time.perf_counter()
        issued = statements.issue(project, start, end)
        print(f"issue (build + store): {issued.lines.count()} lines in {time.perf_counter() - t:.2f} s")

        t = time.perf_counter()
        rows = stream(issued)
        took = time.perf_counter() - t
        print(f"stream issued CSV: {rows} rows in {took:.2f} s = {rows / took:,.0f} rows/s")
        tracemalloc.start()
        stream(issued)
        _, stream_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"stream issued CSV again under tracemalloc: peak {stream_peak / 2**20:.2f} MiB; "
              f"process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


def stream(issued) -> int:
    from metering.chargeback.export import statement_rows
    from metering.export import csv_stream

    rows = 0
    with open(os.devnull, "w", encoding="utf-8", newline="") as sink:
        for row in csv_stream(statement_rows(issued)):
            sink.write(row)
            rows += 1
    return rows

if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
