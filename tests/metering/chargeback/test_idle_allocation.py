"""Idle host capacity spread by allocation rules, the README's worked examples to the cent.

Host kvm-01: 16 vCPU, 64 GiB, 730.00 a month, cpu_share 0.5, so a vCPU-hour costs
730 x 0.5 / (16 x 730) = 0.03125 and a RAM GiB-hour 730 x 0.5 / (64 x 730) = 0.0078125.
November is 720 h: the host costs 730.00 x 720 / 730 = 720.00.
Covered: alpha a1 4 vCPU 8 GiB all month: 720 x (4 x 0.03125 + 8 x 0.0078125) = 720 x 0.1875 = 135.00;
beta b1 2 vCPU 16 GiB from Nov 16 (360 h): 360 x 0.1875 = 67.50;
gamma g1 1 vCPU 2 GiB for 10 days (240 h): 240 x 0.046875 = 11.25.
Covered 213.75, idle 720.00 - 213.75 = 506.25. Each project's plan charges the same internal prices.
"""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from metering.chargeback import memo
from metering.chargeback.engine import build_statement
from metering.chargeback.idle import idle_capacity
from metering.models import AllocationRule, HostCost, Project, Resource
from providers.base import Kind, ObservedResource, State
from tests.conftest import vm
from tests.metering.chargeback.conftest import DEC, NOV, day, make_plan

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def host(ledger, project):
    make_plan(vcpu_hours="0.03125", ram_gb_hours="0.0078125")
    Project.objects.create(slug="beta", name="Beta")
    Project.objects.create(slug="gamma", name="Gamma")
    kvm = ObservedResource("kvm-01", Kind.HOST, "kvm-01", State.RUNNING, vcpus=D(16), ram_mb=65536)
    a = vm("a1", vcpus="4", ram_mb=8192, parent_external_id="kvm-01", started_at=NOV)
    b = vm("b1", vcpus="2", ram_mb=16384, project="beta", parent_external_id="kvm-01", started_at=day(15))
    g = vm("g1", vcpus="1", ram_mb=2048, project="gamma", parent_external_id="kvm-01", started_at=NOV)
    ledger.at(day(0), kvm, a, g)
    ledger.at(day(10), kvm, a, g)
    ledger.at(day(15), kvm, a, b)  # g1 deleted after 10 days: its segment ends at its last observation
    ledger.at(DEC, kvm, a, b)
    host = Resource.objects.get(external_id="kvm-01")
    HostCost.objects.create(host=host, monthly_hardware_cost=D("730.00"), cpu_share=D("0.5"))
    return host


def idle_rule(method="even", **kw) -> AllocationRule:
    return AllocationRule.objects.create(name=f"idle-{method}", spreads="idle", method=method, **kw)


def shares_by_slug(row) -> dict:
    return {Project.objects.get(pk=pk).slug: v for pk, v in row.shares.items()}


def test_the_idle_line_left_idle_without_a_rule(host):
    [row] = idle_capacity(NOV, DEC)
    assert (row.label, row.cost, row.covered, row.idle, row.distributed, row.left) == (
        "host kvm-01", D("720.00"), D("213.75"), D("506.25"), D(0), D("506.25"))
    assert row.rule is None and row.description() == ""
    assert not [x for x in build_statement(Project.objects.get(slug="alpha"), NOV, DEC).lines
                if x.measure == "allocated"]


@pytest.mark.parametrize("method,extra,expected", [
    # 50625 cents / 3 = 16875 each
    ("even", {}, {"alpha": "168.75", "beta": "168.75", "gamma": "168.75"}),
    # 135.00 : 67.50 : 11.25 = 12 : 6 : 1 -> 31973.68, 15986.84, 2664.47; 2 cents left: beta (.84), alpha (.68)
    ("cost", {}, {"alpha": "319.74", "beta": "159.87", "gamma": "26.64"}),
    # vCPU-hours 2880 : 720 : 240 = 12 : 3 : 1 -> 37968.75, 9492.1875, 3164.0625; 1 cent left: alpha (.75)
    ("measure", {"measure": "vcpu_hours"}, {"alpha": "379.69", "beta": "94.92", "gamma": "31.64"}),
    # RAM GiB-hours 5760 : 5760 : 480 = 12 : 12 : 1 -> 24300 each, 2025
    ("measure", {"measure": "ram_gb_hours"}, {"alpha": "243.00", "beta": "243.00", "gamma": "20.25"}),
    # alpha 3, beta 1 (gamma 0) -> 37968.75, 12656.25; 1 cent left: alpha (.75)
    ("weights", {"weights": {"alpha": 3, "beta": 1}}, {"alpha": "379.69", "beta": "126.56"}),
])
def test_each_idle_method_to_the_cent(host, method, extra, expected):
    idle_rule(method, **extra)
    [row] = idle_capacity(NOV, DEC)
    assert shares_by_slug(row) == {k: D(v) for k, v in expected.items()}
    assert row.cost == row.covered + row.distributed + row.left == D("720.00") and row.left == 0


def test_statements_show_the_idle_share_and_everything_adds_up_to_the_host(host):
    idle_rule("measure", measure="vcpu_hours")
    alpha = build_statement(Project.objects.get(slug="alpha"), NOV, DEC)
    [line] = [x for x in alpha.lines if x.measure == "allocated"]
    assert (line.resource_name, line.description, line.quantity, line.unit_price, line.amount) == (
        "idle-measure", "allocated from idle capacity of host kvm-01 by vCPU-hours", D("379.69"), D(1), D("379.69"))
    direct = sum(x.amount for x in alpha.lines if x.measure != "allocated")
    assert (direct, alpha.total) == (D("135.00"), D("514.69"))  # 90.00 vCPU + 45.00 RAM, plus the share
    totals = {p.slug: build_statement(p, NOV, DEC).total for p in Project.objects.all()}
    assert totals == {"alpha": D("514.69"), "beta": D("162.42"), "gamma": D("42.89")}
    assert sum(totals.values()) == D("720.00")  # the host's cost: nothing created or lost


def test_targets_outside_the_pool_currency_or_unpriced_leave_their_part_idle(host):
    from metering.models import ProjectRatePlan, RatePlan

    usd = RatePlan.objects.create(name="usd", currency="USD")
    ProjectRatePlan.objects.create(project=Project.objects.get(slug="gamma"), plan=usd,
                                      effective_from=datetime(2026, 1, 1, tzinfo=UTC))
    rule = idle_rule("cost")
    rule.targets.set(Project.objects.filter(slug__in=["alpha", "gamma"]))
    [row] = idle_capacity(NOV, DEC)
    assert shares_by_slug(row) == {"alpha": D("506.25")}  # gamma is billed in USD: not a target
    rule.targets.set(Project.objects.filter(slug="gamma"))
    [row] = idle_capacity(NOV, DEC)
    assert (row.distributed, row.left) == (D(0), D("506.25"))


def test_a_rule_naming_the_host_wins_over_a_catch_all(host):
    idle_rule("even")
    named = AllocationRule.objects.create(name="kvm only", spreads="idle", method="weights", weights={"beta": 1})
    named.hosts.set([host])
    [row] = idle_capacity(NOV, DEC)
    assert row.rule == named and shares_by_slug(row) == {"beta": D("506.25")}


def test_idle_rules_are_validated(host):
    with pytest.raises(ValidationError, match="leave empty"):
        AllocationRule(name="x", spreads="idle", source=Project.objects.get(slug="alpha")).full_clean()
    with pytest.raises(ValidationError, match="idle capacity is used by VMs"):
        AllocationRule(name="y", spreads="idle", method="measure", measure="container_hours").full_clean()
    with pytest.raises(ValidationError, match="choose the shared project"):
        AllocationRule(name="z", method="even").full_clean()
    AllocationRule(name="ok", spreads="idle", method="measure", measure="ram_gb_hours").full_clean()


def test_idle_is_computed_once_per_memo_scope(host, django_assert_max_num_queries):
    idle_rule("even")
    with memo.scope():
        first = idle_capacity(NOV, DEC)
        with django_assert_max_num_queries(0):
            assert idle_capacity(NOV, DEC) is first
    assert idle_capacity(NOV, DEC) is not first  # outside a scope nothing is kept
