"""Parsing periods typed by people: YYYY-MM-DD dates and YYYY-MM months, in a timezone, to UTC."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings


class PeriodError(ValueError):
    pass


#: the dates a period may start or end on. Usage begins long after the first and bills long before
#: the last; outside it, arithmetic on dates (a month later, a timezone's midnight) would overflow.
EARLIEST = date(1970, 1, 1)
LATEST = date(2999, 12, 31)


def check_date(day: date, what: str) -> date:
    """``day`` itself when it lies in [EARLIEST, LATEST], else a ``PeriodError`` naming ``what``."""
    if not EARLIEST <= day <= LATEST:
        raise PeriodError(f"{what} {day.isoformat()}: must be between {EARLIEST} and {LATEST}")
    return day


def parse_date(text: str, what: str) -> date:
    try:
        day = date.fromisoformat(text)
    except (TypeError, ValueError):
        raise PeriodError(f"{what} {text!r}: expected a date as YYYY-MM-DD") from None
    return check_date(day, what)


def parse_tz(name: str | None):
    if not name:
        return UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise PeriodError(f"--tz {name!r}: unknown timezone (use an IANA name like Europe/Berlin)") from None


def day_range(start: date, end: date, tz=UTC) -> tuple[datetime, datetime]:
    """[start, end) as aware UTC datetimes at local midnight; end exclusive."""
    check_date(start, "start")
    check_date(end, "end")
    if end <= start:
        raise PeriodError(f"end {end} must be after start {start} (the end date is exclusive)")
    if (end - start).days > settings.GLASSPANE_MAX_PERIOD_DAYS:
        raise PeriodError(f"period of {(end - start).days} days is longer than the maximum of "
                          f"{settings.GLASSPANE_MAX_PERIOD_DAYS} days")
    lo = datetime.combine(start, time(), tzinfo=tz).astimezone(UTC)
    hi = datetime.combine(end, time(), tzinfo=tz).astimezone(UTC)
    return lo, hi


def month_range(text: str, tz=UTC) -> tuple[datetime, datetime]:
    """``YYYY-MM`` -> the calendar month as [first day, first day of next month)."""
    try:
        year, month = (int(x) for x in text.split("-"))
        first = date(year, month, 1)
    except (TypeError, ValueError):
        raise PeriodError(f"--period {text!r}: expected a month as YYYY-MM") from None
    check_date(first, "--period")
    nxt = (first + timedelta(days=32)).replace(day=1)
    return day_range(first, nxt, tz)
