"""Daily usage rollups: each UTC day of each resource's segments, summed the way the usage report
groups them, so a long period reads one row per resource, day and size instead of every segment.

Exactness: a rollup row holds the whole microseconds its segments overlap the day, computed by the
same SQL expression as the report; microseconds add up exactly across days, so a report built from
rollups for whole days plus the segments for the partial days at its edges is exactly the
segment-level report (a zero-length segment lying on an interior midnight belongs to no day and is
read from the segments). Only days listed in ``RolledDay`` are read from rollups; any other day is
read from the segments, so a missing rollup costs time, never correctness.

Maintenance: the collector calls ``segments_changed`` with the spans its writes touched. Rolled
days among them are rebuilt for the touched resources; the day that has just ended (the first
refresh after midnight) is rolled whole. ``rebuild(day)`` rolls any day on demand
(``manage.py usage --rollup FROM TO``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection, transaction

from metering.models import DailyUsage, RolledDay

DAY = timedelta(days=1)
GROUP = "resource_id, project_id, state, vcpus, ram_mb, disk_gb, estimated"
SIZED = "resource_id, project_id, vcpus, ram_mb, disk_gb"
CHUNK = 5000


def micros_sql(hi: str, lo: str) -> str:
    """SQL for the whole microseconds from ``lo`` to ``hi`` (two timestamp expressions)."""
    if connection.vendor == "postgresql":
        return f"CAST(ROUND(EXTRACT(EPOCH FROM ({hi} - {lo})) * 1000000) AS BIGINT)"
    # SQLite stores 'YYYY-MM-DD HH:MM:SS[.ffffff]'; whole seconds plus the microsecond digits
    def us(x):
        return f"(CAST(strftime('%%s', {x}) AS INTEGER) * 1000000 + CAST(substr({x} || '.000000', 21, 6) AS INTEGER))"
    return f"({us(hi)} - {us(lo)})"


def clip_sql(lo: str, hi: str) -> str:
    """Microseconds of segment ``s`` inside [lo, hi) (two parameter names)."""
    return micros_sql(f"CASE WHEN s.\"end\" < %({hi})s THEN s.\"end\" ELSE %({hi})s END",
                      f"CASE WHEN s.start > %({lo})s THEN s.start ELSE %({lo})s END")


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _adapt(params: dict) -> dict:
    ops = connection.ops
    out = {}
    for k, v in params.items():
        if isinstance(v, datetime):
            out[k] = ops.adapt_datetimefield_value(v)
        elif isinstance(v, date):
            out[k] = ops.adapt_datefield_value(v)
        else:
            out[k] = v
    return out


def _insert(day: date, resource_ids: list[int] | None) -> None:
    where = ["s.start < %(hi)s", "s.\"end\" > %(lo)s", "s.kind <> 'host'"]
    params: dict = {"lo": day_start(day), "hi": day_start(day) + DAY, "day": day}
    if resource_ids is not None:
        where.append("s.resource_id IN (" + ", ".join(f"%(r{i})s" for i in range(len(resource_ids))) + ")")
        params.update({f"r{i}": rid for i, rid in enumerate(resource_ids)})
    table = DailyUsage._meta.db_table
    sql = f"""
        INSERT INTO {table} (resource_id, account_id, project_id, day, state, vcpus, ram_mb, disk_gb, estimated, us)
        SELECT s.resource_id, s.account_id, s.project_id, %(day)s, s.state, s.vcpus, s.ram_mb, s.disk_gb,
               s.estimated, SUM({clip_sql("lo", "hi")})
        FROM metering_usagesegment s
        WHERE {' AND '.join(where)}
        GROUP BY s.resource_id, s.account_id, s.project_id, s.state, s.vcpus, s.ram_mb, s.disk_gb, s.estimated
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, _adapt(params))


def rebuild(day: date, resource_ids=None) -> None:
    """Recompute ``day``'s rollups from the segments: of these resources only, or of every
    resource (then the day is marked rolled)."""
    with transaction.atomic():
        if resource_ids is None:
            DailyUsage.objects.filter(day=day).delete()
            _insert(day, None)
            RolledDay.objects.update_or_create(day=day)
            return
        ids = sorted(set(resource_ids))
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i:i + CHUNK]
            DailyUsage.objects.filter(day=day, resource_id__in=chunk).delete()
            _insert(day, chunk)


def segments_changed(spans, at: datetime) -> None:
    """After a collector write: ``spans`` are ``(resource id, lo, hi)`` covering every segment time
    that changed (old and new extent). Keeps rolled days exact and rolls the day that just ended."""
    touched: dict[date, set[int]] = defaultdict(set)
    for rid, lo, hi in spans:
        d, last = lo.astimezone(UTC).date(), hi.astimezone(UTC).date()
        while d <= last:
            touched[d].add(rid)
            d += DAY
    if not touched:
        return
    rolled = set(RolledDay.objects.filter(day__gte=min(touched), day__lte=max(touched))
                 .values_list("day", flat=True))
    yesterday = at.astimezone(UTC).date() - DAY
    for d, rids in sorted(touched.items()):
        if d in rolled:
            rebuild(d, rids)
        elif d == yesterday:
            rebuild(d)


def rolled_run(start: datetime, end: datetime) -> tuple[date, date] | None:
    """The longest run of rolled whole days inside [start, end), as [first day, day after the last)."""
    first = start.astimezone(UTC).date()
    if day_start(first) < start:
        first += DAY
    last = end.astimezone(UTC).date()  # exclusive: the day holding ``end`` is partial (or starts at it)
    if first >= last:
        return None
    days = list(RolledDay.objects.filter(day__gte=first, day__lt=last).order_by("day").values_list("day", flat=True))
    best, run = None, None
    for d in days:
        run = (run[0], d + DAY) if run and run[1] == d else (d, d + DAY)
        if best is None or (run[1] - run[0]) > (best[1] - best[0]):
            best = run
    return best


def group_sql(start: datetime, end: datetime, where_extra: str, params: dict) -> tuple[str, dict]:
    """The usage report's grouped query over [start, end): rollups for the longest run of rolled
    days inside it, segments for the rest. ``where_extra`` filters on ``project_id`` (or is empty).
    Rows are ``(resource, project, state, vcpus, ram_mb, disk_gb, estimated, microseconds)``."""
    union, params = _union_sql(start, end, where_extra, params)
    return f"SELECT {GROUP}, SUM(us) AS us FROM ({union}) u GROUP BY {GROUP}", params


def sized_sql(start: datetime, end: datetime, where_extra: str, params: dict) -> tuple[str, dict]:
    """Like ``group_sql``, but state and the estimated flag are summed apart instead of grouped by:
    rows are ``(resource, project, vcpus, ram_mb, disk_gb, microseconds, running microseconds,
    estimated microseconds)``, one per resource, project and size (a third of the groups). Every
    sum is of whole microseconds, so it is exact on every database."""
    union, params = _union_sql(start, end, where_extra, params)
    params["running"] = "running"
    return (f"SELECT {SIZED}, SUM(us) AS us, SUM(CASE WHEN state = %(running)s THEN us ELSE 0 END) AS running_us, "
            f"SUM(CASE WHEN estimated THEN us ELSE 0 END) AS estimated_us FROM ({union}) u GROUP BY {SIZED}"), params


def _union_sql(start: datetime, end: datetime, where_extra: str, params: dict) -> tuple[str, dict]:
    """The pieces of [start, end) as one UNION ALL of ``(GROUP columns, us)`` rows, not yet summed."""
    params = {**params, "start": start, "end": end}
    seg_where = "s.kind <> 'host'" + (f" AND s.{where_extra}" if where_extra else "")
    cols = "s.resource_id, s.project_id, s.state, s.vcpus, s.ram_mb, s.disk_gb, s.estimated"
    run = rolled_run(start, end)
    if run is None:
        pieces = [f"SELECT {cols}, {clip_sql('start', 'end')} AS us FROM metering_usagesegment s "
                  f"WHERE s.start < %(end)s AND s.\"end\" > %(start)s AND {seg_where}"]
    else:
        a, b = day_start(run[0]), day_start(run[1])
        params.update({"a": a, "b": b, "da": run[0], "db": run[1]})
        pieces = [f"SELECT {cols}, s.us FROM {DailyUsage._meta.db_table} s "
                  f"WHERE s.day >= %(da)s AND s.day < %(db)s" + (f" AND s.{where_extra}" if where_extra else "")]
        left = "s.start < %(a)s AND s.\"end\" > %(start)s"
        right = "s.start < %(end)s AND s.\"end\" > %(b)s"
        if start < a and b < end:  # both edges in one pass over the segments
            pieces.append(f"SELECT {cols}, CASE WHEN {left} THEN {clip_sql('start', 'a')} ELSE 0 END"
                          f" + CASE WHEN {right} THEN {clip_sql('b', 'end')} ELSE 0 END AS us"
                          f" FROM metering_usagesegment s WHERE (({left}) OR ({right})) AND {seg_where}")
        elif start < a:
            pieces.append(f"SELECT {cols}, {clip_sql('start', 'a')} AS us FROM metering_usagesegment s "
                          f"WHERE {left} AND {seg_where}")
        elif b < end:
            pieces.append(f"SELECT {cols}, {clip_sql('b', 'end')} AS us FROM metering_usagesegment s "
                          f"WHERE {right} AND {seg_where}")
        # zero-length segments on a midnight strictly inside the period belong to no day's rollup
        midnights = [m for m in (a + DAY * i for i in range((b - a).days + 1)) if start < m < end]
        if midnights:
            params.update({f"m{i}": m for i, m in enumerate(midnights)})
            inside = ", ".join(f"%(m{i})s" for i in range(len(midnights)))
            pieces.append(f"SELECT {cols}, 0 AS us FROM metering_usagesegment s "
                          f"WHERE s.start = s.\"end\" AND s.start IN ({inside}) AND {seg_where}")
    return " UNION ALL ".join(pieces), _adapt(params)
