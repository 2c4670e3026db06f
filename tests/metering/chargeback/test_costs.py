"""Cost to date, the month-end forecast and what a new allocation would add."""

from decimal import Decimal

import pytest

from metering.chargeback.costs import forecast_delta, month_to_date
from metering.choices import Measure, QuotaKey
from metering.models import FixedCost, Quota, Rate
from tests.conftest import vm
from tests.metering.chargeback.conftest import add_rate, day, make_plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def running(ledger, project):
    plan = make_plan(vcpu_hours="0.01", instance_hours="0.02")
    FixedCost.objects.create(project=project, name="support", monthly_amount=Decimal("30.00"), effective_from=day(0))
    v = vm("v1", vcpus="2", ram_mb=2048, started_at=day(0))
    ledger.at(day(0), v)
    ledger.at(day(10), v)  # now: Nov 11 00:00, 240 h observed, 480 h left
    return plan


def test_month_to_date_and_forecast(running, project, django_assert_max_num_queries):
    Quota.objects.create(project=project, key=QuotaKey.BUDGET, limit=50)
    with django_assert_max_num_queries(16):  # 13th: allocation rules; 14th: the budget from effective_limits; 15th: rolled days; 16th: the ledger version
        s = month_to_date(project, now=day(10))
    # to date: vCPU 2 x 240 = 480 x 0.01 = 4.80; instance 240 x 0.02 = 4.80; support 10 days x 1.00 = 10.00
    assert s.cost_to_date == Decimal("19.60") and s.currency == "EUR"
    # rest of month: vCPU 2 x 480 = 960 x 0.01 = 9.60; instance 480 x 0.02 = 9.60; support 20 x 1.00 = 20.00
    assert s.forecast == Decimal("58.80")
    assert s.budget == Decimal(50) and s.over_budget and s.budget_left == Decimal("-8.80")


def test_forecast_uses_a_rate_change_later_in_the_month(running, project):
    Rate.objects.filter(measure=Measure.VCPU_HOURS).update(effective_to=day(20))
    add_rate(running, Measure.VCPU_HOURS, "0.02", since=day(20))
    s = month_to_date(project, now=day(10))
    # rest: vCPU 2 x 240 x 0.01 = 4.80 + 2 x 240 x 0.02 = 9.60; instance 9.60; support 20.00 -> 19.60 + 44.00
    assert s.forecast == Decimal("63.60") and s.budget is None


def test_forecast_delta_prices_the_rest_of_the_month(running, project, fake_account, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        delta = forecast_delta(project, vcpus=4, ram_mb=4096, disk_gb=0, kind="vm", account=fake_account,
                               now=day(10))
    # 480 h left: vCPU 4 x 480 = 1920 x 0.01 = 19.20; instance 480 x 0.02 = 9.60 (RAM is not priced here)
    assert delta == Decimal("28.80")
    # a container pays no instance-hours
    assert forecast_delta(project, 1, 512, 0, "container", fake_account, now=day(10)) == Decimal("4.80")


def test_project_without_plan_costs_nothing(project):
    s = month_to_date(project, now=day(3))
    assert (s.cost_to_date, s.forecast, s.currency) == (Decimal(0), Decimal(0), "")
    assert forecast_delta(project, 2, 2048, 10, "vm", None, now=day(3)) == Decimal(0)
