"""Property tests: random histories through the accounting (pure, thousands of them) and through
the real collector and usage report (hundreds), against the minute-by-minute oracle."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devsim.fake import FakeDriver, FakeWorld
from metering import accounting, collector
from metering.accounting import Attrs, Obs
from metering.choices import Measure
from metering.models import Project
from metering.reports import usage_report
from providers.base import Kind, ObservedResource
from tests.conftest import T0
from tests.metering import oracle
from tests.metering.oracle import Event

MAX_GAP = 15  # minutes: the account refreshes every 5 minutes
SIX = Decimal("0.000001")

attrs_st = st.tuples(
    st.sampled_from(["alpha", "beta"]),
    st.sampled_from([oracle.RUNNING, oracle.STOPPED, "paused"]),
    st.sampled_from([1, 2, 4]),
    st.sampled_from([512, 2048]),
    st.sampled_from([10, 40]),
)


@st.composite
def histories(draw):
    """Deliveries in order: mostly forward in time, with gaps, duplicates, late older ones,
    lifecycle stamps, deletions with and without a known time, and comebacks."""
    events, t, alive = [], 0, False
    for _ in range(draw(st.integers(1, 14))):
        step = draw(st.sampled_from([0, 1, 5, 5, 5, 10, 20, 45]))
        kind = draw(st.sampled_from(["obs", "obs", "obs", "obs", "late", "dup", "delete"]))
        if kind == "late" and events:
            events.append(Event(max(0, t - draw(st.integers(1, 30))), draw(attrs_st)))
            continue
        if kind == "dup" and events:
            events.append(events[-1])
            continue
        t += step
        if kind == "delete" and alive:
            known = draw(st.booleans())
            events.append(Event(t, None, deleted_at=t - draw(st.integers(0, step)) if known else None))
            alive = False
            continue
        a = draw(attrs_st)
        started = t - draw(st.integers(0, 60)) if draw(st.booleans()) else None
        finished = t - draw(st.integers(0, 60)) if draw(st.booleans()) else None
        events.append(Event(t, a, started_at=started, finished_at=finished))
        alive = True
    return events


def as_attrs(a, project_ids=None) -> Attrs:
    project = project_ids[a[0]] if project_ids else a[0]
    return Attrs(project, a[1], Decimal(a[2]), a[3], Decimal(a[4]))


def at(minute):
    return T0 + timedelta(minutes=minute)


def ledger(events: list[Event]) -> list[accounting.Seg]:
    """Drive the pure accounting the way the collector does."""
    done, open_seg, last, seen = [], None, None, False
    for e in events:
        if last is not None and e.at <= last:
            continue
        last = e.at
        if e.attrs is None:
            if open_seg is not None:
                done.append(accounting.end(open_seg, at(e.deleted_at) if e.deleted_at is not None else None).current)
                open_seg = None
            continue
        obs = Obs(at(e.at), as_attrs(e.attrs), _t(e.started_at), _t(e.finished_at))
        # the very first observation is dated back to the lookback start (T0, the month's start)
        change = accounting.first(obs, None if seen else at(0)) if open_seg is None else accounting.advance(
            open_seg, obs, timedelta(minutes=MAX_GAP))
        seen = True
        if change.is_noop:
            continue
        segs = ([change.current] if change.current else []) + list(change.added)
        open_seg = None
        for seg in segs:
            (done if not seg.open else []).append(seg)
            if seg.open:
                open_seg = seg
    return done + ([open_seg] if open_seg else [])


def _t(minute):
    return at(minute) if minute is not None else None


@settings(max_examples=3000, deadline=None)
@given(histories())
def test_pure_accounting_matches_the_oracle(events):
    segs = ledger(events)
    expected = oracle.totals(events, MAX_GAP, -10_000, 10_000, lookback=0)
    got = {k: Decimal(0) for k in expected}
    for s in segs:
        h = accounting.hours(s.start, s.end, at(-10_000), at(10_000))
        got["hours"] += h
        got["vcpu_hours"] += s.attrs.vcpus * h
        got["ram_gb_hours"] += Decimal(s.attrs.ram_mb) / 1024 * h
        got["disk_gb_hours"] += s.attrs.disk_gb * h
        got["running_hours"] += h if s.attrs.state == oracle.RUNNING else 0
        got["estimated_hours"] += h if s.estimated else 0
    assert {k: v.quantize(SIX) for k, v in got.items()} == {k: v.quantize(SIX) for k, v in expected.items()}
    starts = [s.start for s in segs]
    assert len(starts) == len(set(starts)), "two segments start at the same instant"
    assert sum(1 for s in segs if s.open) <= 1


@pytest.mark.django_db
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=histories(), period=st.tuples(st.integers(0, 120), st.integers(1, 400)))
def test_collector_and_report_match_the_oracle(make_account, events, period):
    start, length = period
    with transaction.atomic():
        for slug in ("alpha", "beta"):
            Project.objects.create(slug=slug, name=slug)
        FakeDriver.worlds["oracle"] = world = FakeWorld()
        account = make_account(name="oracle", world_name="oracle", interval=300)
        for e in events:
            world.now = at(e.at)
            world.deleted = []
            if e.attrs is None:
                world.remove("r1")
                if e.deleted_at is not None:
                    world.deleted = [ObservedResource("r1", Kind.VM, "r1", "deleted", deleted_at=at(e.deleted_at))]
            else:
                project, state, vcpus, ram, disk = e.attrs
                world.put(ObservedResource("r1", Kind.VM, "r1", state, vcpus=Decimal(vcpus), ram_mb=ram,
                                           disk_gb=Decimal(disk), project_hint=project,
                                           started_at=_t(e.started_at), finished_at=_t(e.finished_at)))
            collector.refresh(account)
        report = usage_report(at(start), at(start + length))
        got = report.totals
        expected = oracle.totals(events, MAX_GAP, start, start + length, lookback=0)
        assert got[Measure.INSTANCE_HOURS].quantize(SIX) == expected["hours"].quantize(SIX)
        for key in ("vcpu_hours", "ram_gb_hours", "disk_gb_hours", "running_hours", "estimated_hours"):
            assert got[key].quantize(SIX) == expected[key].quantize(SIX), key
        per_project = report.by_project()
        oracle_alpha = sum((Decimal(a[2]) / 60 for m, a, _ in oracle.minutes(events, MAX_GAP, lookback=0)
                           if a[0] == "alpha" and start <= m < start + length), Decimal(0))
        assert per_project.get("alpha", {}).get(Measure.VCPU_HOURS, Decimal(0)).quantize(SIX) == oracle_alpha.quantize(SIX)
        transaction.set_rollback(True)
    FakeDriver.worlds.pop("oracle", None)
