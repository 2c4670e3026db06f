"""How pages write numbers, sizes and durations (``portal.units``)."""

from datetime import timedelta
from decimal import Decimal

import pytest

from portal import units


@pytest.mark.parametrize("span, text", [
    (timedelta(days=10, hours=4, minutes=3), "10 d 4 h"),
    (timedelta(hours=3, minutes=5, seconds=9), "3 h 5 min"),
    (timedelta(minutes=4, seconds=10), "4 min 10 s"),
    (timedelta(days=1, seconds=5), "1 d"),
    (timedelta(0), "0 s"),
])
def test_durations_read_in_their_two_largest_units(span, text):
    assert units.duration(span) == text


def test_numbers_have_thousands_separators_and_sizes_are_gib():
    assert units.number(Decimal("1234567.50")) == "1,234,567.5"
    assert units.number(1234567) == "1,234,567"
    assert units.number("1234.5678", 2) == "1,234.57"
    assert units.gib_from_mib(8192) == "8" and units.gib_from_mib(1536) == "1.5"
    assert units.gib_from_mib(10 * 1024 * 1024) == "10,240"
    assert units.gib_from_bytes(21474836480) == "20"
