"""Storing a refresh's utilization samples without per-value ORM work.

``RawSample.objects.bulk_create`` builds an instance per sample, prepares every value through its
field, and psycopg then quotes each array element in Python: for a refresh of thousands of samples
that costs more than the database spends on the insert. Here rows arrive as tuples of plain values
(ints, floats, aware datetimes) and each column goes as one array literal made with ``str``: on
PostgreSQL the same ``INSERT .. SELECT * FROM UNNEST(..) ON CONFLICT DO NOTHING`` Django sends, with
the same literals on the wire; elsewhere (SQLite) Django's ``INSERT OR IGNORE`` as one
``executemany``. The newest counters (``Resource.last_sample``) are written the same way: on
PostgreSQL the JSON object is built by the database from arrays instead of encoded per resource.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection
from django.db.models.constants import OnConflict

from metering.bulk import update_rows
from metering.models import RawSample, Resource

#: the order of the values in a row tuple given to ``insert``
COLUMNS = ("resource_id", "at", "interval_seconds", "cpu_time_ns", "cpu_core_seconds", "memory_used_mb",
           "memory_total_mb", "net_rx_bytes", "net_tx_bytes", "disk_read_bytes", "disk_write_bytes",
           "net_bytes", "disk_bytes")
#: rows per statement: bounds the size of one statement, not the work
BATCH = 10_000
_INT, _FLOAT, _TIME = "int", "float", "time"


def _kind(field) -> str:
    internal = field.target_field.get_internal_type() if field.is_relation else field.get_internal_type()
    if internal == "FloatField":
        return _FLOAT
    if internal == "DateTimeField":
        return _TIME
    return _INT


_FIELDS = [RawSample._meta.get_field(name) for name in COLUMNS]
_KINDS = [_kind(f) for f in _FIELDS]


def insert(rows: Sequence[tuple]) -> None:
    """Insert sample rows (tuples in ``COLUMNS`` order), leaving any (resource, at) already stored."""
    if not rows:
        return
    at_field = _FIELDS[1]
    prepared = {}  # a refresh's samples share one or a few instants: prepare each once
    for row in rows:
        if row[1] not in prepared:
            prepared[row[1]] = at_field.get_db_prep_save(row[1], connection)
    ops = connection.ops
    table = ops.quote_name(RawSample._meta.db_table)
    columns = ", ".join(ops.quote_name(f.column) for f in _FIELDS)
    head = ops.insert_statement(on_conflict=OnConflict.IGNORE)
    tail = ops.on_conflict_suffix_sql(_FIELDS, OnConflict.IGNORE, None, None) or ""
    with connection.cursor() as cursor:
        for start in range(0, len(rows), BATCH):
            chunk = rows[start:start + BATCH]
            if connection.vendor == "postgresql":
                types = [f.db_type(connection).split("(")[0] for f in _FIELDS]
                arrays = ", ".join(f"%s::{t}[]" for t in types)
                params = [_array(col, kind, prepared) for col, kind in zip(zip(*chunk, strict=True), _KINDS, strict=True)]
                cursor.execute(f"{head} {table} ({columns}) SELECT * FROM UNNEST({arrays}) {tail}", params)
            else:
                values = [(r[0], prepared[r[1]], *(_value(v, k) for v, k in zip(r[2:], _KINDS[2:], strict=True)))
                          for r in chunk]
                marks = ", ".join(["%s"] * len(COLUMNS))
                cursor.executemany(f"{head} {table} ({columns}) VALUES ({marks}) {tail}", values)


def store_counters(resources: Iterable[Resource]) -> None:
    """Write ``last_sample`` of each resource (the same object may come more than once)."""
    unique = list({id(r): r for r in resources}.values())
    if not unique:
        return
    counters = [r.last_sample for r in unique]
    numbers = [d.get(k) for d in counters for k in ("cpu_time_ns", "net", "disk")]
    plain = all(set(d) == {"at", "cpu_time_ns", "net", "disk"} and isinstance(d["at"], str) for d in counters)
    if connection.vendor != "postgresql" or not plain or not all(n is None or type(n) is int for n in numbers):
        update_rows(Resource, unique, ["last_sample"])  # the field's own encoding
        return
    ops = connection.ops
    table, pk = ops.quote_name(Resource._meta.db_table), ops.quote_name(Resource._meta.pk.column)
    column = ops.quote_name(Resource._meta.get_field("last_sample").column)
    with connection.cursor() as cursor:
        for start in range(0, len(unique), BATCH):
            chunk, values = unique[start:start + BATCH], counters[start:start + BATCH]
            params = [
                _array([r.pk for r in chunk], _INT),
                "{" + ",".join(_quoted(d["at"]) for d in values) + "}",
                *(_array([d[k] for d in values], _INT) for k in ("cpu_time_ns", "net", "disk")),
            ]
            # jsonb keeps no key order and stores numbers as numeric: the same value json.dumps would give
            cursor.execute(
                f"UPDATE {table} AS r SET {column} = jsonb_build_object("
                f"'at', v.at, 'cpu_time_ns', v.cpu, 'net', v.net, 'disk', v.disk) "
                f"FROM UNNEST(%s::bigint[], %s::text[], %s::numeric[], %s::numeric[], %s::numeric[]) "
                f"AS v(id, at, cpu, net, disk) WHERE r.{pk} = v.id",
                params,
            )


def int_array(values: Iterable[int]) -> str:
    """A PostgreSQL array literal of ints, for ``= ANY(%s::bigint[])``."""
    return _array(list(values), _INT)


def _value(value, kind):
    """What the field's ``get_prep_value`` makes of a number: ``int()`` or ``float()``."""
    if value is None:
        return None
    return float(value) if kind == _FLOAT else int(value)


def _array(values, kind, prepared=None) -> str:
    if kind == _TIME:
        return "{" + ",".join(_quoted(str(prepared[v])) for v in values) + "}"
    if kind == _FLOAT:
        # repr is the shortest text that reads back as the same double (what psycopg sends too)
        return "{" + ",".join("NULL" if v is None else repr(float(v)) for v in values) + "}"
    return "{" + ",".join("NULL" if v is None else str(int(v)) for v in values) + "}"


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
