"""metering.bulk: many rows in few statements, and cheap array binding on PostgreSQL, with the same
result as the plain ways."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from metering.bulk import set_for_ids, update_rows, update_values
from metering.models import Resource
from tests.conftest import T0

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows(fake_account):
    return Resource.objects.bulk_create([
        Resource(account=fake_account, external_id=f"r{i}", kind="vm", name=f"r{i}", state="running",
                 first_seen=T0, last_seen=T0) for i in range(5)])


def test_set_for_ids_writes_only_those_rows_in_one_statement(rows):
    later = T0 + timedelta(minutes=5)
    with CaptureQueriesContext(connection) as ctx:
        assert set_for_ids(Resource, [rows[1].pk, rows[3].pk], last_seen=later, state="stopped") == 2
    assert len(ctx.captured_queries) == 1
    got = dict(Resource.objects.values_list("external_id", "last_seen"))
    assert got == {"r0": T0, "r1": later, "r2": T0, "r3": later, "r4": T0}
    assert set(Resource.objects.filter(state="stopped").values_list("external_id", flat=True)) == {"r1", "r3"}


def test_set_for_ids_of_no_ids_asks_nothing(rows):
    with CaptureQueriesContext(connection) as ctx:
        assert set_for_ids(Resource, [], last_seen=T0) == 0
    assert ctx.captured_queries == []


def test_update_values_and_update_rows_write_the_same(rows):
    labels = {"quote": 'say "hi"', "slash": "a\\b", "brace": "{x}"}
    update_values(Resource, ["labels", "name"], [(rows[0].pk, labels, "zero"), (rows[2].pk, {}, "two")])
    rows[4].labels, rows[4].name = labels, "four"
    update_rows(Resource, [rows[4]], ["labels", "name"])
    got = {r.external_id: (r.labels, r.name) for r in Resource.objects.all()}
    assert got["r0"] == (labels, "zero") and got["r2"] == ({}, "two") and got["r4"] == (labels, "four")
    assert got["r1"] == ({}, "r1")


# -- arrays on PostgreSQL ---------------------------------------------------------------------------------

TRICKY = [
    ['say "hi"', "back\\slash", "{braces}", "a,b", " spaced ", "", "NULL", "null", None, "plain", "tab\tnew\nline"],
    [[1, 2], [3, None]],
    [],
    [None],
    ["\u3000wide space", 'both \\" kinds'],
]


def test_quoted_list_dumper_makes_the_same_literals_as_psycopgs():
    psycopg = pytest.importorskip("psycopg")
    from psycopg.adapt import AdaptersMap, PyFormat, Transformer
    from psycopg.types.json import Jsonb

    from metering.bulk import QuotedListDumper

    ours = AdaptersMap(psycopg.adapters)
    ours.register_dumper(list, QuotedListDumper)
    for value in [*TRICKY, [Jsonb({"k": 'v "q" \\ {x}', "n": [1, None]}), Jsonb({}), None]]:
        assert Transformer(ours).as_literal(value) == Transformer(psycopg.adapters).as_literal(value), value
    assert type(Transformer(ours).get_dumper(["x"], PyFormat.TEXT)) is QuotedListDumper


def test_quoted_list_dumper_escapes_without_the_regex(monkeypatch):
    """The point of it: psycopg (pinned) still escapes through ``_re_esc.sub``, which is ours."""
    psycopg = pytest.importorskip("psycopg")
    from psycopg.adapt import AdaptersMap, Transformer

    from metering import bulk

    calls = []
    monkeypatch.setattr(bulk._Escape, "sub", staticmethod(lambda t, d: calls.append(d) or bytes(d)))
    ours = AdaptersMap(psycopg.adapters)
    ours.register_dumper(list, bulk.QuotedListDumper)
    Transformer(ours).as_literal(['a "b"', "plain"])
    assert calls == [b'a "b"']


def test_postgresql_connections_bind_lists_with_it_and_json_round_trips(fake_account):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite binds no arrays")
    import psycopg
    from psycopg.adapt import PyFormat

    from metering.bulk import QuotedListDumper

    connection.ensure_connection()
    adapters = connection.connection.adapters
    assert adapters.get_dumper(list, PyFormat.TEXT) is QuotedListDumper
    default_auto = psycopg.adapters.get_dumper(list, PyFormat.AUTO)
    auto = adapters.get_dumper(list, PyFormat.AUTO)
    assert auto.format == default_auto.format and (auto is default_auto or auto is QuotedListDumper)
    tricky = {"quote": 'say "hi"', "slash": "a\\b\\\\", "both": '\\"', "braces": "{}", "list": ['"', None, 1.5]}
    Resource.objects.bulk_create([  # two rows or more: Django binds each column as one array (UNNEST)
        Resource(account=fake_account, external_id=f"j{i}", kind="vm", name='n "q" \\', state="running",
                 labels=tricky, properties={"i": i}, first_seen=T0, last_seen=T0) for i in range(3)])
    for row in Resource.objects.filter(account=fake_account):
        assert row.labels == tricky and row.name == 'n "q" \\'
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::text[]", [TRICKY[0]])
        assert cursor.fetchone()[0] == TRICKY[0]
