"""Issue 21: on PostgreSQL the hourly utilization rollups are written by one INSERT .. SELECT ..
ON CONFLICT statement; its rows equal the ORM computation's (which SQLite uses)."""

import pytest
from django.db import connection

from metering import rollups
from metering.models import UtilizationRollup
from tests.conftest import T0

pytestmark = pytest.mark.django_db

FIELDS = ("resource_id", "hour", "samples", "cpu_pct_avg", "cpu_pct_max", "cpu_core_seconds", "memory_avg_mb",
          "memory_max_mb", "memory_mb_seconds", "net_bytes", "disk_bytes")


def rows():
    return sorted(UtilizationRollup.objects.values_list(*FIELDS))


def test_sql_rollups_equal_the_orm_rollups(make_account):
    if connection.vendor != "postgresql":
        pytest.skip("the single-statement rollup is PostgreSQL's; SQLite uses the ORM path tested everywhere")
    from datetime import timedelta

    from devsim.fake import FakeDriver
    from tests.portal.web.conftest import build_dashboard

    dashboard = build_dashboard(make_account, "rollups-sql")
    FakeDriver.worlds.pop("rollups-sql", None)
    lo, hi = T0, T0 + timedelta(hours=3)
    UtilizationRollup.objects.all().delete()
    assert rollups._rollup_hours_orm(lo, hi, dashboard["account"]) > 0
    expected = rows()
    UtilizationRollup.objects.update(samples=0, cpu_core_seconds=-1)  # the upsert must overwrite these
    rollups._rollup_hours_sql(lo, hi, dashboard["account"])
    got = rows()
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        assert a[:3] == b[:3]
        assert a[3:] == pytest.approx(b[3:], rel=1e-9, nan_ok=True) if None not in a[3:] + b[3:] else a[3:] == b[3:]
