"""Bulk writes that cost the database more than Python: many rows, few statements.

Django's ``bulk_update`` builds a ``CASE WHEN id = ... THEN ...`` expression per row and field,
which costs more in Python than the database spends on it. Here each batch is one
``UPDATE table SET col = v.colN FROM (VALUES (...), ...) AS v WHERE table.id = v.column1``,
with values prepared by the fields themselves. Works on PostgreSQL and SQLite (3.33+).

``set_for_ids`` writes the same values to any number of rows in one statement, the ids bound as one
parameter. ``register_array_dumper`` makes binding a bulk insert's JSON columns cheap on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection
from django.db.models import Model

BATCH = 1000


def update_rows(model: type[Model], objs: Iterable[Model], field_names: list[str], batch: int = BATCH) -> int:
    """Write ``field_names`` of every object in ``objs`` (already modified in memory)."""
    fields = [model._meta.get_field(name) for name in field_names]
    attnames = [f.attname for f in fields]
    return update_values(model, field_names,
                         [(obj.pk, *[getattr(obj, a) for a in attnames]) for obj in objs], batch)


def update_values(model: type[Model], field_names: list[str], rows: Sequence[Sequence], batch: int = BATCH) -> int:
    """Write ``rows``, each ``(pk, value of field_names[0], ...)``: no model instance needed."""
    if not rows:
        return 0
    meta = model._meta
    fields = [meta.get_field(name) for name in field_names]
    table = connection.ops.quote_name(meta.db_table)
    pk_col = connection.ops.quote_name(meta.pk.column)
    postgres = connection.vendor == "postgresql"

    def value_sql(i, field):
        ref = f"v.column{i + 2}"
        return f"CAST({ref} AS {field.db_type(connection)})" if postgres else ref

    sets = ", ".join(f"{connection.ops.quote_name(f.column)} = {value_sql(i, f)}" for i, f in enumerate(fields))
    pk_ref = f"CAST(v.column1 AS {meta.pk.db_type(connection)})" if postgres else "v.column1"
    preps = [(f.get_db_prep_save, i + 1) for i, f in enumerate(fields)]
    written = 0
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            chunk = rows[start:start + batch]
            params = []
            for row in chunk:
                params.append(row[0])
                for prep, i in preps:
                    params.append(prep(row[i], connection))
            row_sql = "(" + ", ".join(["%s"] * (len(fields) + 1)) + ")"
            cursor.execute(
                f"UPDATE {table} SET {sets} FROM (VALUES {', '.join([row_sql] * len(chunk))}) AS v "
                f"WHERE {table}.{pk_col} = {pk_ref}",
                params,
            )
            written += cursor.rowcount
    return written


def set_for_ids(model: type[Model], ids: Sequence[int], **values) -> int:
    """``UPDATE model SET field = value, ... WHERE pk IN ids`` as one statement however many ids:
    the ids are one parameter (a PostgreSQL array literal, a JSON array that SQLite's ``json_each``
    reads), so neither the SQL text nor the parameters grow with a placeholder per row."""
    if not ids:
        return 0
    meta = model._meta
    quote = connection.ops.quote_name
    sets, params = [], []
    for name, value in values.items():
        field = meta.get_field(name)
        sets.append(f"{quote(field.column)} = %s")
        params.append(field.get_db_prep_save(value, connection))
    id_list = ",".join(str(int(i)) for i in ids)
    if connection.vendor == "postgresql":
        where = f"{quote(meta.pk.column)} = ANY(%s::{meta.pk.db_type(connection)}[])"
        params.append("{" + id_list + "}")
    else:
        where = f"{quote(meta.pk.column)} IN (SELECT value FROM json_each(%s))"
        params.append("[" + id_list + "]")
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {quote(meta.db_table)} SET {', '.join(sets)} WHERE {where}", params)
        return cursor.rowcount


# -- binding arrays on PostgreSQL ------------------------------------------------------------------------

try:
    from psycopg.types.array import ListDumper
except ImportError:  # SQLite-only installs need no psycopg
    ListDumper = None


class _Escape:
    """Stands in for psycopg's element-escaping regex: the same ``\\`` and ``"`` escapes made with
    two ``bytes.replace`` calls (C loops) instead of one regex substitution whose group template
    Python 3.11 expands in Python for every match."""

    @staticmethod
    def sub(_template, data) -> bytes:
        return bytes(data).replace(b"\\", b"\\\\").replace(b'"', b'\\"')


if ListDumper is not None:
    class QuotedListDumper(ListDumper):
        """psycopg's text-format array dumper with cheap escaping of quoted elements (same bytes out).

        Django binds every column of a bulk insert on PostgreSQL as one array (``UNNEST``) and, with
        client-side binding, dumps it as a text literal: each JSON element (a resource's labels and
        properties) is quoted and its hundred double quotes escaped. With psycopg's regex that
        escaping cost more than all the rest of the insert's binding."""

        _re_esc = _Escape()
else:  # pragma: no cover - SQLite-only installs
    QuotedListDumper = None


def register_array_dumper(sender=None, connection=None, **kwargs) -> None:
    """``connection_created`` receiver: PostgreSQL connections dump Python lists in text format with
    ``QuotedListDumper``; what ``%s`` picks when psycopg chooses the format stays as it was (psycopg's
    text dumper, so ours; its binary one, if that was the choice)."""
    if connection is None or connection.vendor != "postgresql" or QuotedListDumper is None:
        return
    from psycopg.adapt import PyFormat

    adapters = connection.connection.adapters
    auto = adapters.get_dumper(list, PyFormat.AUTO)
    adapters.register_dumper(list, QuotedListDumper)
    if auto is not ListDumper and auto is not QuotedListDumper:
        adapters.register_dumper(list, auto)  # registered last: stays the choice for %s
