"""A plain, obviously-correct oracle for the accounting rules: it walks a history minute by minute.

It knows nothing of segments. For every minute it decides which attributes the resource had and
whether that minute was estimated, straight from the rules in the README, and adds them up.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

RUNNING, STOPPED = "running", "stopped"


@dataclass(frozen=True)
class Event:
    """One delivery to the collector, in delivery order. Times are whole minutes."""

    at: int
    attrs: tuple | None  # (project, state, vcpus, ram_mb, disk_gb); None = resource missing
    started_at: int | None = None
    finished_at: int | None = None
    deleted_at: int | None = None  # with attrs None: the provider's deletion time, if it says


def minutes(events: list[Event], max_gap: int, lookback: int | None = None) -> list[tuple[int, tuple, bool]]:
    """Every counted minute as (minute, attrs, estimated). With ``lookback``, the very first
    observation is dated back by its lifecycle stamps, but not before ``lookback``."""
    applied, last = [], None
    for e in events:  # only observations newer than everything before them count
        if last is None or e.at > last:
            applied.append(e)
            last = e.at
    out = []
    prev = None  # the previous observation while the resource exists
    out_seen = False  # whether the resource was ever observed
    for e in applied:
        if e.attrs is None:
            if prev is not None:
                if e.deleted_at is not None and e.deleted_at > prev.at:
                    out += [(m, prev.attrs, False) for m in range(prev.at, e.deleted_at)]
                prev = None
            continue
        if prev is None:
            if lookback is not None and not out_seen and e.started_at is not None and e.started_at < e.at:
                out += _before_first(e, lookback)
            out_seen = True
            prev = e
            continue
        t0, t1, a, b = prev.at, e.at, prev.attrs, e.attrs
        gap_ok = t1 - t0 <= max_gap
        if a == b:
            proven = (a[1] == RUNNING and e.started_at is not None and e.started_at <= t0) or (
                a[1] == STOPPED and e.finished_at is not None and e.finished_at <= t0)
            out += [(m, a, not (gap_ok or proven)) for m in range(t0, t1)]
        else:
            stamp = None
            if a[1] == RUNNING and b[1] != RUNNING:
                stamp = e.finished_at
            elif b[1] == RUNNING:  # a start, or a change of a running resource that restarted it
                stamp = e.started_at
            if stamp is not None and t0 < stamp <= t1:
                out += [(m, a, False) for m in range(t0, stamp)] + [(m, b, False) for m in range(stamp, t1)]
            else:
                out += [(m, a, not gap_ok) for m in range(t0, t1)]
        prev = e
    return out


def _before_first(e: Event, lookback: int) -> list[tuple[int, tuple, bool]]:
    """What a resource first seen at ``e`` did before, per its own stamps: running since started_at,
    or ran from started_at to finished_at and stopped since."""
    state = e.attrs[1]
    if state == RUNNING:
        return [(m, e.attrs, False) for m in range(max(e.started_at, lookback), e.at)]
    if state == STOPPED and e.finished_at is not None and e.started_at <= e.finished_at <= e.at:
        ran = (e.attrs[0], RUNNING, *e.attrs[2:])
        return ([(m, ran, False) for m in range(max(e.started_at, lookback), e.finished_at)]
                + [(m, e.attrs, False) for m in range(max(e.finished_at, lookback), e.at)])
    return []


def totals(events: list[Event], max_gap: int, start: int, end: int,
           lookback: int | None = None) -> dict[str, Decimal]:
    """Measures in hours over [start, end) minutes, as exact Decimals."""
    t = {"hours": Decimal(0), "vcpu_hours": Decimal(0), "ram_gb_hours": Decimal(0), "disk_gb_hours": Decimal(0),
         "running_hours": Decimal(0), "estimated_hours": Decimal(0)}
    minute = Decimal(1) / 60
    for m, (_project, state, vcpus, ram_mb, disk_gb), estimated in minutes(events, max_gap, lookback):
        if not start <= m < end:
            continue
        t["hours"] += minute
        t["vcpu_hours"] += Decimal(vcpus) * minute
        t["ram_gb_hours"] += Decimal(ram_mb) / 1024 * minute
        t["disk_gb_hours"] += Decimal(disk_gb) * minute
        t["running_hours"] += minute if state == RUNNING else 0
        t["estimated_hours"] += minute if estimated else 0
    return t
