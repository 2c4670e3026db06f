"""Worked examples, priced by hand, against statements built from a ledger the real collector wrote.

November 2026 has 30 days = 720 hours. Every VM below is observed through the fake driver with
its clock; ``started_at`` vouches for gaps of days between observations (accounting rule 4).
"""

from decimal import Decimal

import pytest

from metering.chargeback.engine import FIXED_COST, build_statement
from metering.chargeback.money import line_amount, minor_unit
from metering.chargeback.rates import NoRatePlan, RateView, Subject, SubPeriod
from metering.choices import BillingMode, Measure
from metering.models import Project
from tests.conftest import vm
from tests.metering.chargeback.conftest import DEC, NOV, add_rate, day, make_plan
from tests.metering.chargeback.test_money_rules import assert_adds_up

pytestmark = pytest.mark.django_db
FIVE_MIN = day(0) - day(0) + (day(1) - day(0)) / 288


def lines_by(draft, measure):
    return [(x.resource_name, x.description, x.quantity, x.unit_price, x.amount)
            for x in draft.lines if x.measure == measure]


def test_resize_mid_month_is_time_weighted_and_split_by_flavor(ledger, project):
    plan = make_plan(vcpu_hours="0.01", ram_gb_hours="0.005", instance_hours="0.02")
    add_rate(plan, Measure.INSTANCE_HOURS, "0.05", flavor="m1.large")  # more specific: wins for m1.large
    small = vm("v1", vcpus="2", ram_mb=4096, flavor="m1.small", started_at=day(0))
    large = vm("v1", vcpus="4", ram_mb=8192, flavor="m1.large", started_at=day(0))
    ledger.at(day(0), small)
    ledger.at(day(10) - FIVE_MIN, small)
    ledger.at(day(10), large)  # resized on Nov 11 00:00
    ledger.at(DEC, large)
    d = build_statement(project, NOV, DEC)
    # small: 10 days = 240 h; large: 20 days = 480 h
    # vCPU-h: 2 x 240 = 480 -> 4.80; 4 x 480 = 1920 -> 19.20 (not 4 x 720 x 0.01 = 28.80 at the latest size)
    assert lines_by(d, Measure.VCPU_HOURS) == [
        ("v1", "flavor m1.large", Decimal("1920"), Decimal("0.01"), Decimal("19.20")),
        ("v1", "flavor m1.small", Decimal("480"), Decimal("0.01"), Decimal("4.80")),
    ]
    # RAM GiB-h: 4 x 240 = 960 -> 4.80; 8 x 480 = 3840 -> 19.20
    assert sum(x[4] for x in lines_by(d, Measure.RAM_GB_HOURS)) == Decimal("24.00")
    # instance-h: 240 at the generic 0.02 = 4.80; 480 at the m1.large rate 0.05 = 24.00
    assert lines_by(d, Measure.INSTANCE_HOURS) == [
        ("v1", "flavor m1.large", Decimal("480"), Decimal("0.05"), Decimal("24.00")),
        ("v1", "flavor m1.small", Decimal("240"), Decimal("0.02"), Decimal("4.80")),
    ]
    # total: 24.00 + 24.00 + 28.80 = 76.80
    assert d.total == Decimal("76.80")
    assert not any(x.estimated for x in d.lines)
    assert_adds_up(d)


def test_project_move_mid_month_bills_each_project_its_own_half(ledger, project):
    beta = Project.objects.create(slug="beta", name="Beta")
    make_plan(vcpu_hours="0.01", ram_gb_hours="0.005", instance_hours="0.02")
    in_alpha = vm("v2", vcpus="1", ram_mb=1024, started_at=day(0))
    in_beta = vm("v2", vcpus="1", ram_mb=1024, project="beta", started_at=day(0))
    ledger.at(day(0), in_alpha)
    ledger.at(day(15) - FIVE_MIN, in_alpha)
    ledger.at(day(15), in_beta)  # moved on Nov 16 00:00
    ledger.at(DEC, in_beta)
    for p in (project, beta):
        d = build_statement(p, NOV, DEC)
        # 15 days = 360 h: instance 360 x 0.02 = 7.20; vCPU 360 x 0.01 = 3.60; RAM 360 x 1 GiB x 0.005 = 1.80
        assert {x.measure: (x.quantity, x.amount) for x in d.lines} == {
            Measure.INSTANCE_HOURS: (Decimal("360"), Decimal("7.20")),
            Measure.VCPU_HOURS: (Decimal("360"), Decimal("3.60")),
            Measure.RAM_GB_HOURS: (Decimal("360"), Decimal("1.80")),
        }, p
        assert d.total == Decimal("12.60")


def test_rate_change_mid_month_splits_the_period(ledger, project):
    plan = make_plan(instance_hours="0.02", ram_gb_hours="0.005")
    add_rate(plan, Measure.VCPU_HOURS, "0.01", until=day(15))
    add_rate(plan, Measure.VCPU_HOURS, "0.012", since=day(15))  # from Nov 16 00:00
    v = vm("v3", vcpus="2", ram_mb=2048, started_at=day(0))
    ledger.at(day(0), v)
    ledger.at(DEC, v)
    d = build_statement(project, NOV, DEC)
    # vCPU-h: 2 x 360 = 720 at 0.01 = 7.20, then 2 x 360 = 720 at 0.012 = 8.64
    vcpu = [(x.quantity, x.unit_price, x.amount, x.start, x.end) for x in d.lines if x.measure == Measure.VCPU_HOURS]
    assert vcpu == [
        (Decimal("720"), Decimal("0.01"), Decimal("7.20"), NOV, day(15)),
        (Decimal("720"), Decimal("0.012"), Decimal("8.64"), day(15), DEC),
    ]
    # unchanged rates stay one line over both sub-periods: instance 720 x 0.02 = 14.40; RAM 1440 x 0.005 = 7.20
    assert lines_by(d, Measure.INSTANCE_HOURS) == [("v3", "", Decimal("720"), Decimal("0.02"), Decimal("14.40"))]
    assert lines_by(d, Measure.RAM_GB_HOURS) == [("v3", "", Decimal("1440"), Decimal("0.005"), Decimal("7.20"))]
    assert d.total == Decimal("37.44")  # 7.20 + 8.64 + 14.40 + 7.20
    assert {r["unit_price"] for r in d.rates_snapshot()} == {"0.01000000", "0.01200000", "0.02000000",
                                                             "0.00500000"}


def test_tier_boundary_splits_the_line_that_crosses_it(ledger, project):
    plan = make_plan()
    add_rate(plan, Measure.VCPU_HOURS, "0.01")
    plan.rates.update(tiers=[{"from": "0", "unit_price": "0.01"}, {"from": "1000", "unit_price": "0.008"}])
    a = vm("a-vm", vcpus="1", started_at=day(0))
    b = vm("b-vm", vcpus="2", started_at=day(0))
    ledger.at(day(0), a, b)
    ledger.at(DEC, a, b)
    d = build_statement(project, NOV, DEC)
    # a-vm: 1 x 720 = 720 vCPU-h, all below 1000 -> 720 x 0.01 = 7.20
    # b-vm: 2 x 720 = 1440 on top of 720 -> [720, 1000) = 280 x 0.01 = 2.80 and [1000, 2160) = 1160 x 0.008 = 9.28
    assert lines_by(d, Measure.VCPU_HOURS) == [
        ("a-vm", "tier from 0", Decimal("720"), Decimal("0.01"), Decimal("7.20")),
        ("b-vm", "tier from 0", Decimal("280"), Decimal("0.01"), Decimal("2.80")),
        ("b-vm", "tier from 1000", Decimal("1160"), Decimal("0.008"), Decimal("9.28")),
    ]
    assert d.total == Decimal("19.28")


def test_vm_created_on_the_20th_and_deleted_on_the_25th_is_charged_only_while_it_existed(ledger, project):
    from dataclasses import replace

    make_plan(vcpu_hours="0.01", instance_hours="0.02")
    late = vm("late", vcpus="1", started_at=day(19))
    born = vm("born", vcpus="1", started_at=day(19))
    ledger.at(day(0))  # the account exists all month, the VMs do not
    ledger.at(day(19), late, born)  # both created Nov 20 00:00
    ledger.at(day(24), late, born)
    ledger.at(day(25), late, deleted=[replace(born, deleted_at=day(24.5))])  # born deleted Nov 25 12:00
    ledger.at(DEC, late)
    d = build_statement(project, NOV, DEC)
    # late: Nov 20 -> Dec 1 = 11 days = 264 h: instance 264 x 0.02 = 5.28; vCPU 264 x 0.01 = 2.64
    # born: Nov 20 00:00 -> Nov 25 12:00 = 5.5 days = 132 h: instance 2.64; vCPU 1.32
    assert {(x.resource_name, x.measure): (x.quantity, x.amount) for x in d.lines} == {
        ("late", Measure.INSTANCE_HOURS): (Decimal("264"), Decimal("5.28")),
        ("late", Measure.VCPU_HOURS): (Decimal("264"), Decimal("2.64")),
        ("born", Measure.INSTANCE_HOURS): (Decimal("132"), Decimal("2.64")),
        ("born", Measure.VCPU_HOURS): (Decimal("132"), Decimal("1.32")),
    }
    assert d.total == Decimal("11.88")


def test_estimated_gap_is_flagged_on_its_lines(ledger, project):
    make_plan(vcpu_hours="0.01")
    ledger.at(day(0), vm("guess", vcpus="2"), vm("sure", vcpus="2"))
    ledger.at(day(0) + FIVE_MIN, vm("guess", vcpus="2"), vm("sure", vcpus="2"))
    # the collector was down 4 h; "sure" has a lifecycle timestamp that vouches for the gap, "guess" none
    later = day(0) + FIVE_MIN * 49
    ledger.at(later, vm("guess", vcpus="2"), vm("sure", vcpus="2", started_at=day(0) - FIVE_MIN))
    d = build_statement(project, NOV, DEC)
    # both: 4 h 5 min = 49/12 h x 2 vCPU = 8.166667 vCPU-h x 0.01 = 0.08
    assert [(x.resource_name, x.quantity, x.amount, x.estimated) for x in d.lines] == [
        ("guess", Decimal("8.166667"), Decimal("0.08"), True),
        ("sure", Decimal("8.166667"), Decimal("0.08"), False),
    ]


def test_showback_lists_quantities_without_prices(ledger, project):
    project.billing_mode = BillingMode.SHOWBACK
    project.save()
    v = vm("v1", vcpus="2", started_at=day(0))
    ledger.at(day(0), v)
    ledger.at(day(1), v)
    d = build_statement(project, NOV, DEC)  # no plan at all: every measure with a quantity
    assert d.showback and d.total is None
    q = {x.measure: x.quantity for x in d.lines}
    assert q[Measure.VCPU_HOURS] == Decimal("48") and q[Measure.INSTANCE_HOURS] == Decimal("24")
    assert Measure.ESTIMATED_HOURS not in q and all(x.unit_price is None and x.amount is None for x in d.lines)
    make_plan(vcpu_hours="0.01")
    priced = build_statement(project, NOV, DEC, showback=False)
    assert priced.total == Decimal("0.48") and [x.measure for x in priced.lines] == [Measure.VCPU_HOURS]


def test_billed_project_without_any_plan_is_refused(ledger, project):
    with pytest.raises(NoRatePlan, match="alpha"):
        build_statement(project, NOV, DEC)


def test_zero_decimal_currency_rounds_to_whole_yen(ledger, project):
    make_plan(currency="JPY", vcpu_hours="1.5")
    v = vm("v1", vcpus="1", started_at=day(0))
    ledger.at(day(0), v)
    ledger.at(day(0) + FIVE_MIN * 15, v)  # 75 min = 1.25 h
    d = build_statement(project, NOV, DEC)
    # 1.25 x 1.5 = 1.875 JPY -> 2 (half-even to 0 places)
    assert [(x.quantity, x.amount) for x in d.lines] == [(Decimal("1.25"), Decimal("2"))]
    assert minor_unit("JPY") == 1 and d.total == Decimal("2") and FIXED_COST not in [x.measure for x in d.lines]


def _rate(i, **kw):
    return RateView(i, 1, Measure.VCPU_HOURS, Decimal(i), NOV, None, **kw)


def test_most_specific_rate_wins():
    rates = [_rate(1), _rate(2, provider_kind="openstack"), _rate(3, account_id=7), _rate(4, flavor="big"),
             _rate(5, provider_kind="openstack", flavor="big"), _rate(6, label_key="tier", label_value="gold")]
    sp = SubPeriod(NOV, DEC, object(), {Measure.VCPU_HOURS: sorted(rates, key=lambda r: r.specificity, reverse=True)})

    def price(**kw):
        return sp.find(Measure.VCPU_HOURS, Subject(**kw)).unit_price

    assert price(provider_kind="docker") == 1  # only the generic rate matches
    assert price(provider_kind="openstack") == 2
    assert price(provider_kind="openstack", account_id=7) == 3  # account beats provider kind
    assert price(provider_kind="docker", flavor="big") == 4  # flavor beats nothing
    assert price(provider_kind="openstack", account_id=7, flavor="big") == 5  # two filters beat one
    assert price(provider_kind="docker", labels={"tier": "gold"}) == 6
    assert price(provider_kind="docker", account_id=7, labels={"tier": "gold"}) == 3  # account beats label


def test_line_amount_is_half_even_on_the_printed_numbers():
    assert line_amount(Decimal("0.5"), Decimal("0.01"), "EUR") == Decimal("0.00")  # 0.005 -> 0.00
    assert line_amount(Decimal("1.5"), Decimal("0.01"), "EUR") == Decimal("0.02")  # 0.015 -> 0.02
    assert line_amount(Decimal("0.0000004"), Decimal("100000"), "USD") == Decimal("0.00")  # quantity shown 0.000000
    with pytest.raises(ValueError, match="three-decimal"):
        minor_unit("KWD")
