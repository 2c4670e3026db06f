"""The `usage` command and the usage CSV: summary, per-resource rows, safe cells, clear errors."""

import csv
import io
import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from metering import collector
from metering.export import csv_stream, safe_cell
from tests.conftest import T0, vm

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def history(fake_account, world, project):
    world.put(vm("v1", name="=HYPERLINK(\"http://evil\")", vcpus="2", ram_mb=2048))
    world.put(vm("v2", name="db-1", vcpus="4", ram_mb=8192))
    for minutes in range(0, 65, 5):
        world.now = T0 + timedelta(minutes=minutes)
        collector.refresh(fake_account)


def test_usage_csv_has_summary_and_rows_and_neutralises_formulas(history):
    text = run("usage", "--project", "alpha", "--start", "2026-11-01", "--end", "2026-11-02")
    rows = list(csv.reader(io.StringIO(text)))
    summary = {r[0]: r[1] for r in rows if len(r) == 2}
    assert summary["Total vCPU-hours (vCPU-hour)"] == "6.000000"
    assert summary["Active VMs"] == "2"
    header_at = next(i for i, r in enumerate(rows) if r and r[0] == "Name")
    table = [dict(zip(rows[header_at], r, strict=True)) for r in rows[header_at + 1:]]
    names = {r["Name"] for r in table}
    assert names == {"'=HYPERLINK(\"http://evil\")", "db-1"}
    db = next(r for r in table if r["Name"] == "db-1")
    assert db["RAM GiB-hours (GiB-hour)"] == "8.000000" and db["Estimated"] == "no"


def test_usage_json_matches(history):
    data = json.loads(run("usage", "--project", "alpha", "--start", "2026-11-01", "--end", "2026-11-02",
                          "--format", "json"))
    assert data["totals"]["vcpu_hours"] == "6.000000"
    assert len(data["resources"]) == 2


@pytest.mark.parametrize("args, message", [
    (["--start", "2026-13-01", "--end", "2026-11-02"], "--start '2026-13-01': expected a date"),
    (["--start", "2026-11-02", "--end", "2026-11-01"], "must be after start"),
    (["--start", "2026-11-01", "--end", "2026-11-02", "--tz", "Mars/Base"], "unknown timezone"),
])
def test_usage_bad_periods_are_usage_errors(project, args, message):
    with pytest.raises(CommandError) as err:
        call_command("usage", "--project", "alpha", *args)
    assert err.value.returncode == 2 and message in str(err.value)


def test_safe_cell_leaves_numbers_alone():
    from decimal import Decimal

    assert safe_cell(Decimal("-1.50")) == "-1.50"
    assert safe_cell("-1.50") == "'-1.50"
    assert safe_cell("@SUM(A1)") == "'@SUM(A1)" and safe_cell("\tx") == "'\tx" and safe_cell("ok") == "ok"
    assert list(csv_stream([["a", "+1"]])) == ["a,'+1\r\n"]
