"""Fixed monthly costs are prorated by the real number of days of each calendar month."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from metering.chargeback.engine import FIXED_COST, build_statement
from metering.models import FixedCost
from tests.metering.chargeback.conftest import make_plan
from tests.metering.chargeback.test_money_rules import assert_adds_up

pytestmark = pytest.mark.django_db


def d(y, m, day):
    return datetime(y, m, day, tzinfo=UTC)


@pytest.fixture
def support(project):
    make_plan()
    return FixedCost.objects.create(project=project, name="support", monthly_amount=Decimal("100.00"),
                                    effective_from=d(2027, 1, 1))


def fixed(project, start, end):
    draft = build_statement(project, start, end)
    assert_adds_up(draft)
    return [(x.quantity, x.unit_price, x.amount) for x in draft.lines if x.measure == FIXED_COST], draft.total


def test_february_and_a_31_day_month_each_cost_the_full_monthly_amount(support, project):
    # February 2027: 28 days x (100 / 28 = 3.57142857) = 99.99999996 -> 100.00
    assert fixed(project, d(2027, 2, 1), d(2027, 3, 1)) == (
        [(Decimal("28"), Decimal("3.57142857"), Decimal("100.00"))], Decimal("100.00"))
    # March 2027: 31 days x (100 / 31 = 3.22580645) = 99.99999995 -> 100.00
    assert fixed(project, d(2027, 3, 1), d(2027, 4, 1)) == (
        [(Decimal("31"), Decimal("3.22580645"), Decimal("100.00"))], Decimal("100.00"))


def test_a_weekly_report_is_prorated_not_charged_in_full(support, project):
    # 7 days of March: 7 x 3.22580645 = 22.58064515 -> 22.58 (not 100.00)
    assert fixed(project, d(2027, 3, 1), d(2027, 3, 8)) == (
        [(Decimal("7"), Decimal("3.22580645"), Decimal("22.58"))], Decimal("22.58"))


def test_a_range_across_february_and_march_uses_each_months_own_length(support, project):
    # Feb 15 -> Mar 1: 14 x 3.57142857 = 49.99999998 -> 50.00; Mar 1 -> Mar 15: 14 x 3.22580645 = 45.1612903 -> 45.16
    assert fixed(project, d(2027, 2, 15), d(2027, 3, 15)) == ([
        (Decimal("14"), Decimal("3.57142857"), Decimal("50.00")),
        (Decimal("14"), Decimal("3.22580645"), Decimal("45.16")),
    ], Decimal("95.16"))


def test_a_cost_that_starts_mid_month_counts_from_its_start(support, project):
    support.effective_from = d(2027, 3, 10)
    support.effective_to = d(2027, 3, 20, )
    support.save()
    # Mar 10 -> Mar 20 = 10 days x 3.22580645 = 32.2580645 -> 32.26
    assert fixed(project, d(2027, 3, 1), d(2027, 4, 1)) == (
        [(Decimal("10"), Decimal("3.22580645"), Decimal("32.26"))], Decimal("32.26"))
