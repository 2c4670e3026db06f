"""How the collector applies an inventory cheaply: stored rows read as tuples and compared whole,
unchanged resources touched in one statement, new resources inserted with their parents, the
cyclic garbage collector paused meanwhile. The results are those of the plain way."""

from __future__ import annotations

import gc
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from metering import collector
from metering.models import Resource, UsageSegment
from providers.base import Kind, ObservedResource, State
from tests.conftest import T0, vm

pytestmark = pytest.mark.django_db


def refresh_at(account, world, at):
    world.now = at
    return collector.refresh(account)


def writes(ctx, table="metering_resource"):
    return [q["sql"] for q in ctx.captured_queries if q["sql"].startswith(f'UPDATE "{table}"')]


def host(ext="h1"):
    return ObservedResource(ext, Kind.HOST, ext, State.RUNNING, vcpus=Decimal(32), ram_mb=131072)


def test_new_resources_are_inserted_with_their_parents_and_need_no_linking_update(fake_account, world, project):
    world.put(vm("c1", kind=Kind.CONTAINER, parent_external_id="v1"))  # listed before its parent
    world.put(host())
    world.put(vm("v1", parent_external_id="h1"))
    world.put(vm("v2", parent_external_id="h1"))
    world.now = T0
    with CaptureQueriesContext(connection) as ctx:
        run = collector.refresh(fake_account)
    assert run.created == 4
    parents = dict(Resource.objects.values_list("external_id", "parent__external_id"))
    assert parents == {"h1": None, "v1": "h1", "v2": "h1", "c1": "v1"}
    assert not [sql for sql in writes(ctx) if "parent_id" in sql]


def test_a_parent_cycle_among_new_resources_is_still_linked(fake_account, world, project):
    world.put(vm("a", parent_external_id="b"))
    world.put(vm("b", parent_external_id="a"))
    world.put(vm("self", parent_external_id="self"))
    refresh_at(fake_account, world, T0)
    parents = dict(Resource.objects.values_list("external_id", "parent__external_id"))
    assert parents == {"a": "b", "b": "a", "self": "self"}


def test_a_parent_that_changes_later_is_updated(fake_account, world, project):
    world.put(host("h1"))
    world.put(host("h2"))
    world.put(vm("v1", parent_external_id="h1"))
    refresh_at(fake_account, world, T0)
    world.put(vm("v1", parent_external_id="h2"))
    refresh_at(fake_account, world, T0 + timedelta(minutes=5))
    assert Resource.objects.get(external_id="v1").parent.external_id == "h2"


def test_an_unchanged_inventory_costs_the_same_statements_whatever_its_size(make_account, project):
    from devsim.fake import FakeDriver, FakeWorld

    counts = {}
    for n in (3, 60):
        FakeDriver.worlds[f"size{n}"] = world = FakeWorld(now=T0)
        try:
            account = make_account(name=f"size{n}", world_name=f"size{n}")
            for i in range(n):
                world.put(vm(f"v{n}-{i}", labels={"tier": "web", "quote": '"q"'}, properties={"disks": [{"n": i}]}))
            refresh_at(account, world, T0)
            world.now = T0 + timedelta(minutes=5)
            with CaptureQueriesContext(connection) as ctx:
                run = collector.refresh(account)
            assert (run.created, run.updated, run.unchanged) == (0, 0, n)
            counts[n] = len(ctx.captured_queries)
            # one statement moves every last_seen, one every open segment's end; no row is rewritten
            assert len(writes(ctx)) == 1 and "last_seen" in writes(ctx)[0]
            assert len(writes(ctx, "metering_usagesegment")) == 1
        finally:
            FakeDriver.worlds.pop(f"size{n}", None)
    assert counts[3] == counts[60]
    assert set(Resource.objects.values_list("last_seen", flat=True)) == {T0 + timedelta(minutes=5)}
    assert set(UsageSegment.objects.values_list("end", flat=True)) == {T0 + timedelta(minutes=5)}


@pytest.mark.parametrize("change", [
    dict(labels={"tier": "db"}),
    dict(properties={"disks": [{"n": 2}]}),
    dict(image="debian-13"),
    dict(name="renamed"),
    dict(created_at=T0 - timedelta(days=1)),
    dict(disk_gb="20.001"),
])
def test_any_stored_column_that_differs_is_a_change_and_is_written(fake_account, world, project, change):
    base = dict(labels={"tier": "web"}, properties={"disks": [{"n": 1}]}, image="debian-12")
    world.put(vm("v1", **base))
    refresh_at(fake_account, world, T0)
    world.put(vm("v1", **{**base, **change}))
    run = refresh_at(fake_account, world, T0 + timedelta(minutes=5))
    assert (run.updated, run.unchanged) == (1, 0)
    row = Resource.objects.get(external_id="v1")
    for name, value in change.items():
        assert getattr(row, name) == (Decimal(value) if name == "disk_gb" else value)
    assert row.last_seen == T0 + timedelta(minutes=5)
    run = refresh_at(fake_account, world, T0 + timedelta(minutes=10))
    assert (run.updated, run.unchanged) == (0, 1)


def test_the_same_sizes_written_differently_are_no_change(fake_account, world, project):
    world.put(vm("v1", vcpus="2", disk_gb="20"))
    refresh_at(fake_account, world, T0)
    world.put(vm("v1", vcpus="2.000", disk_gb="20.0"))
    run = refresh_at(fake_account, world, T0 + timedelta(minutes=5))
    assert (run.updated, run.unchanged) == (0, 1)


def test_a_revived_resource_is_rewritten_and_opens_a_segment(fake_account, world, project):
    world.put(vm("v1"))
    refresh_at(fake_account, world, T0)
    world.remove("v1")
    refresh_at(fake_account, world, T0 + timedelta(minutes=5))
    assert Resource.objects.get(external_id="v1").state == State.DELETED
    world.put(vm("v1"))
    run = refresh_at(fake_account, world, T0 + timedelta(minutes=10))
    assert run.updated == 1
    row = Resource.objects.get(external_id="v1")
    assert row.deleted_at is None and row.state == State.RUNNING
    assert [(s.start, s.end, s.open) for s in UsageSegment.objects.filter(resource=row).order_by("start")] == [
        (T0, T0, False), (T0 + timedelta(minutes=10), T0 + timedelta(minutes=10), True)]


@pytest.mark.parametrize("sizes", [
    dict(ram_mb=1.5), dict(ram_mb=True), dict(vcpus=Decimal("sNaN")), dict(vcpus=float("nan")),
    dict(disk_gb=Decimal("-0.001")), dict(vcpus=Decimal(10) ** 7), dict(ram_mb=2 ** 63),
])
def test_screening_skips_what_is_no_size(sizes):
    issues = []
    found = ObservedResource("x", Kind.VM, "x", State.RUNNING, **sizes)
    assert collector._screen(found, issues) is None
    assert "is not a size" in issues[0]["message"]


def test_screening_keeps_good_records_as_they_are():
    issues = []
    found = ObservedResource("x", Kind.VM, "x", State.RUNNING, vcpus=Decimal("9999999.999"), ram_mb=2 ** 63 - 1,
                             disk_gb=2.5, image=None)
    assert collector._screen(found, issues) is found and issues == []
    assert collector._screen(ObservedResource("y", ["vm"], "y", State.RUNNING), issues) is None  # unhashable kind
    assert "unknown kind" in issues[0]["message"]


def test_the_garbage_collector_is_paused_while_applying_and_resumed_after(fake_account, world, project, monkeypatch):
    seen = []
    real = collector._write

    def spy(*args, **kwargs):
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(collector, "_write", spy)
    world.put(vm("v1"))
    assert gc.isenabled()
    refresh_at(fake_account, world, T0)
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:  # off before: left off
        refresh_at(fake_account, world, T0 + timedelta(minutes=5))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_garbage_collector_is_resumed_when_applying_fails(fake_account, world, project, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(collector, "_write", broken)
    world.put(vm("v1"))
    with pytest.raises(RuntimeError):
        refresh_at(fake_account, world, T0)
    assert gc.isenabled()
