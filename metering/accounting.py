"""The accounting rules, as pure functions over plain values (no ORM), so they can be proven.

A usage segment is a run of time in which one resource kept the same *attributes*: project, state
and size (vCPUs, RAM, disk, flavor). Given the open segment of a resource and a new observation,
``advance`` says how the ledger changes:

* An observation at or before the open segment's end changes nothing (duplicates, redelivery,
  an older observation arriving late, overlapping refreshes).
* A gap no longer than ``max_gap`` is trusted: same attributes extend the segment to the
  observation; different attributes close it at the *change time* and open a new one.
* A longer gap is trusted only where the provider's lifecycle timestamps vouch for it (a state
  change dated by Docker ``StartedAt``/``FinishedAt`` or Nova ``launched_at``; a resource still
  running whose ``started_at`` is before the gap). Otherwise the gap is counted with the old
  attributes in a separate segment flagged ``estimated``, and the new attributes start at the
  observation.
* The change time is the lifecycle timestamp that dates a change inside the gap (``finished_at`` for
  a stop; ``started_at`` for a start, or for a size change of a running resource, which restarted
  it), else the observation time (attributes hold until the observation that shows them changed).
* A resource that disappears ends at the provider's deletion time when it is known and later than
  the last observation, else at its last observation.

``metering.collector`` applies these decisions in bulk; ``tests/metering/test_accounting_oracle.py``
checks them against a minute-by-minute oracle.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from providers.base import State


@dataclass(frozen=True)
class Attrs:
    """What must stay the same for time to belong to one segment."""

    project_id: int | None
    state: str
    vcpus: Decimal | None
    ram_mb: int | None
    disk_gb: Decimal | None
    flavor: str = ""


@dataclass(frozen=True)
class Seg:
    attrs: Attrs
    start: datetime
    end: datetime
    open: bool = True
    estimated: bool = False


@dataclass(frozen=True)
class Obs:
    """One observation of one resource, with the lifecycle evidence the provider gave."""

    at: datetime
    attrs: Attrs
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class Change:
    """The result of ``advance``: the open segment's new form (``current``; same ``start``) and
    segments to add after it. ``current is None`` with no ``added`` means nothing changes."""

    current: Seg | None
    added: tuple[Seg, ...] = ()

    @property
    def is_noop(self) -> bool:
        return self.current is None and not self.added


NOOP = Change(None)


def change_time(before: Attrs, obs: Obs, lo: datetime) -> datetime | None:
    """The lifecycle timestamp that dates this observation's state change inside (lo, obs.at]."""
    running_before = before.state == State.RUNNING
    running_now = obs.attrs.state == State.RUNNING
    if running_before and not running_now:
        stamp = obs.finished_at
    elif running_now:
        # a (re)start inside the gap dates the change: a start, or a size change that restarted the
        # resource (Nova resets launched_at when a resize finishes; Docker restarts with new limits)
        stamp = obs.started_at
    else:
        return None
    if stamp is not None and lo < stamp <= obs.at:
        return stamp
    return None


def continuity_proven(attrs: Attrs, obs: Obs, lo: datetime) -> bool:
    """Lifecycle evidence that unchanged attributes held for the whole gap after ``lo``."""
    if attrs.state == State.RUNNING:
        return obs.started_at is not None and obs.started_at <= lo
    if attrs.state == State.STOPPED:
        return obs.finished_at is not None and obs.finished_at <= lo
    return False


def first(obs: Obs, not_before: datetime | None = None) -> Change:
    """The first observation of a resource (or of a resource that came back after deletion).

    With ``not_before`` (a resource never seen before, and the start of the lookback window), the
    provider's own lifecycle times date what happened before we looked: a running resource starts
    at its ``started_at``; a stopped one ran from ``started_at`` to ``finished_at`` and has been
    stopped since. Nothing starts before ``not_before``. Without usable times, it starts now.
    """
    at, started, finished = obs.at, obs.started_at, obs.finished_at
    if not_before is None or started is None or started >= at:
        return Change(None, (Seg(obs.attrs, at, at),))
    if obs.attrs.state == State.RUNNING:
        return Change(None, (Seg(obs.attrs, max(started, not_before), at),))
    if obs.attrs.state == State.STOPPED and finished is not None and started <= finished <= at:
        stopped = Seg(obs.attrs, max(finished, not_before), at)
        if finished <= max(started, not_before):
            return Change(None, (stopped,))
        ran = Seg(replace(obs.attrs, state=State.RUNNING), max(started, not_before), finished, open=False)
        return Change(None, (ran, stopped))
    return Change(None, (Seg(obs.attrs, at, at),))


def lifetime(attrs: Attrs, started: datetime, ended: datetime, not_before: datetime) -> Seg | None:
    """The closed segment of a resource that lived and was deleted between two looks (or before
    the first), from the provider's own times; None when it ended before ``not_before``."""
    if ended <= not_before or ended <= started:
        return None
    return Seg(replace(attrs, state=State.RUNNING), max(started, not_before), ended, open=False)


def advance(open_seg: Seg, obs: Obs, max_gap: timedelta) -> Change:
    """How the open segment changes with a new observation (see the module docstring)."""
    t0, t1 = open_seg.end, obs.at
    if t1 <= t0:
        return NOOP
    same = open_seg.attrs == obs.attrs
    trusted = t1 - t0 <= max_gap
    if same:
        if trusted or continuity_proven(obs.attrs, obs, t0):
            return Change(replace(open_seg, end=t1))
        return _estimated_gap(open_seg, obs)
    when = change_time(open_seg.attrs, obs, t0)
    if when is None and not trusted:
        return _estimated_gap(open_seg, obs)
    when = when or t1
    return Change(replace(open_seg, end=when, open=False), (Seg(obs.attrs, when, t1),))


def _estimated_gap(open_seg: Seg, obs: Obs) -> Change:
    """Count an unvouched gap with the old attributes, flagged estimated; new ones start at obs."""
    t0, t1 = open_seg.end, obs.at
    gap = Seg(open_seg.attrs, t0, t1, open=False, estimated=True)
    if open_seg.start == t0:  # the open segment is empty: the gap takes its place
        return Change(replace(gap, start=open_seg.start), (Seg(obs.attrs, t1, t1),))
    return Change(replace(open_seg, open=False), (gap, Seg(obs.attrs, t1, t1)))


def end(open_seg: Seg, deleted_at: datetime | None) -> Change:
    """Close the open segment of a resource that is gone."""
    stop = deleted_at if deleted_at is not None and deleted_at > open_seg.end else open_seg.end
    return Change(replace(open_seg, end=stop, open=False))


def hours(seg_start: datetime, seg_end: datetime, start: datetime, end_: datetime) -> Decimal:
    """Hours of [seg_start, seg_end) inside [start, end_), exact to the microsecond."""
    lo, hi = max(seg_start, start), min(seg_end, end_)
    if hi <= lo:
        return Decimal(0)
    delta = hi - lo
    micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    return Decimal(micros) / Decimal(3_600_000_000)
