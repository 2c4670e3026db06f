"""CSV export of a 500,000-line issued statement against the floor: the same rows written with
the csv module straight from a PostgreSQL server-side cursor. Resident memory is sampled for both."""

from __future__ import annotations

import csv
import os
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal

from django.db import connection
from django.db.models import Sum

from bench.datagen import _copy
from bench.harness import Figure
from metering.chargeback.export import statement_rows
from metering.choices import StatementStatus
from metering.export import csv_stream
from metering.models import Project, Statement

COLUMNS = ["resource_name", "resource_kind", "provider", "measure", "description", "start", "end", "quantity",
           "unit", "unit_price", "amount", "estimated"]


def populate(lines: int) -> Statement:
    project, _ = Project.objects.get_or_create(slug="bench-csv", defaults={"name": "CSV"})
    start, end = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)
    st = Statement.objects.create(project=project, period_start=start, period_end=end, revision=1,
                                  status=StatementStatus.ISSUED, currency="EUR", issued_at=end,
                                  total=Decimal("0.00"))
    rows = []
    for i in range(lines):
        q = Decimal(i % 744) + Decimal("0.5")
        rows.append((st.pk, f"vm-{i // 4}", "vm", "lab", ("vcpu_hours", "ram_gb_hours", "disk_gb_hours",
                    "instance_hours")[i % 4], "", start, end, q, "hour", Decimal("0.015"), (q * Decimal("0.015"))
                    .quantize(Decimal("0.01")), False))
        if len(rows) == 200_000:
            _copy("metering_statementline", ["statement_id", *COLUMNS], rows)
            rows = []
    _copy("metering_statementline", ["statement_id", *COLUMNS], rows)
    st.total = st.lines.aggregate(total=Sum("amount"))["total"]
    Statement.objects.filter(pk=st.pk).update(total=st.total)  # issued: frozen, so no save()
    return st


def ours(st: Statement) -> int:
    n = 0
    with open(os.devnull, "w", encoding="utf-8", newline="") as sink:
        for line in csv_stream(statement_rows(st)):
            sink.write(line)
            n += 1
    return n


def floor(st: Statement) -> int:
    n = 0
    with connection.connection.cursor(name="floor") as cur, \
            open(os.devnull, "w", encoding="utf-8", newline="") as sink:
        cur.itersize = 2000
        columns = ", ".join(f'"{c}"' for c in COLUMNS)
        cur.execute(f"SELECT {columns} FROM metering_statementline WHERE statement_id = %s ORDER BY id", [st.pk])
        writer = csv.writer(sink)
        for row in cur:
            writer.writerow(row)
            n += 1
    return n


class _PeakRSS:
    """Samples the process's resident memory every 20 ms while a block runs; ``growth`` is the peak
    above the level at the start. (tracemalloc would see allocations exactly but slows Python
    several times, which would spoil the timing beside it.)"""

    def __enter__(self):
        self.start = self.peak = _rss()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while not self.done.wait(0.02):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()
        self.peak = max(self.peak, _rss())

    @property
    def growth(self) -> float:
        return (self.peak - self.start) / 2**20


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _measure(fn, st) -> tuple[float, float, int]:
    with _PeakRSS() as memory:
        t = time.perf_counter()
        n = fn(st)
        took = time.perf_counter() - t
    return took, memory.growth, n


def figures(lines: int = 500_000) -> list[Figure]:  # SCALE=large streams 2,000,000
    if connection.vendor != "postgresql":
        return [Figure("CSV export", None, None, "rows/s", ">= floor/1.5, flat memory", "needs PostgreSQL")]
    st = populate(lines)
    from django.db import transaction

    o_time, o_peak, o_rows = _measure(ours, st)  # first, so its memory growth is not hidden by the floor's
    with transaction.atomic():  # a server-side cursor lives in a transaction
        f_time, f_peak, f_rows = _measure(floor, st)
    note = (f"{lines:,} lines: {o_rows / o_time:,.0f} rows/s (floor {f_rows / f_time:,.0f}); resident memory grew "
            f"{o_peak:.1f} MiB at most (floor {f_peak:.1f} MiB)")
    return [Figure("CSV export (issued statement)", o_time, f_time, "s", "<= 1.5x, flat memory", note)]
