"""Cost by label: one key or two nested, an unlabelled bucket, fixed costs apart, inheritance from a
VM to its containers (never from a host), and buckets that add up to the statements exactly."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from metering.chargeback import by_label
from metering.chargeback.engine import build_statement
from metering.models import FixedCost, Project
from providers.base import Kind
from tests.conftest import vm
from tests.metering.chargeback.conftest import DEC, NOV, day, make_plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def month(ledger, project):
    """vCPU-hours at 0.01 (worked example in the README):
    alpha: web 2 vCPU x 720 h = 14.40 (team=web, env=prod); its container c1 1 vCPU x 720 h = 7.20
    (no labels: inherits web's); db 4 vCPU x 720 h = 28.80 (team=data); tmp 1 vCPU x 360 h = 3.60
    (no labels; its parent is host h1, team=infra, which is not inherited); support 100.00 fixed.
    beta: b1 1 vCPU x 720 h = 7.20 (team=web, env=dev)."""
    make_plan(vcpu_hours="0.01")
    Project.objects.create(slug="beta", name="Beta")
    FixedCost.objects.create(project=project, name="support", monthly_amount=Decimal("100.00"),
                             effective_from=datetime(2026, 1, 1, tzinfo=UTC))
    h1 = vm("h1", kind=Kind.HOST, vcpus="64", labels={"team": "infra"}, project=None)
    web = vm("web", vcpus="2", started_at=NOV, labels={"team": "web", "env": "prod"})
    c1 = vm("c1", vcpus="1", kind=Kind.CONTAINER, parent_external_id="web", started_at=NOV)
    db = vm("db", vcpus="4", started_at=NOV, labels={"team": "data"})
    tmp = vm("tmp", vcpus="1", parent_external_id="h1", started_at=NOV)
    b1 = vm("b1", vcpus="1", project="beta", started_at=NOV, labels={"team": "web", "env": "dev"})
    ledger.at(day(0), h1, web, c1, db, tmp, b1)
    ledger.at(day(15), h1, web, c1, db, tmp, b1)
    ledger.at(DEC, h1, web, c1, db, b1)  # tmp went away after 15 days
    return ledger


def cost(report, *values):
    bucket = next(b for b in report.buckets if b.values == values)
    return bucket.cost["EUR"]


def test_one_key_with_inheritance_unlabelled_and_fixed(month):
    report = by_label.cost_by_label(["team"], NOV, DEC)
    assert [b.values for b in report.buckets] == [("data",), ("web",), ("(fixed costs)",), ("(unlabelled)",)]
    assert cost(report, "web") == Decimal("28.80")  # 14.40 + 7.20 (c1 inherits) + 7.20 (beta)
    assert cost(report, "data") == Decimal("28.80")
    assert cost(report, "(unlabelled)") == Decimal("3.60")  # tmp: its host's team=infra is not inherited
    assert cost(report, "(fixed costs)") == Decimal("100.00")
    statements = [build_statement(Project.objects.get(slug=s), NOV, DEC).total for s in ("alpha", "beta")]
    assert sum(b.cost["EUR"] for b in report.buckets) == report.totals["EUR"] == sum(statements) == Decimal("161.20")
    web = next(b for b in report.buckets if b.values == ("web",))
    assert web.resource_count == 3 and web.measures["vcpu_hours"] == Decimal(2880)  # (2 + 1 + 1) x 720
    assert "infra" not in {b.values[0] for b in report.buckets}


def test_two_keys_nested(month):
    report = by_label.cost_by_label(["team", "env"], NOV, DEC)
    got = {b.values: b.cost["EUR"] for b in report.buckets}
    assert got == {("data", "(unlabelled)"): Decimal("28.80"), ("web", "dev"): Decimal("7.20"),
                   ("web", "prod"): Decimal("21.60"), ("(fixed costs)", "(fixed costs)"): Decimal("100.00"),
                   ("(unlabelled)", "(unlabelled)"): Decimal("3.60")}


def test_one_project_and_bad_keys(month, project):
    report = by_label.cost_by_label(["team"], NOV, DEC, projects=[project])
    assert report.totals == {"EUR": Decimal("154.00")} and cost(report, "web") == Decimal("21.60")
    for keys, message in (([], "give a label key"), (["a", "b", "c"], "at most 2"), (["x" * 300], "too long")):
        with pytest.raises(by_label.LabelReportError, match=message):
            by_label.cost_by_label(keys, NOV, DEC)


def test_csv_rows_end_with_the_total(month):
    rows = list(by_label.label_rows(by_label.cost_by_label(["team"], NOV, DEC)))
    assert rows[0][0] == "team" and rows[0][-1] == "Cost (EUR)"
    assert rows[-1][0] == "Total" and rows[-1][-1] == Decimal("161.20")


def test_the_api_answers_the_same_buckets(month, client, django_user_model):
    staff = django_user_model.objects.create_user("boss", password="pw", is_staff=True)
    client.force_login(staff)
    data = client.get("/api/v1/costs-by-label/", {"key": "team", "key2": "env", "start": "2026-11-01",
                                                  "end": "2026-12-01"}).json()
    got = {tuple(b["values"]): b["cost"]["EUR"] for b in data["buckets"]}
    assert got[("web", "prod")] == "21.60" and data["totals"] == {"EUR": "161.20"}
    bad = client.get("/api/v1/costs-by-label/", {"key": "x" * 300, "start": "2026-11-01", "end": "2026-12-01"})
    assert bad.status_code == 400 and "key" in bad.json()
