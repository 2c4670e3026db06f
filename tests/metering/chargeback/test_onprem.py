"""The on-premises cost model, rates derived from it, idle cost and the public-cloud comparison."""

from decimal import Decimal

import pytest

from metering.chargeback.engine import build_statement
from metering.chargeback.onprem import account_model, apply_to_plan, cheapest, compare, model_of
from metering.choices import Measure
from metering.models import HostCost, PriceSheet, PriceSheetEntry, Project, Rate, RatePlan, Resource
from providers.base import Kind, ObservedResource, State
from tests.conftest import vm
from tests.metering.chargeback.conftest import DEC, NOV, day

pytestmark = pytest.mark.django_db

# h1: 32 vCPU, 128 GiB; 500.00 hardware + 0.4 kW x 730 h x 0.25/kWh x PUE 1.5 = 109.50 energy -> 609.50 a month
# vCPU-hour = 609.50 x 0.6 / (32 x 730) = 0.01565497; RAM GiB-hour = 609.50 x 0.4 / (128 x 730) = 0.00260916
VCPU_HOUR, RAM_GB_HOUR = Decimal("0.01565497"), Decimal("0.00260916")


@pytest.fixture
def host(ledger, project):
    Project.objects.create(slug="beta", name="Beta")
    h1 = ObservedResource("h1", Kind.HOST, "h1", State.RUNNING, vcpus=Decimal(32), ram_mb=131072)
    a = vm("a", vcpus="4", ram_mb=16384, parent_external_id="h1", started_at=day(0))
    b = vm("b", vcpus="2", ram_mb=8192, project="beta", parent_external_id="h1", started_at=day(15))
    ledger.at(day(0), h1, a)
    ledger.at(day(15), h1, a, b)  # b created Nov 16 00:00
    ledger.at(DEC, h1, a, b)
    host = Resource.objects.get(external_id="h1")
    HostCost.objects.create(host=host, monthly_hardware_cost=Decimal("500.00"), power_watts=Decimal(400),
                            electricity_price_kwh=Decimal("0.25"), pue=Decimal("1.5"), cpu_share=Decimal("0.6"))
    return host


@pytest.fixture
def sheet(db):
    sheet = PriceSheet.objects.create(name="public", currency="EUR")
    for name, vcpus, ram_mb, price in [("s2", 2, 8192, "0.10"), ("c4", 4, 8192, "0.15"), ("m4", 4, 16384, "0.20"),
                                       ("l8", 8, 32768, "0.40")]:
        PriceSheetEntry.objects.create(sheet=sheet, name=name, vcpus=vcpus, ram_mb=ram_mb,
                                       hourly_price=Decimal(price))
    return sheet


def test_internal_prices_follow_the_split_rule(host):
    m = model_of(host.cost)
    assert m.monthly_cost == Decimal("609.50") and (m.vcpus, m.ram_gb) == (32, 128)
    assert (m.vcpu_hour, m.ram_gb_hour) == (VCPU_HOUR, RAM_GB_HOUR)
    # a full host recovers its monthly cost: 730 h x (32 x vCPU-hour + 128 x GiB-hour) = 609.50 within rounding
    assert abs(730 * (32 * m.vcpu_hour + 128 * m.ram_gb_hour) - m.monthly_cost) < Decimal("0.01")


def test_apply_to_plan_writes_account_rates_and_closes_old_ones(host, project, fake_account):
    plan = RatePlan.objects.create(name="internal", is_default=True)
    apply_to_plan(plan, fake_account, effective_from=NOV)
    assert account_model(fake_account).vcpu_hour == VCPU_HOUR
    d = build_statement(project, NOV, DEC)
    # a: 720 h x 4 vCPU = 2880 x 0.01565497 = 45.0863136 -> 45.09; 720 x 16 GiB = 11520 x 0.00260916 = 30.0575232 -> 30.06
    assert {x.measure: x.amount for x in d.lines} == {Measure.VCPU_HOURS: Decimal("45.09"),
                                                      Measure.RAM_GB_HOURS: Decimal("30.06")}
    host.cost.monthly_hardware_cost = Decimal("1000.00")
    host.cost.save()
    apply_to_plan(plan, fake_account, effective_from=day(15))
    vcpu = list(Rate.objects.filter(plan=plan, measure=Measure.VCPU_HOURS).order_by("effective_from"))
    assert [(r.effective_from, r.effective_to) for r in vcpu] == [(NOV, day(15)), (day(15), None)]
    assert vcpu[1].unit_price > vcpu[0].unit_price


def test_comparison_with_idle_cost_shared_by_use(host, sheet):
    c = compare(NOV, DEC, sheet, share_idle=True)
    by = {p.project: p for p in c.projects}
    # alpha: 720 h x (4 x 0.01565497 + 16 x 0.00260916) = 720 x 0.10436644 = 75.1438368 -> 75.14
    # beta: 360 h x (2 x 0.01565497 + 8 x 0.00260916) = 360 x 0.05218322 = 18.7859592 -> 18.79
    assert (by["alpha"].internal, by["beta"].internal) == (Decimal("75.14"), Decimal("18.79"))
    # host over November: 609.50 x 720 / 730 = 601.150685 -> 601.15; idle = 601.150685 - 93.929796 = 507.220889
    [h] = c.hosts
    assert (h.name, h.period_cost, h.allocated, h.idle) == ("h1", Decimal("601.15"), Decimal("93.93"),
                                                            Decimal("507.22"))
    # idle shared 75.1438368 : 18.7859592 -> 405.776711 -> 405.78 and 101.444178 -> 101.44
    assert (by["alpha"].idle_share, by["beta"].idle_share) == (Decimal("405.78"), Decimal("101.44"))
    # public: alpha needs 4 vCPU / 16 GiB -> m4 (c4 is cheaper but has 8 GiB): 720 x 0.20 = 144.00
    #         beta needs 2 vCPU / 8 GiB -> s2: 360 x 0.10 = 36.00
    assert (by["alpha"].public, by["beta"].public) == (Decimal("144.00"), Decimal("36.00"))
    assert compare(NOV, DEC, sheet).projects[0].idle_share == 0


def test_cheapest_size_that_fits(sheet):
    entries = list(sheet.entries.order_by("hourly_price"))
    assert cheapest(entries, Decimal(3), 4096).name == "c4"
    assert cheapest(entries, Decimal(1), 20000).name == "l8"
    assert cheapest(entries, Decimal(64), 1024) is None


def test_a_host_without_a_cost_does_not_count_its_neighbours_cost_twice(ledger, project, sheet):
    """A VM on a host with no cost of its own is priced at the account's pooled rates, but the pool
    is the other hosts' costs: listing it as a capacity of its own would count h1's cost twice."""
    h1 = ObservedResource("h1", Kind.HOST, "h1", State.RUNNING, vcpus=Decimal(32), ram_mb=131072)
    h2 = ObservedResource("h2", Kind.HOST, "h2", State.RUNNING, vcpus=Decimal(8), ram_mb=32768)
    a = vm("a", vcpus="4", ram_mb=16384, parent_external_id="h1", started_at=day(0))
    c = vm("c", vcpus="1", ram_mb=1024, parent_external_id="h2", started_at=day(0))
    ledger.at(day(0), h1, h2, a, c)
    ledger.at(DEC, h1, h2, a, c)
    HostCost.objects.create(host=Resource.objects.get(external_id="h1"), monthly_hardware_cost=Decimal("500.00"),
                            power_watts=Decimal(400), electricity_price_kwh=Decimal("0.25"), pue=Decimal("1.5"),
                            cpu_share=Decimal("0.6"))
    result = compare(NOV, DEC, sheet)
    assert [h.name for h in result.hosts] == ["h1"]
    assert sum(h.period_cost for h in result.hosts) == Decimal("601.15")
    # c is still priced at the pooled internal rates: 720 h x (0.01565497 + 0.00260916) = 13.1501736
    # a: 75.1438368; together 88.2940104 -> 88.29
    assert {p.project: p.internal for p in result.projects}["alpha"] == Decimal("88.29")


def test_host_costs_in_two_currencies_are_not_added_together(ledger, project, sheet):
    """Internal costs of VMs on an EUR host and a USD host cannot make one EUR figure: the
    comparison says so (the overview shows the message) instead of adding dollars to euros."""
    h1 = ObservedResource("h1", Kind.HOST, "h1", State.RUNNING, vcpus=Decimal(32), ram_mb=131072)
    h2 = ObservedResource("h2", Kind.HOST, "h2", State.RUNNING, vcpus=Decimal(8), ram_mb=32768)
    a = vm("a", vcpus="4", ram_mb=16384, parent_external_id="h1", started_at=day(0))
    c = vm("c", vcpus="1", ram_mb=1024, parent_external_id="h2", started_at=day(0))
    ledger.at(day(0), h1, h2, a, c)
    ledger.at(DEC, h1, h2, a, c)
    for name, currency in (("h1", "EUR"), ("h2", "USD")):
        HostCost.objects.create(host=Resource.objects.get(external_id=name), currency=currency,
                                monthly_hardware_cost=Decimal("500.00"))
    with pytest.raises(ValueError, match="host costs use several currencies: EUR, USD"):
        compare(NOV, DEC, sheet)


def test_rows_read_do_not_grow_with_the_segments(host, sheet):
    """One row per pool (or account), project and size is read, not one per segment; idle capacity
    reads only the VMs a pool covers: 120 segments of an account without a cost add no row there,
    and one row (one size, one project) to the comparison, whose figures stay the same."""
    from datetime import timedelta

    from metering.chargeback.onprem import vm_uses
    from metering.models import UsageSegment
    from providers.models import ProviderAccount

    pools, every = vm_uses(NOV, DEC)
    before = compare(NOV, DEC, sheet, share_idle=True)
    other = ProviderAccount(name="unrelated", kind="fake", settings={"world": "unrelated"})
    other.credentials = {}
    other.save()
    for i in range(3):
        r = Resource.objects.create(account=other, external_id=f"u{i}", kind=Kind.VM, name=f"u{i}",
                                    state=State.RUNNING, vcpus=Decimal(2), ram_mb=4096, first_seen=NOV, last_seen=DEC)
        UsageSegment.objects.bulk_create(
            UsageSegment(resource=r, account=other, kind=Kind.VM, state=State.RUNNING, vcpus=Decimal(2), ram_mb=4096,
                         start=NOV + timedelta(hours=h), end=NOV + timedelta(hours=h + 1), open=False)
            for h in range(40))
    pools_after, every_after = vm_uses(NOV, DEC)
    assert len(every_after) == len(every) + 1
    assert {u.hours for u in every_after} - {u.hours for u in every} == {Decimal(120)}
    _, pooled = vm_uses(NOV, DEC, pooled_only=True)
    assert len(pooled) == len(every) and sum(u.internal for u in pooled) == sum(u.internal for u in every)
    assert [dict(p.covered) for p in pools_after] == [dict(p.covered) for p in pools]
    after = compare(NOV, DEC, sheet, share_idle=True)
    assert after.hosts == before.hosts
    assert [(p.project, p.internal, p.idle_share, p.public) for p in after.projects if p.project] == [
        (p.project, p.internal, p.idle_share, p.public) for p in before.projects if p.project]
    # the unrelated VMs: 120 h on "s2" (0.10) = 12.00 public, nothing internal (no cost in their account)
    [none] = [p for p in after.projects if p.project is None]
    assert (none.internal, none.public) == (Decimal(0), Decimal("12.00"))
