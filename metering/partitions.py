"""Utilization samples, range-partitioned by UTC day on PostgreSQL.

Samples are the table that grows fastest (one row per resource per refresh) and the only one with
a retention: on PostgreSQL it is partitioned by ``at``, one partition per day plus a default
partition for anything outside them (a provider clock far off), so retention drops whole days
(``DROP TABLE``: no row-by-row delete, no bloat, no vacuum debt). ``maintain`` runs hourly from
``metering.prune_samples``: it creates the next days' partitions and drops the expired ones.
SQLite (``make run``, tests) keeps the plain table and deletes rows.

A day's partition is created before its first sample normally; when samples already sit in the
default partition for that day, they are moved into the new partition in the same transaction.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection, transaction

log = logging.getLogger(__name__)

TABLE = "metering_utilizationsample"
DEFAULT = f"{TABLE}_default"
#: days of partitions created ahead of today
AHEAD = 7
_DAY = re.compile(rf"^{TABLE}_p(\d{{8}})$")


def partition_name(day: date) -> str:
    return f"{TABLE}_p{day:%Y%m%d}"


def _bound(day: date) -> str:
    return datetime.combine(day, time(), tzinfo=UTC).isoformat()


def is_partitioned(conn=connection) -> bool:
    if conn.vendor != "postgresql":
        return False
    with conn.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s)", [TABLE])
        return cursor.fetchone() is not None


def partitions(conn=connection) -> dict[date, str]:
    """The daily partitions that exist, by day."""
    with conn.cursor() as cursor:
        cursor.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                       "WHERE i.inhparent = to_regclass(%s)", [TABLE])
        names = [row[0] for row in cursor.fetchall()]
    out = {}
    for name in names:
        found = _DAY.match(name)
        if found:
            out[datetime.strptime(found.group(1), "%Y%m%d").date()] = name
    return out


def create_partition(day: date, conn=connection) -> bool:
    """Create ``day``'s partition, moving any of its samples out of the default partition; False
    when it exists already."""
    if day in partitions(conn):
        return False
    name, lo, hi = partition_name(day), _bound(day), _bound(day + timedelta(days=1))
    with transaction.atomic(using=conn.alias), conn.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE moved_samples ON COMMIT DROP AS WITH d AS ("
                       f"DELETE FROM {DEFAULT} WHERE at >= %s AND at < %s RETURNING *) SELECT * FROM d", [lo, hi])
        cursor.execute(f"CREATE TABLE {name} PARTITION OF {TABLE} FOR VALUES FROM (%s) TO (%s)", [lo, hi])
        cursor.execute(f"INSERT INTO {TABLE} SELECT * FROM moved_samples")
        if cursor.rowcount:
            log.info("samples: moved %d rows of %s from the default partition into %s", cursor.rowcount, day, name)
        cursor.execute("DROP TABLE moved_samples")  # now, not at commit: the caller may hold a transaction open
    return True


def drop_before(cutoff: datetime, conn=connection) -> tuple[list[str], int]:
    """Drop every daily partition that ends at or before ``cutoff``, and delete the default
    partition's rows older than it. Returns the partitions dropped and the rows they held."""
    dropped, rows = [], 0
    with conn.cursor() as cursor:
        # samples written earlier in the caller's transaction leave deferred foreign-key checks,
        # which forbid dropping their table: run those checks now
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for day, name in sorted(partitions(conn).items()):
            if datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC) <= cutoff:
                cursor.execute(f"SELECT count(*) FROM {name}")
                rows += cursor.fetchone()[0]
                cursor.execute(f"DROP TABLE {name}")
                dropped.append(name)
        cursor.execute(f"DELETE FROM {DEFAULT} WHERE at < %s", [cutoff])
        rows += cursor.rowcount
    return dropped, rows


def maintain(now: datetime, retention_days: int, conn=connection) -> tuple[list[str], int]:
    """Partitions for the coming days; retention by dropping whole days. Returns what ``drop_before`` does."""
    today = now.astimezone(UTC).date()
    for offset in range(0, AHEAD + 1):
        create_partition(today + timedelta(days=offset), conn)
    return drop_before(now - timedelta(days=retention_days), conn)


# -- the migration --------------------------------------------------------------------------------------


def partition_table(conn, retention_days: int = 7) -> None:
    """Turn the plain samples table into a partitioned one, keeping its rows, constraint and index
    names (so Django's later migrations find them). PostgreSQL only."""
    with conn.cursor() as cursor:
        constraints = conn.introspection.get_constraints(cursor, TABLE)
        fk = next(n for n, c in constraints.items() if c["foreign_key"])
        fk_index = next(n for n, c in constraints.items()
                        if c["columns"] == ["resource_id"] and c["index"] and not c["unique"] and not c["foreign_key"])
        plain = f"{TABLE}_plain"
        cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {plain}")
        cursor.execute(f"CREATE TABLE {TABLE} (LIKE {plain}) PARTITION BY RANGE (at)")
        # identity columns on partitioned tables need PostgreSQL 17: a sequence owned by the column instead
        cursor.execute(f"CREATE SEQUENCE {TABLE}_id_partitioned_seq OWNED BY {TABLE}.id")
        cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN id SET DEFAULT nextval('{TABLE}_id_partitioned_seq')")
        cursor.execute(f"SELECT setval('{TABLE}_id_partitioned_seq', COALESCE((SELECT max(id) FROM {plain}), 0) + 1, "
                       f"false)")
        cursor.execute(f"CREATE TABLE {DEFAULT} PARTITION OF {TABLE} DEFAULT")
        today = datetime.now(UTC).date()
        for offset in range(-retention_days - 1, AHEAD + 1):
            day = today + timedelta(days=offset)
            cursor.execute(f"CREATE TABLE {partition_name(day)} PARTITION OF {TABLE} FOR VALUES FROM (%s) TO (%s)",
                           [_bound(day), _bound(day + timedelta(days=1))])
        cursor.execute(f"INSERT INTO {TABLE} SELECT * FROM {plain}")
        cursor.execute(f"DROP TABLE {plain}")
        cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id, at)")
        cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT sample_unique_at UNIQUE (resource_id, at)")
        cursor.execute(f"CREATE INDEX sample_at ON {TABLE} (at)")
        cursor.execute(f"CREATE INDEX {fk_index} ON {TABLE} (resource_id)")
        cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {fk} FOREIGN KEY (resource_id) "
                       f"REFERENCES metering_resource (id) DEFERRABLE INITIALLY DEFERRED")


def unpartition_table(conn) -> None:
    """The reverse: one plain table with the same rows and names."""
    with conn.cursor() as cursor:
        constraints = conn.introspection.get_constraints(cursor, TABLE)
        fk = next(n for n, c in constraints.items() if c["foreign_key"])
        fk_index = next(n for n, c in constraints.items()
                        if c["columns"] == ["resource_id"] and c["index"] and not c["unique"] and not c["foreign_key"])
        cursor.execute(f"CREATE TABLE {TABLE}_plain (LIKE {TABLE} INCLUDING DEFAULTS)")
        cursor.execute(f"INSERT INTO {TABLE}_plain SELECT * FROM {TABLE}")
        cursor.execute(f"ALTER TABLE {TABLE}_plain ALTER COLUMN id DROP DEFAULT")
        cursor.execute(f"DROP TABLE {TABLE}")  # its partitions and its sequence go with it
        cursor.execute(f"ALTER TABLE {TABLE}_plain RENAME TO {TABLE}")
        cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY")
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{TABLE}', 'id'), "
                       f"COALESCE((SELECT max(id) FROM {TABLE}), 0) + 1, false)")
        cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id)")
        cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT sample_unique_at UNIQUE (resource_id, at)")
        cursor.execute(f"CREATE INDEX sample_at ON {TABLE} (at)")
        cursor.execute(f"CREATE INDEX {fk_index} ON {TABLE} (resource_id)")
        cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {fk} FOREIGN KEY (resource_id) "
                       f"REFERENCES metering_resource (id) DEFERRABLE INITIALLY DEFERRED")
