"""``rollup_usage --start YYYY-MM-DD --end YYYY-MM-DD``: rebuild the daily usage rollups of these
UTC days (end exclusive) from the segments and mark them rolled (``metering.daily``)."""

from __future__ import annotations

from datetime import timedelta

from metering import daily, periods
from providers.management.base import GlasspaneCommand


class Command(GlasspaneCommand):
    help = "Rebuild the daily usage rollups of [start, end) (UTC days) from the usage segments."

    def add_arguments(self, parser):
        parser.add_argument("--start", required=True, metavar="YYYY-MM-DD")
        parser.add_argument("--end", required=True, metavar="YYYY-MM-DD", help="exclusive")

    def handle(self, *args, start, end, **opts):
        try:
            first, last = periods.parse_date(start, "--start"), periods.parse_date(end, "--end")
            periods.day_range(first, last)
        except periods.PeriodError as exc:
            raise self.usage_error(str(exc)) from None
        day = first
        while day < last:
            daily.rebuild(day)
            day += timedelta(days=1)
        self.stdout.write(f"rolled {(last - first).days} day(s) from {first} to {last} (exclusive)\n")
