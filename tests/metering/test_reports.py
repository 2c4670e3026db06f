"""The usage report: clipping to the period, measures by kind, estimated hours, exact Decimals."""

from datetime import timedelta
from decimal import Decimal

import pytest

from metering import collector
from metering.choices import Measure
from metering.reports import PeriodError, usage_report
from providers.base import Kind, State
from tests.conftest import T0, vm

pytestmark = pytest.mark.django_db


def refresh_at(account, world, at):
    world.now = at
    return collector.refresh(account)


def test_report_clips_segments_and_counts_each_measure(fake_account, world, project):
    world.put(vm("v1", vcpus="2", ram_mb=4096, disk_gb="20"))
    world.put(vm("c1", kind=Kind.CONTAINER, vcpus="0.5", ram_mb=512, disk_gb=None))
    for minutes in range(0, 125, 5):  # 10:00 .. 12:00 every 5 minutes
        if minutes == 60:
            world.put(vm("v1", state=State.STOPPED, vcpus="2", ram_mb=4096, disk_gb="20"))
        refresh_at(fake_account, world, T0 + timedelta(minutes=minutes))
    # period: the middle 90 minutes, [00:30, 02:00)
    report = usage_report(T0 + timedelta(minutes=30), T0 + timedelta(hours=2), project=project)
    by_name = {r.name: r.measures for r in report.rows}
    v1, c1 = by_name["v1"], by_name["c1"]
    assert v1[Measure.INSTANCE_HOURS] == Decimal("1.5")
    assert v1[Measure.RUNNING_HOURS] == Decimal("0.5")  # stopped from 01:00
    assert v1[Measure.VCPU_HOURS] == Decimal("3")  # allocated while it exists, as Nova counts
    assert v1[Measure.RAM_GB_HOURS] == Decimal("6")
    assert v1[Measure.DISK_GB_HOURS] == Decimal("30")
    assert c1[Measure.CONTAINER_HOURS] == Decimal("1.5") and c1[Measure.INSTANCE_HOURS] == 0
    assert c1[Measure.VCPU_HOURS] == Decimal("0.75") and c1[Measure.RAM_GB_HOURS] == Decimal("0.75")
    assert report.totals[Measure.VCPU_HOURS] == Decimal("3.75")
    assert report.totals[Measure.ESTIMATED_HOURS] == 0


def test_estimated_hours_and_odd_microseconds_are_exact(fake_account, world, project):
    world.put(vm("v1", vcpus="3"))
    refresh_at(fake_account, world, T0 + timedelta(microseconds=123457))
    refresh_at(fake_account, world, T0 + timedelta(hours=5, microseconds=123457))  # untrusted gap
    report = usage_report(T0, T0 + timedelta(days=1), project=project)
    [row] = report.rows
    assert row.measures[Measure.ESTIMATED_HOURS] == Decimal("5") and row.estimated
    assert row.measures[Measure.VCPU_HOURS] == Decimal("15")


def test_end_before_start_is_refused(db):
    with pytest.raises(PeriodError, match="must be after"):
        usage_report(T0, T0)


def test_report_reads_sums_and_resources_in_one_statement(fake_account, world, project):
    """Issue 21: the exact sums per resource and the resources' own columns (provider, project slug,
    labels, start time) come from one statement; only the used measures (hourly rollups) are a
    second. Each extra query per report costs ~a floor's worth at 10,000 resources."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for i in range(12):
        world.put(vm(f"v{i}", vcpus="1.5", labels={"team": f"t{i % 3}"}, started_at=T0))
    refresh_at(fake_account, world, T0)
    refresh_at(fake_account, world, T0 + timedelta(hours=1))
    with CaptureQueriesContext(connection) as ctx:
        report = usage_report(T0, T0 + timedelta(hours=2), project=project)
    assert len(ctx.captured_queries) == 2, [q["sql"][:80] for q in ctx.captured_queries]
    row = report.rows[0]
    assert (row.name, row.project, row.provider, row.labels) == ("v0", "alpha", fake_account.name, {"team": "t0"})
    assert row.vcpus == Decimal("1.500") and row.started_at is not None and row.started_at.utcoffset() == timedelta(0)
    assert row.measures[Measure.VCPU_HOURS] == Decimal("1.5")
