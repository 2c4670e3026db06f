"""Storing a refresh's utilization samples without per-value ORM work.

``RawSample.objects.bulk_create`` builds an instance per sample, prepares every value through its
field, and psycopg then quotes each array element in Python: for a refresh of thousands of samples
that costs more than the database spends on the insert. Here rows arrive as tuples of plain values
(ints, floats, aware datetimes) and each column goes as one array literal built by string
operations on the whole column: on PostgreSQL the same ``INSERT .. SELECT * FROM UNNEST(..) ON
CONFLICT DO NOTHING`` Django sends, with the same literals on the wire; elsewhere (SQLite) one
``executemany``. Each resource's newest counters (``LastSample``) are read and upserted the same way.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime

from django.db import connection
from django.db.models.constants import OnConflict

from metering.models import LastSample, RawSample

#: rows per statement: bounds the size of one statement, not the work
BATCH = 10_000
_INT, _FLOAT, _TIME = "int", "float", "time"


def _kind(field) -> str:
    internal = field.target_field.get_internal_type() if field.is_relation else field.get_internal_type()
    return {"FloatField": _FLOAT, "DateTimeField": _TIME}.get(internal, _INT)


class _Table:
    """One model's columns, in the order of the row tuples given for it."""

    def __init__(self, model, names: Sequence[str]):
        self.model = model
        self.fields = [model._meta.get_field(name) for name in names]
        self.kinds = [_kind(f) for f in self.fields]

    def sql(self, head: str, tail: str) -> str:
        """``head table (columns) <rows> tail``: rows from UNNEST on PostgreSQL, else a VALUES row."""
        ops = connection.ops
        columns = ", ".join(ops.quote_name(f.column) for f in self.fields)
        if connection.vendor == "postgresql":
            types = [f.db_type(connection).split("(")[0] for f in self.fields]
            rows = "SELECT * FROM UNNEST(" + ", ".join(f"%s::{t}[]" for t in types) + ")"
        else:
            rows = "VALUES (" + ", ".join(["%s"] * len(self.fields)) + ")"
        return f"{head} {ops.quote_name(self.model._meta.db_table)} ({columns}) {rows} {tail}"

    def execute(self, sql: str, rows: Sequence[tuple]) -> None:
        """Run ``sql`` (from ``self.sql``) for ``rows``, preparing each distinct instant once."""
        postgres = connection.vendor == "postgresql"
        prepared = {}  # a refresh's samples share one or a few instants
        for kind, field, column in zip(self.kinds, self.fields, zip(*rows, strict=True), strict=True):
            if kind == _TIME:
                for at in set(column):
                    value = field.get_db_prep_save(at, connection)
                    prepared[at] = _quoted(str(value)) if postgres else value
        with connection.cursor() as cursor:
            for start in range(0, len(rows), BATCH):
                chunk = rows[start:start + BATCH]
                if postgres:
                    columns = zip(*chunk, strict=True)
                    cursor.execute(sql, [_array(col, kind, prepared)
                                         for col, kind in zip(columns, self.kinds, strict=True)])
                else:
                    cursor.executemany(sql, [tuple(_value(v, k, prepared) for v, k in zip(row, self.kinds, strict=True))
                                             for row in chunk])


#: the order of a sample row's values (``insert``) and of a last-counters row's (``store_last``)
SAMPLE_COLUMNS = ("resource_id", "at", "interval_seconds", "cpu_time_ns", "cpu_core_seconds", "memory_used_mb",
                  "memory_total_mb", "net_rx_bytes", "net_tx_bytes", "disk_read_bytes", "disk_write_bytes",
                  "net_bytes", "disk_bytes")
LAST_COLUMNS = ("resource_id", "at", "cpu_time_ns", "net_total_bytes", "disk_total_bytes")
_SAMPLES = _Table(RawSample, SAMPLE_COLUMNS)
_LAST = _Table(LastSample, LAST_COLUMNS)


def insert(rows: Sequence[tuple]) -> None:
    """Insert sample rows (tuples in ``_SAMPLES``' order, resource id first), leaving any (resource,
    at) already stored, as ``bulk_create(ignore_conflicts=True)`` does."""
    if not rows:
        return
    ops = connection.ops
    head = ops.insert_statement(on_conflict=OnConflict.IGNORE)
    tail = ops.on_conflict_suffix_sql(_SAMPLES.fields, OnConflict.IGNORE, None, None) or ""
    _SAMPLES.execute(_SAMPLES.sql(head, tail), rows)


def last_counters(resource_ids: Collection[int]) -> dict[int, tuple]:
    """The newest counters of each resource named that has any: ``{id: (at, cpu_time_ns, net, disk)}``."""
    if not resource_ids:
        return {}
    names = [f.attname for f in _LAST.fields]
    if connection.vendor == "postgresql":  # one array literal, not a parameter per id
        ops = connection.ops
        with connection.cursor() as cursor:
            key, at, *rest = (ops.quote_name(f.column) for f in _LAST.fields)
            # the instant as fixed text, read once per distinct value: psycopg's per-row
            # timestamptz parsing cost more than the query
            cursor.execute(f"SELECT {key}, to_char({at} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), "
                           f"{', '.join(rest)} FROM {ops.quote_name(LastSample._meta.db_table)} "
                           f"WHERE {key} = ANY(%s::bigint[])", [int_array(resource_ids)])
            instants = {}
            found = [(pk, instants.get(text) or instants.setdefault(text, _utc(text)), *counters)
                     for pk, text, *counters in cursor.fetchall()]
    else:
        ids, found = list(resource_ids), []
        for start in range(0, len(ids), 1000):
            found += LastSample.objects.filter(pk__in=ids[start:start + 1000]).values_list(*names)
    return {row[0]: row[1:] for row in found}


def store_last(rows: Sequence[tuple]) -> None:
    """Upsert each resource's newest counters: ``(resource_id, at, cpu_time_ns, net, disk)``, one row
    per resource."""
    if not rows:
        return
    quote = connection.ops.quote_name
    key, *rest = (quote(f.column) for f in _LAST.fields)
    tail = f"ON CONFLICT ({key}) DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in rest)
    _LAST.execute(_LAST.sql("INSERT INTO", tail), rows)


def int_array(values: Collection[int]) -> str:
    """A PostgreSQL array literal of ints, for ``= ANY(%s::bigint[])``."""
    return _array(values, _INT)


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _value(value, kind, prepared):
    """What the field's ``get_db_prep_save`` makes of a value: ``int()``, ``float()``, or the instant
    prepared once."""
    if value is None:
        return None
    if kind == _TIME:
        return prepared[value]
    return float(value) if kind == _FLOAT else int(value)


def _array(values, kind, literals=None) -> str:
    """A PostgreSQL array literal of ``values``; instants by their ``literals``."""
    if kind == _TIME:
        return "{" + ",".join(map(literals.__getitem__, values)) + "}"
    plain = float if kind == _FLOAT else int
    values = list(values)
    if not set(map(type, values)) <= {plain, type(None)}:
        values = [None if v is None else plain(v) for v in values]  # what the field's get_prep_value does
    # a list's repr has each element's: for a float the shortest text that reads back as the same
    # double (what psycopg sends too); neither ints nor floats print a space or "None"
    return "{" + repr(values)[1:-1].replace(" ", "").replace("None", "NULL") + "}"


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
