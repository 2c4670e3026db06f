"""Issue 21: daily usage rollups. Reports that read rollups for rolled whole days and the segments
for the rest are exactly the segment-level reports (a property test over ledgers written by the
real collector), the collector keeps rolled days exact as segments change and rolls the day that
has just ended, and ``rollup_usage`` rebuilds days on demand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from metering import collector, daily
from metering.models import DailyUsage, Project, RolledDay
from metering.reports import usage_report
from providers.base import Kind, State
from tests.conftest import T0, vm

pytestmark = pytest.mark.django_db

NAMES = ["r0", "r1", "r2"]


def snapshot(report):
    return [(r.resource_id, r.project, r.name, r.kind, dict(r.measures)) for r in report.rows]


def both_ways(start, end, **scope):
    """(the report as read with the rollups, the same report from the segments alone)."""
    with_rollups = snapshot(usage_report(start, end, **scope))
    sid = transaction.savepoint()
    RolledDay.objects.all().delete()
    from_segments = snapshot(usage_report(start, end, **scope))
    transaction.savepoint_rollback(sid)
    return with_rollups, from_segments


def observed(i: int, state: str, vcpus: str, project: str):
    kind = Kind.CONTAINER if i == 2 else Kind.VM
    return vm(NAMES[i], kind=kind, state=state, vcpus=vcpus, project=project)


STEP = st.tuples(
    st.sampled_from([5, 55, 360, 1440, "midnight"]),  # minutes to the next refresh (or the next midnight)
    st.integers(0, 2),  # which resource
    st.sampled_from(["same", "toggle", "resize", "move", "delete", "add"]),
    st.booleans(),  # roll every day seen so far (as the nightly job or an operator would)
)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(STEP, min_size=2, max_size=12),
       period=st.tuples(st.integers(0, 6 * 24 * 4), st.integers(1, 6 * 24 * 4)))
# a resize at midnight, then gone: a zero-length segment on a midnight inside the period
@example(steps=[("midnight", 0, "resize", False), (5, 0, "delete", True)], period=(72, 200))
def test_reports_with_rollups_equal_the_segment_level_reports(fake_account, world, steps, period):
    with transaction.atomic():
        alpha, _ = Project.objects.get_or_create(slug="alpha", defaults={"name": "Alpha"})
        Project.objects.get_or_create(slug="beta", defaults={"name": "Beta"})
        world.resources, world.deleted = {}, []
        attrs = [[State.RUNNING, "2", "alpha"] for _ in NAMES]
        for i in range(len(NAMES)):
            world.put(observed(i, *attrs[i]))
        now = T0 + timedelta(hours=20)
        world.now = now
        collector.refresh(fake_account)
        for minutes, i, action, roll in steps:
            if minutes == "midnight":
                now = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
            else:
                now += timedelta(minutes=minutes)
            a = attrs[i]
            if action == "toggle":
                a[0] = State.STOPPED if a[0] == State.RUNNING else State.RUNNING
            elif action == "resize":
                a[1] = "4" if a[1] == "2" else "2"
            elif action == "move":
                a[2] = "beta" if a[2] == "alpha" else "alpha"
            if action == "delete":
                world.remove(NAMES[i])
            else:
                world.put(observed(i, *a))
            world.now = now
            collector.refresh(fake_account)
            if roll:
                day = T0.date()
                while day <= now.date():
                    daily.rebuild(day)
                    day += timedelta(days=1)
        start = T0 + timedelta(minutes=15 * min(period))
        end = T0 + timedelta(minutes=15 * max(period)) + timedelta(minutes=15)
        for scope in ({}, {"project": alpha}):
            rolled, plain = both_ways(start, end, **scope)
            assert rolled == plain
        transaction.set_rollback(True)


def test_rolled_days_are_read_from_rollups_and_kept_exact_by_the_collector(fake_account, world, project):
    world.put(vm("v1", vcpus="2"))
    for minutes in range(0, 3 * 24 * 60 + 1, 360):  # three days, every 6 hours
        world.now = T0 + timedelta(minutes=minutes)
        collector.refresh(fake_account)
    # each refresh that crossed a midnight rolled the day that had just ended
    assert set(RolledDay.objects.values_list("day", flat=True)) == {T0.date() + timedelta(days=d) for d in range(3)}
    call_command("rollup_usage", "--start", "2026-11-03", "--end", "2026-11-05", stdout=open("/dev/null", "w"))
    assert RolledDay.objects.count() == 4
    # a rolled day still open (today, rolled on demand) follows the collector's next writes
    world.put(vm("v1", vcpus="4"))
    world.now = T0 + timedelta(days=3, hours=3)
    collector.refresh(fake_account)
    start, end = T0 + timedelta(hours=7), T0 + timedelta(days=4)
    rolled, plain = both_ways(start, end, project=project)
    assert rolled == plain and rolled
    with CaptureQueriesContext(connection) as ctx:
        usage_report(start, end, project=project)
    [grouped] = [q["sql"] for q in ctx.captured_queries if "SUM(us)" in q["sql"]]
    assert "metering_dailyusage" in grouped  # whole rolled days come from the rollups
    assert DailyUsage.objects.filter(day=T0.date() + timedelta(days=3)).count() == 2  # 2 vCPUs, then 4


def test_rollup_command_refuses_a_bad_period(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="expected a date"):
        call_command("rollup_usage", "--start", "nope", "--end", "2026-11-05")


def test_daily_chart_reads_rolled_days_and_matches_the_segments(fake_account, world, project):
    from portal.web.daily import vcpu_hours_by_day

    world.put(vm("v1", vcpus="2"))
    world.put(vm("v2", vcpus="1", state=State.STOPPED))
    for minutes in range(0, 3 * 24 * 60 + 1, 360):
        if minutes == 30 * 60:
            world.put(vm("v1", vcpus="8"))
        world.now = T0 + timedelta(minutes=minutes, seconds=7)
        collector.refresh(fake_account)
    start, end = T0 + timedelta(hours=5), T0 + timedelta(days=4)
    with CaptureQueriesContext(connection) as ctx:
        days, rolled = vcpu_hours_by_day(start, end, UTC, [project.pk])
    assert any("metering_dailyusage" in q["sql"] for q in ctx.captured_queries)
    RolledDay.objects.all().delete()
    _, plain = vcpu_hours_by_day(start, end, UTC, [project.pk])
    assert rolled.keys() == plain.keys() and len(days) == 4
    for name in plain:
        assert rolled[name] == pytest.approx(plain[name], abs=1e-5)
    assert plain["fake1"][1] == pytest.approx(2 * 6 + 8 * 18 + 24, abs=0.02)  # Nov 2: resized at 06:00:07
