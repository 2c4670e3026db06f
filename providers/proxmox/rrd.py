"""Reading a guest's RRD (``GET /nodes/N/{qemu|lxc}/VMID/rrddata``) into a CPU-time counter.

PVE publishes CPU only as a share (``cpu``: 0.25 of ``maxcpu`` CPUs) in its status answers, never as
a cumulative counter, and the collector needs counters to take deltas. The RRD holds that share
averaged per step (60 s in the ``hour`` timeframe, 70 rows), so the CPU time spent in a stretch of
the last hour is the sum of ``cpu x maxcpu x step`` over its rows.

The counter the driver reports is that sum since the start of the current hour (or since the guest
started, if later). It restarts every hour: the collector treats the drop as a counter reset and
skips that one interval, so CPU time is exact inside each hour and the interval that straddles the
hour is left out (documented in the README), never counted twice.

A row is ``{"time": epoch, "cpu": share, "maxcpu": n, "mem": bytes, ...}``; rows of a stretch where
the guest did not run carry only ``time`` (the API reference's shape); rows that are not objects or
have no usable ``time`` are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

STEPS = {"hour": 60, "day": 1800, "week": 10800, "month": 43200, "year": 604800}
FIELDS = ("cpu", "maxcpu", "mem", "maxmem", "netin", "netout", "diskread", "diskwrite")


@dataclass(frozen=True)
class RrdRow:
    time: datetime  # the end of the step the averages cover
    cpu: float | None = None  # share of maxcpu, 0..1
    maxcpu: float | None = None
    mem: float | None = None  # bytes
    maxmem: float | None = None
    netin: float | None = None  # bytes per second
    netout: float | None = None
    diskread: float | None = None
    diskwrite: float | None = None

    def core_seconds(self, step: int) -> float | None:
        if self.cpu is None or self.maxcpu is None:
            return None
        return max(self.cpu, 0.0) * max(self.maxcpu, 0.0) * step


def _number(value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None  # NaN, inf: no data


def parse(rows: Iterable) -> list[RrdRow]:
    """The usable rows of an ``rrddata`` answer, oldest first."""
    parsed = []
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict):
            continue
        when = _number(row.get("time"))
        if when is None or when <= 0:
            continue
        parsed.append(RrdRow(datetime.fromtimestamp(int(when), UTC), **{f: _number(row.get(f)) for f in FIELDS}))
    parsed.sort(key=lambda r: r.time)
    return parsed


def step_of(rows: list[RrdRow], timeframe: str = "hour") -> int:
    """The step between rows: the smallest gap seen, else the timeframe's documented one."""
    gaps = [int((b.time - a.time).total_seconds()) for a, b in zip(rows, rows[1:], strict=False)]
    gaps = [g for g in gaps if g > 0]
    return min(gaps) if gaps else STEPS.get(timeframe, 60)


def cpu_seconds(rows: list[RrdRow], since: datetime, until: datetime, step: int) -> float | None:
    """Core-seconds spent in the steps ending in (``since``, ``until``]; None when no row has CPU data."""
    total, seen = 0.0, False
    for row in rows:
        if since < row.time <= until:
            spent = row.core_seconds(step)
            if spent is not None:
                total += spent
                seen = True
    return total if seen else None


def hourly_cpu_counter(rows: list[RrdRow], now: datetime, started: datetime | None, step: int) -> int | None:
    """CPU time in ns since the start of the current hour (or the guest's start, if later)."""
    epoch = now.replace(minute=0, second=0, microsecond=0)
    if started is not None and started > epoch:
        epoch = started
    seconds = cpu_seconds(rows, epoch, now, step)
    return None if seconds is None else int(seconds * 1e9)
