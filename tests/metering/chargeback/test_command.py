"""``chargeback``: CSV and JSON, --issue, --showback, --all-projects; bad arguments exit 2."""

import csv
import io
import json
import subprocess
import sys
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from metering.models import Project, Statement
from tests.conftest import vm
from tests.metering.chargeback.conftest import DEC, day, make_plan

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[3]


def run(*args) -> str:
    out = StringIO()
    call_command("chargeback", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def billed(ledger, project):
    make_plan(vcpu_hours="0.01")
    v = vm("=HYPERLINK(evil)", vcpus="2", started_at=day(0))
    ledger.at(day(0), v)
    ledger.at(DEC, v)


def test_csv_is_safe_and_adds_up(billed):
    rows = list(csv.reader(io.StringIO(run("--project", "alpha", "--period", "2026-11"))))
    assert rows[0] == ["Statement", "alpha"] and ["Total", "14.40"] in rows  # 2 x 720 x 0.01
    line = rows[rows.index(["Project", "Provider", "Resource", "Kind", "Measure", "Description", "From", "To",
                            "Quantity", "Unit", "Unit price", "Amount", "Estimated"]) + 1]
    assert line[2] == "'=HYPERLINK(evil)" and line[8:12] == ["1440.000000", "vCPU-hour", "0.01000000", "14.40"]


def test_json_issue_and_showback(billed, project):
    data = json.loads(run("--project", "alpha", "--start", "2026-11-01", "--end", "2026-11-16", "--format", "json",
                          "--issue"))
    # 15 days: 2 x 360 = 720 vCPU-h x 0.01 = 7.20
    assert data["total"] == "7.20" and data["revision"] == 1 and data["lines"][0]["quantity"] == "720.000000"
    assert Statement.objects.get(project=project, revision=1).total == Decimal("7.20")
    shown = json.loads(run("--project", "alpha", "--period", "2026-11", "--format", "json", "--showback"))
    assert shown["total"] is None and shown["lines"][0]["amount"] is None and shown["showback"] is True


def test_all_projects(billed):
    Project.objects.create(slug="beta", name="Beta")
    data = json.loads(run("--all-projects", "--period", "2026-11", "--format", "json"))
    assert [(d["project"], d["total"]) for d in data] == [("alpha", "14.40"), ("beta", "0.00")]


@pytest.mark.parametrize("args, message", [
    (["--project", "alpha", "--period", "2026-13"], "--period '2026-13'"),
    (["--project", "nope", "--period", "2026-11"], "--project 'nope': no such project"),
    (["--project", "alpha"], "give --period"),
    (["--project", "alpha", "--period", "2026-11", "--start", "2026-11-01"], "not both"),
])
def test_bad_arguments_exit_2(db, project, args, message):
    with pytest.raises(CommandError, match=message) as exc:
        run(*args)
    assert exc.value.returncode == 2


def test_bad_period_from_the_shell_is_one_line_and_exit_2():
    proc = subprocess.run([sys.executable, "manage.py", "chargeback", "--project", "x", "--period", "11-2026"],
                          cwd=ROOT, capture_output=True, text=True, env={"DJANGO_SETTINGS_MODULE": "portal.settings.test",
                                                                          "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "--period" in proc.stderr
