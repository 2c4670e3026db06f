"""Shared-cost allocation, the README's worked examples to the cent.

platform (the shared project) costs 100.00 EUR (a fixed cost). vCPU-hours at 0.01:
alpha 2 vCPU / 2 GiB all November = 14.40; beta 1 vCPU / 6 GiB all November = 7.20;
gamma 3 vCPU / 2 GiB for 10 days = 7.20.
"""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from metering.chargeback import allocation, statements
from metering.chargeback.engine import build_statement
from metering.models import AllocationRule, FixedCost, Project
from tests.conftest import vm
from tests.metering.chargeback.conftest import DEC, NOV, day, make_plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def projects(ledger, project):
    make_plan(vcpu_hours="0.01")
    platform = Project.objects.create(slug="platform", name="Platform")
    beta = Project.objects.create(slug="beta", name="Beta")
    gamma = Project.objects.create(slug="gamma", name="Gamma")
    FixedCost.objects.create(project=platform, name="monitoring", monthly_amount=Decimal("100.00"),
                             effective_from=datetime(2026, 1, 1, tzinfo=UTC))
    a = vm("a1", vcpus="2", ram_mb=2048, started_at=NOV)
    b = vm("b1", vcpus="1", ram_mb=6144, project="beta", started_at=NOV)
    g = vm("g1", vcpus="3", ram_mb=2048, project="gamma", started_at=NOV)
    ledger.at(day(0), a, b, g)
    ledger.at(day(10), a, b, g)
    ledger.at(DEC, a, b)  # gamma's VM ran 10 days
    return {p.slug: p for p in (project, platform, beta, gamma)}


def shares(rule) -> dict:
    share = allocation.compute(rule, NOV, DEC)
    return {Project.objects.get(pk=pk).slug: amount for pk, amount in share.shares.items()}


def rule(projects, method, **kw):
    return AllocationRule.objects.create(name=f"platform-{method}", source=projects["platform"], method=method, **kw)


@pytest.mark.parametrize("method,extra,expected", [
    ("even", {}, {"alpha": "33.34", "beta": "33.33", "gamma": "33.33"}),  # 100 / 3, the extra cent by slug
    ("cost", {}, {"alpha": "50.00", "beta": "25.00", "gamma": "25.00"}),  # 14.40 : 7.20 : 7.20
    ("measure", {"measure": "ram_gb_hours"}, {"alpha": "23.08", "beta": "69.23", "gamma": "7.69"}),  # 1440:4320:480
    ("weights", {"weights": {"alpha": 3, "beta": 1}}, {"alpha": "75.00", "beta": "25.00"}),
])
def test_each_method_to_the_cent(projects, method, extra, expected):
    got = shares(rule(projects, method, **extra))
    assert got == {k: Decimal(v) for k, v in expected.items()} and sum(got.values()) == Decimal("100.00")


def test_statements_show_the_share_and_still_add_up(projects):
    r = rule(projects, "cost")
    r.targets.set([projects["alpha"], projects["beta"]])  # gamma is not a target: 14.40 : 7.20
    alpha = build_statement(projects["alpha"], NOV, DEC)
    line = next(x for x in alpha.lines if x.measure == "allocated")
    assert (line.description, line.quantity, line.unit_price, line.amount) == (
        "allocated from platform by cost", Decimal("66.67"), Decimal(1), Decimal("66.67"))
    assert alpha.total == Decimal("14.40") + Decimal("66.67") == sum(x.amount for x in alpha.lines)
    platform = build_statement(projects["platform"], NOV, DEC)
    credit = next(x for x in platform.lines if x.measure == "allocated")
    assert (credit.description, credit.amount, platform.total) == (
        "allocated to 2 projects by cost", Decimal("-100.00"), Decimal("0.00"))
    everyone = sum(build_statement(p, NOV, DEC).total for p in projects.values())
    assert everyone == Decimal("128.80")  # 100 + 14.40 + 7.20 + 7.20: nothing created or lost
    issued = statements.issue(projects["beta"], NOV, DEC)
    assert issued.lines.get(measure="allocated").amount == Decimal("33.33")


def test_rules_are_validated(projects):
    bad = AllocationRule(name="x", source=projects["platform"], method="measure", measure="")
    with pytest.raises(ValidationError, match="choose one of"):
        bad.full_clean()
    bad = AllocationRule(name="y", source=projects["platform"], method="weights", weights={"alpha": -1})
    with pytest.raises(ValidationError, match="weight of 0 or more"):
        bad.full_clean()
    r = rule(projects, "even")
    r.targets.set([projects["alpha"]])
    loop = AllocationRule(name="z", source=projects["alpha"], method="even")
    with pytest.raises(ValidationError, match="cannot be both"):
        loop.full_clean()
    assert allocation.split_exactly(Decimal("0.05"), {"a": 1, "b": 1, "c": 1}, "EUR") == {
        "a": Decimal("0.02"), "b": Decimal("0.02"), "c": Decimal("0.01")}
    assert allocation.split_exactly(Decimal("10"), {"a": 1, "b": 2}, "JPY") == {"a": Decimal(3), "b": Decimal(7)}
