"""Utilization samples as the collector writes them: deltas and intervals against the previous
sample, counter resets, duplicate and late samples, each resource's newest counters, and the
hourly rollups of exactly the resources and hours sampled. Runs on SQLite and PostgreSQL."""

from datetime import timedelta
from decimal import Decimal

import pytest

from metering import collector, rollups
from metering.models import LastSample, RawSample, Resource, UtilizationRollup
from providers.base import UtilizationSample
from tests.conftest import T0, vm

pytestmark = pytest.mark.django_db

COLUMNS = ("at", "interval_seconds", "cpu_time_ns", "cpu_core_seconds", "memory_used_mb", "memory_total_mb",
           "net_rx_bytes", "net_tx_bytes", "disk_read_bytes", "disk_write_bytes", "net_bytes", "disk_bytes")
ROLLUP = ("hour", "samples", "cpu_pct_avg", "cpu_pct_max", "cpu_core_seconds", "memory_avg_mb", "memory_max_mb",
          "memory_mb_seconds", "net_bytes", "disk_bytes")


def sample(ext, at, cpu=None, mem=None, total=None, rx=None, tx=None, rd=None, wr=None):
    return UtilizationSample(ext, at, cpu_time_ns=cpu, memory_used_mb=Decimal(mem) if mem is not None else None,
                             memory_total_mb=Decimal(total) if total is not None else None,
                             net_rx_bytes=rx, net_tx_bytes=tx, disk_read_bytes=rd, disk_write_bytes=wr)


def refresh(account, world, at, *samples):
    world.now = at
    world.samples = list(samples)
    return collector.refresh(account)


def stored(ext):
    return [dict(zip(COLUMNS, row, strict=True))
            for row in RawSample.objects.filter(resource__external_id=ext).order_by("at").values_list(*COLUMNS)]


def counters(ext):
    return LastSample.objects.filter(resource__external_id=ext).values_list(
        "at", "cpu_time_ns", "net_total_bytes", "disk_total_bytes").get()


def rolled(ext):
    return [dict(zip(ROLLUP, row, strict=True))
            for row in UtilizationRollup.objects.filter(resource__external_id=ext).order_by("hour").values_list(*ROLLUP)]


@pytest.fixture
def two_vms(fake_account, world, project):
    world.put(vm("v1", vcpus="2"))
    world.put(vm("v2", vcpus="4"))
    return fake_account, world


def test_deltas_and_intervals_against_the_previous_sample(two_vms):
    account, world = two_vms
    t1, t2 = T0 + timedelta(minutes=5), T0 + timedelta(minutes=10, microseconds=250)
    run = refresh(account, world, T0, sample("v1", T0, cpu=10**9, mem="512.5", total="2048", rx=100, tx=50, rd=7, wr=3))
    assert run.samples == 1
    refresh(account, world, t1, sample("v1", t1, cpu=31 * 10**9, mem="1024", total="2048", rx=400, tx=150, rd=17, wr=8))
    refresh(account, world, t2, sample("v1", t2, cpu=61 * 10**9, rx=500, tx=None, rd=None, wr=None))
    first, second, third = stored("v1")
    assert first == {"at": T0, "interval_seconds": None, "cpu_time_ns": 10**9, "cpu_core_seconds": None,
                     "memory_used_mb": 512.5, "memory_total_mb": 2048.0, "net_rx_bytes": 100, "net_tx_bytes": 50,
                     "disk_read_bytes": 7, "disk_write_bytes": 3, "net_bytes": None, "disk_bytes": None}
    assert second == {"at": t1, "interval_seconds": 300.0, "cpu_time_ns": 31 * 10**9, "cpu_core_seconds": 30.0,
                      "memory_used_mb": 1024.0, "memory_total_mb": 2048.0, "net_rx_bytes": 400, "net_tx_bytes": 150,
                      "disk_read_bytes": 17, "disk_write_bytes": 8, "net_bytes": 400, "disk_bytes": 15}
    # tx missing counts as 0 in the sum; no disk counters at all: no delta
    assert third == {"at": t2, "interval_seconds": 300.00025, "cpu_time_ns": 61 * 10**9, "cpu_core_seconds": 30.0,
                     "memory_used_mb": None, "memory_total_mb": None, "net_rx_bytes": 500, "net_tx_bytes": None,
                     "disk_read_bytes": None, "disk_write_bytes": None, "net_bytes": None, "disk_bytes": None}
    assert counters("v1") == (t2, 61 * 10**9, 500, None)
    assert stored("v2") == [] and not LastSample.objects.filter(resource__external_id="v2").exists()


def test_a_counter_reset_gives_no_delta_and_the_next_sample_counts_from_it(two_vms):
    account, world = two_vms
    times = [T0 + timedelta(minutes=5 * i) for i in range(3)]
    refresh(account, world, times[0], sample("v1", times[0], cpu=50 * 10**9, rx=1000, tx=1000, rd=500, wr=0))
    refresh(account, world, times[1], sample("v1", times[1], cpu=2 * 10**9, rx=10, tx=0, rd=600, wr=0))  # restarted
    refresh(account, world, times[2], sample("v1", times[2], cpu=5 * 10**9, rx=30, tx=5, rd=650, wr=0))
    _, reset, after = stored("v1")
    assert (reset["interval_seconds"], reset["cpu_core_seconds"], reset["net_bytes"], reset["disk_bytes"]) == (
        300.0, None, None, 100)
    assert (after["cpu_core_seconds"], after["net_bytes"], after["disk_bytes"]) == (3.0, 25, 50)


def test_duplicate_and_late_samples_are_skipped_and_not_counted(two_vms):
    account, world = two_vms
    t1, t2 = T0 + timedelta(minutes=5), T0 + timedelta(minutes=10)
    refresh(account, world, T0, sample("v1", t1, cpu=10**9))
    run = refresh(account, world, t1, sample("v1", t1, cpu=9 * 10**9), sample("v1", T0, cpu=1),
                  sample("v2", t1, cpu=4 * 10**9))
    assert run.samples == 1  # only v2's
    assert [s["cpu_time_ns"] for s in stored("v1")] == [10**9]
    # two samples of one resource in one refresh: the second counts from the first; out of order, the older is late
    run = refresh(account, world, t2, sample("v1", t2 - timedelta(minutes=2), cpu=2 * 10**9),
                  sample("v1", t2, cpu=5 * 10**9), sample("v2", t1 + timedelta(minutes=4), cpu=8 * 10**9),
                  sample("v2", t1 + timedelta(minutes=1), cpu=10**9), sample("nobody", t2, cpu=1))
    assert run.samples == 3
    assert [(s["interval_seconds"], s["cpu_core_seconds"]) for s in stored("v1")] == [
        (None, None), (180.0, 1.0), (120.0, 3.0)]
    assert [(s["interval_seconds"], s["cpu_core_seconds"]) for s in stored("v2")] == [(None, None), (240.0, 4.0)]
    assert counters("v2")[0] == t1 + timedelta(minutes=4)


def test_a_sample_already_stored_is_kept_and_the_counters_move_on(two_vms):
    account, world = two_vms
    refresh(account, world, T0, sample("v1", T0, cpu=10**9))
    t1 = T0 + timedelta(minutes=5)
    v1 = Resource.objects.get(external_id="v1")
    RawSample.objects.create(resource=v1, at=t1, cpu_time_ns=123)  # e.g. written by a run rolled back elsewhere
    run = refresh(account, world, t1, sample("v1", t1, cpu=3 * 10**9))
    assert run.samples == 1
    assert [s["cpu_time_ns"] for s in stored("v1")] == [10**9, 123]
    assert counters("v1") == (t1, 3 * 10**9, None, None)


def test_rollups_of_the_hours_sampled(two_vms):
    account, world = two_vms
    h0, h1 = T0, T0 + timedelta(hours=1)
    a, b, c = h0 + timedelta(minutes=50), h0 + timedelta(minutes=55), h1 + timedelta(minutes=5)
    refresh(account, world, a, sample("v1", a, cpu=0, mem="1000", rx=0, rd=0), sample("v2", a, cpu=0, mem="10"))
    # one refresh whose samples span two hours
    refresh(account, world, c, sample("v1", b, cpu=150 * 10**9, mem="2000", rx=100, rd=10),
            sample("v1", c, cpu=450 * 10**9, mem="3000", rx=300, rd=40))
    first, second = rolled("v1")
    assert first == {"hour": h0, "samples": 2, "cpu_pct_avg": 150 / 300 / 2 * 100, "cpu_pct_max": 150 / 300 / 2 * 100,
                     "cpu_core_seconds": 150.0, "memory_avg_mb": 1500.0, "memory_max_mb": 2000.0,
                     "memory_mb_seconds": 2000.0 * 300, "net_bytes": 100, "disk_bytes": 10}
    assert second == {"hour": h1, "samples": 1, "cpu_pct_avg": 300 / 600 / 2 * 100, "cpu_pct_max": 300 / 600 / 2 * 100,
                      "cpu_core_seconds": 300.0, "memory_avg_mb": 3000.0, "memory_max_mb": 3000.0,
                      "memory_mb_seconds": 3000.0 * 600, "net_bytes": 200, "disk_bytes": 30}
    [v2] = rolled("v2")
    assert (v2["hour"], v2["samples"], v2["memory_avg_mb"], v2["cpu_pct_avg"]) == (h0, 1, 10.0, None)


def test_rollups_written_by_refreshes_equal_a_full_recompute(two_vms):
    account, world = two_vms
    for step in range(30):  # 2.5 hours every 5 minutes; v2 sampled every other time
        at = T0 + timedelta(minutes=5 * step, seconds=step)
        found = [sample("v1", at, cpu=step * 37 * 10**9, mem=str(500 + step), rx=step * 1000, tx=step, rd=step * 9)]
        if step % 2:
            found.append(sample("v2", at, cpu=step * 11 * 10**9, mem=str(900 - step), total="4096"))
        refresh(account, world, at, *found)
    written = {ext: rolled(ext) for ext in ("v1", "v2")}
    UtilizationRollup.objects.all().delete()
    rollups.rollup_hours(T0, T0 + timedelta(hours=3))
    assert {ext: rolled(ext) for ext in ("v1", "v2")} == written
    assert len(written["v1"]) == 3 and sum(r["samples"] for r in written["v2"]) == 15


def test_rollup_hours_for_named_resources_leaves_the_others_alone(two_vms, monkeypatch):
    account, world = two_vms
    refresh(account, world, T0, sample("v1", T0, cpu=0, mem="100"), sample("v2", T0, cpu=0, mem="200"))
    at = T0 + timedelta(minutes=5)
    refresh(account, world, at, sample("v1", at, cpu=60 * 10**9, mem="300"), sample("v2", at, cpu=60 * 10**9, mem="400"))
    UtilizationRollup.objects.update(samples=0)
    v1 = Resource.objects.get(external_id="v1")
    assert rollups.rollup_hours(T0, at, account=account, resources=[v1.pk]) == 1
    assert [r["samples"] for r in rolled("v1")] == [2] and [r["samples"] for r in rolled("v2")] == [0]
    assert rollups.rollup_hours(T0, at, account=account, resources=[]) == 0
    monkeypatch.setattr(rollups, "CHUNK", 1)  # more resources than one statement takes (SQLite)
    assert rollups.rollup_hours(T0, at, account=account, resources=[v1.pk, Resource.objects.get(external_id="v2").pk]) == 2
    assert [r["samples"] for r in rolled("v2")] == [2]


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_each_resources_counters_into_their_table():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from providers.models import ProviderAccount

    before, after = [("metering", "0020_merge_report_index")], [("metering", "0021_last_sample_table")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps.get_model("metering", "Resource")
    account = ProviderAccount.objects.create(name="kvm", kind="fake", settings={"world": "w"})
    at = T0 + timedelta(microseconds=17)
    common = {"account_id": account.pk, "kind": "vm", "first_seen": T0, "last_seen": T0}
    sampled = old.objects.create(external_id="a", name="a", **common, last_sample={
        "at": at.isoformat(), "cpu_time_ns": 5 * 10**18, "net": 12, "disk": None})
    old.objects.create(external_id="b", name="b", **common)  # never sampled
    MigrationExecutor(connection).migrate(after)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert list(LastSample.objects.values_list("resource_id", "at", "cpu_time_ns", "net_total_bytes",
                                               "disk_total_bytes")) == [(sampled.pk, at, 5 * 10**18, 12, None)]
    assert Resource.objects.get(pk=sampled.pk).last_sample.at == at
    # and back: the column holds them again
    MigrationExecutor(connection).migrate(before)
    executor = MigrationExecutor(connection)
    old = executor.loader.project_state(before).apps.get_model("metering", "Resource")
    assert dict(old.objects.values_list("external_id", "last_sample")) == {
        "a": {"at": at.isoformat(), "cpu_time_ns": 5 * 10**18, "net": 12, "disk": None}, "b": {}}
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_the_resource_admin_shows_the_last_sample_or_nothing(two_vms, client, django_user_model):
    account, world = two_vms
    refresh(account, world, T0, sample("v1", T0, cpu=10**9))
    client.force_login(django_user_model.objects.create_superuser("root", password="pw-for-tests-1"))
    for ext, shown in (("v1", f"last sample of {Resource.objects.get(external_id='v1').pk} at 2026-11-01 00:00:00"),
                       ("v2", "Last sample")):
        page = client.get(f"/admin/metering/resource/{Resource.objects.get(external_id=ext).pk}/change/")
        assert page.status_code == 200 and shown in page.content.decode()


def test_rows_inserted_as_tuples_equal_what_bulk_create_stores(two_vms):
    from metering import samples as raw_samples

    account, world = two_vms
    refresh(account, world, T0)
    v1, v2 = Resource.objects.get(external_id="v1"), Resource.objects.get(external_id="v2")
    columns = ("resource_id", *COLUMNS)
    at = T0 + timedelta(minutes=5, microseconds=123456)
    rows = [
        (v1.pk, at, 0.1 + 0.2, 2**62, 1e-7, 1e300, 2048.0, 1, 2, 3, 4, 5, 6),
        # values as a driver might hand them: Decimals, an int-valued float, a bool; what the fields make of them
        (v2.pk, at, 300, 7.9, Decimal("12.5"), Decimal("511.75"), None, None, True, 0, None, None, 0),
    ]
    raw_samples.insert(rows)
    raw_samples.insert([(v1.pk, at, *([None] * 11))])  # already there: left as it is
    ours = sorted(RawSample.objects.values_list(*columns))
    RawSample.objects.all().delete()
    RawSample.objects.bulk_create([RawSample(**dict(zip(columns, row, strict=True))) for row in rows])
    assert ours == sorted(RawSample.objects.values_list(*columns))
    assert ours[0][1:5] == (at, 0.1 + 0.2, 2**62, 1e-7) and ours[1][3:5] == (7, 12.5)


def test_last_samples_leave_room_on_their_pages_for_the_update_of_every_refresh(db):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL storage parameter (HOT updates)")
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE oid = to_regclass('metering_lastsample')")
        assert "fillfactor=50" in cursor.fetchone()[0]
