"""The money rules every statement obeys, and a shared check used by the other tests."""

from decimal import Decimal

from metering.chargeback.engine import subtotals
from metering.chargeback.money import line_amount


def assert_adds_up(draft) -> None:
    """Each line is quantity x unit price rounded; lines add up to subtotals and to the total."""
    for x in draft.lines:
        assert x.amount == line_amount(x.quantity, x.unit_price, draft.currency), x
    by_measure, by_provider = subtotals(draft.lines)
    total = sum(x.amount for x in draft.lines)
    assert sum(a for _, a in by_measure.values()) == total == sum(by_provider.values()) == draft.total


def test_half_even_ties_go_to_the_even_cent():
    assert line_amount(Decimal("2.5"), Decimal("0.01"), "EUR") == Decimal("0.02")  # 0.025 -> 0.02
    assert line_amount(Decimal("3.5"), Decimal("0.01"), "EUR") == Decimal("0.04")  # 0.035 -> 0.04
    assert line_amount(Decimal("2.5"), Decimal("1"), "JPY") == Decimal("2")  # 2.5 -> 2
