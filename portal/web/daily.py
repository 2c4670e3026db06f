"""vCPU-hours per local day and provider, in one SQL query, for the overview's usage chart.

The days of the period (local midnights in the user's timezone, as UTC) are a small VALUES table
joined to the usage segments that overlap them; each segment is clipped to each day it touches
and summed per day and account. One query for any period length, so the chart stays fast at
thousands of resources. Hosts are capacity, not consumption, and are left out (as in the
usage report). Seconds are whole on SQLite: this is a chart; the exact figures are in the table.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db import connection

from providers.models import ProviderAccount


def _epoch(expr: str) -> str:
    if connection.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM {expr})"
    return f"CAST(strftime('%%s', {expr}) AS INTEGER)"


def local_days(start: datetime, end: datetime, tz) -> list[tuple[date, datetime, datetime]]:
    """Each local day of [start, end) as (day, UTC start, UTC end), clipped to the period."""
    days = []
    day = start.astimezone(tz).date()
    while True:
        lo = max(datetime.combine(day, time(), tzinfo=tz).astimezone(UTC), start)
        hi = min(datetime.combine(day + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC), end)
        if lo >= end:
            break
        days.append((day, lo, hi))
        day += timedelta(days=1)
    return days


def vcpu_hours_by_day(start: datetime, end: datetime, tz, project_ids: list[int] | None
                      ) -> tuple[list[date], dict[str, list[Decimal]]]:
    """(days, {provider name: vCPU-hours per day}) over [start, end) for the given projects
    (None = every project)."""
    days = local_days(start, end, tz)
    if not days:
        return [], {}
    adapt = connection.ops.adapt_datetimefield_value
    values, params = [], []
    for i, (_day, lo, hi) in enumerate(days):
        values.append("(%s, %s, %s)")
        params += [i, adapt(lo), adapt(hi)]
    where = ["s.kind <> 'host'"]
    if project_ids is not None:
        if not project_ids:
            return [d for d, _, _ in days], {}
        where.append("s.project_id IN (" + ", ".join(["%s"] * len(project_ids)) + ")")
        params += project_ids
    hi = 'CASE WHEN s."end" < d.hi THEN s."end" ELSE d.hi END'
    lo = "CASE WHEN s.start > d.lo THEN s.start ELSE d.lo END"
    sql = f"""
        WITH d(i, lo, hi) AS (VALUES {", ".join(values)})
        SELECT d.i, s.account_id, SUM(({_epoch(hi)} - {_epoch(lo)}) * COALESCE(s.vcpus, 0))
        FROM d JOIN metering_usagesegment s ON s.start < d.hi AND s."end" > d.lo
        WHERE {" AND ".join(where)}
        GROUP BY d.i, s.account_id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    names = dict(ProviderAccount.objects.filter(pk__in={a for _, a, _ in found}).values_list("pk", "name"))
    series: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * len(days))
    for i, account_id, seconds in found:
        series[names.get(account_id, f"account {account_id}")][i] += Decimal(str(seconds or 0)) / 3600
    return [d for d, _, _ in days], dict(sorted(series.items()))
