"""The ledger's version: the cache key of everything computed from it.

A version names one state of every table the usage report, statements, rankings and the
on-premises comparison read (the tables in migration 0017). Database triggers append a
``LedgerChange`` row in the same transaction as each write, so a write becomes visible to readers
together with its change row: a reader that sees the write sees a new version, and a reader that
still sees the old version may be handed a result computed a moment later, never an older one.
The version is ``count:newest id:newest time`` of the visible rows: the count moves when a
transaction that started earlier commits later (its id is lower than the newest), the time guards
against a database restored from a backup reusing ids. ``compact`` (a periodic task) replaces
the rows by one new row; that moves the version too, so it only costs one recomputation.

Cost: one query on a table kept small, about a millisecond, however large the ledger is.
"""

from __future__ import annotations

import hashlib
from importlib import metadata

from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from metering.models import LedgerChange

TABLE = LedgerChange._meta.db_table
#: computed pages live at most this long in the cache (their keys make them exact, not their age):
#: every refresh makes a new version, so an older entry is rarely asked for again, and a short life
#: bounds what a busy site with frequent refreshes keeps in Redis
TIMEOUT = 300


def version() -> str:
    with connection.cursor() as cur:
        cur.execute(f"SELECT (SELECT COUNT(*) FROM {TABLE}), id, at FROM {TABLE} ORDER BY id DESC LIMIT 1")
        row = cur.fetchone()
    if row is None:
        return "0"
    count, newest, at = row
    return f"{count}:{newest}:{at.isoformat() if hasattr(at, 'isoformat') else at}"


def compact() -> int:
    """Replace the change rows by one new row; returns how many went.

    The new row's id is higher than any seen before, so no later state of the log can repeat an
    earlier version: after it, the set of visible rows only grows (late commits of lower ids,
    which raise the count) until a newer id appears."""
    with transaction.atomic():
        marker = LedgerChange.objects.create(at=timezone.now())
        return LedgerChange.objects.filter(id__lt=marker.id).delete()[0]


def _release() -> str:
    try:
        return metadata.version("glasspane")
    except metadata.PackageNotFoundError:
        return "dev"


#: cached values are the code's own structures: a new release never reads an older one's
RELEASE = _release()


def key(name: str, *parts, at: str | None = None) -> str:
    """A cache key for ``name`` computed from the ledger with these arguments, at version ``at``
    (default: the current one). ``name`` carries a number to change with the cached value's shape."""
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:32]
    return f"glasspane:ledger:{RELEASE}:{name}:{at or version()}:{digest}"


def cached(name: str, parts: tuple, compute, at: str | None = None):
    """``compute()``, or what it returned for the same ``name``, ``parts`` and ledger version.

    ``parts`` must hold every other input of ``compute`` (period, project, page, time zone...):
    anything not read from the ledger's tables and not in ``parts`` could make an answer stale."""
    k = key(name, *parts, at=at)
    value = cache.get(k)
    if value is None:
        value = compute()
        cache.set(k, value, timeout=TIMEOUT)
    return value
