"""vCPU-hours per local day and provider, for the overview's usage chart.

Whole UTC days that are rolled (``metering.daily``) are read from the daily rollups when local
days are UTC days; otherwise one query fetches the segments that overlap the period (four columns, no model instances); each
is then split at the local midnights it crosses, in whole seconds on integer timestamps, and
summed per day and provider. That is a few tens of thousands of additions for a 60-day period
at thousands of resources, faster than clipping per day in SQL (which scans the segments once
per day). Hosts are capacity, not consumption, and are left out, as in the usage report. This
feeds a chart: values are floats; the exact figures are the table's and the CSV's.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import F, Sum

from metering import daily
from metering.models import DailyUsage, UsageSegment
from providers.models import ProviderAccount


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
                      ) -> tuple[list[date], dict[str, list[float]]]:
    """(days, {provider name: vCPU-hours per day}) over [start, end) for the given projects
    (None = every project)."""
    days = local_days(start, end, tz)
    labels = [d for d, _, _ in days]
    if not days or project_ids == []:
        return labels, {}
    edges = [int(lo.timestamp()) for _, lo, _ in days] + [int(days[-1][2].timestamp())]
    sums: dict[int, list[float]] = defaultdict(lambda: [0.0] * len(days))
    pieces = [(start, end)]
    run = daily.rolled_run(start, end) if all(lo.astimezone(tz).utcoffset() == timedelta(0) for _, lo, _ in days) else None
    if run is not None:  # local days are UTC days: rolled whole days come from the daily rollups
        a, b = daily.day_start(run[0]), daily.day_start(run[1])
        pieces = [(lo, hi) for lo, hi in ((start, a), (b, end)) if lo < hi]
        index = {d: i for i, (d, _, _) in enumerate(days)}
        rolled = DailyUsage.objects.filter(day__gte=run[0], day__lt=run[1], vcpus__isnull=False)
        if project_ids is not None:
            rolled = rolled.filter(project_id__in=project_ids)
        for day, account_id, vcpu_us in (rolled.order_by().values("day", "account_id")
                                         .annotate(x=Sum(F("vcpus") * F("us"))).values_list("day", "account_id", "x")):
            if vcpu_us:
                sums[account_id][index[day]] += float(vcpu_us) / 3.6e9
    for lo, hi in pieces:
        _from_segments(sums, edges, lo, hi, project_ids)
    names = dict(ProviderAccount.objects.filter(pk__in=list(sums)).values_list("pk", "name"))
    series = {names.get(a, f"account {a}"): [round(v, 6) for v in values] for a, values in sums.items()}
    return labels, dict(sorted(series.items()))


def _from_segments(sums, edges, start: datetime, end: datetime, project_ids) -> None:
    """Add the vCPU-hours of the segments overlapping [start, end) to ``sums``, split at ``edges``."""
    segments = UsageSegment.objects.filter(start__lt=end, end__gt=start).exclude(kind="host")
    if project_ids is not None:
        segments = segments.filter(project_id__in=project_ids)
    first, last = max(int(start.timestamp()), edges[0]), min(int(end.timestamp()), edges[-1])
    for seg_start, seg_end, vcpus, account_id in segments.values_list("start", "end", "vcpus", "account_id"):
        if not vcpus:
            continue  # a container without a CPU limit allocates no vCPUs (as in the report)
        lo, hi = max(int(seg_start.timestamp()), first), min(int(seg_end.timestamp()), last)
        per_second = float(vcpus) / 3600
        row = sums[account_id]
        i = bisect_right(edges, lo) - 1
        while lo < hi:
            cut = min(hi, edges[i + 1])
            row[i] += (cut - lo) * per_second
            lo, i = cut, i + 1
