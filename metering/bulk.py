"""Bulk UPDATE of many rows with different values in one statement per batch.

Django's ``bulk_update`` builds a ``CASE WHEN id = ... THEN ...`` expression per row and field,
which costs more in Python than the database spends on it. Here each batch is one
``UPDATE table SET col = v.colN FROM (VALUES (...), ...) AS v WHERE table.id = v.column1``,
with values prepared by the fields themselves. Works on PostgreSQL and SQLite (3.33+).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection
from django.db.models import Model

BATCH = 1000


def update_rows(model: type[Model], objs: Iterable[Model], field_names: list[str], batch: int = BATCH) -> int:
    """Write ``field_names`` of every object in ``objs`` (already modified in memory)."""
    objs = list(objs)
    if not objs:
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
    written = 0
    with connection.cursor() as cursor:
        for start in range(0, len(objs), batch):
            chunk = objs[start:start + batch]
            params = []
            for obj in chunk:
                params.append(obj.pk)
                for f in fields:
                    params.append(f.get_db_prep_save(getattr(obj, f.attname), connection))
            row = "(" + ", ".join(["%s"] * (len(fields) + 1)) + ")"
            cursor.execute(
                f"UPDATE {table} SET {sets} FROM (VALUES {', '.join([row] * len(chunk))}) AS v "
                f"WHERE {table}.{pk_col} = {pk_ref}",
                params,
            )
            written += cursor.rowcount
    return written
