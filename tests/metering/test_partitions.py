"""Utilization samples: partitioned by day on PostgreSQL, retention drops whole days and creates the
coming ones; SQLite keeps the plain table and deletes rows."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from metering import partitions
from metering.models import Resource, UtilizationSample
from metering.rollups import prune_samples

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        if os.environ.get("GLASSPANE_CI") == "1":
            pytest.fail("CI runs the suite on PostgreSQL (DATABASE_URL); this test needs it")
        pytest.skip("partitioning is PostgreSQL's; run with DATABASE_URL=postgres://... (CI does)")


@pytest.fixture
def resource(fake_account):
    return Resource.objects.create(account=fake_account, external_id="vm-1", kind="vm", name="vm-1",
                                   first_seen=NOW - timedelta(days=30), last_seen=NOW)


def sample_at(resource, at):
    return UtilizationSample.objects.create(resource=resource, at=at, cpu_time_ns=1)


def where(sample) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text FROM {partitions.TABLE} WHERE id = %s", [sample.pk])
        return cursor.fetchone()[0]


def test_the_migration_partitions_the_table_by_day(postgresql):
    assert partitions.is_partitioned()
    today = datetime.now(UTC).date()
    days = partitions.partitions()
    assert today in days and today + timedelta(days=partitions.AHEAD) in days


def test_retention_drops_whole_days_and_creates_the_coming_ones(postgresql, resource):
    days = [NOW - timedelta(days=n) for n in (10, 9, 8, 7, 6, 1, 0)]
    for day in days:
        partitions.create_partition(day.date())
    samples = {n: sample_at(resource, NOW - timedelta(days=n)) for n in (10, 9, 8, 7, 6, 1, 0)}
    assert where(samples[9]) == partitions.partition_name((NOW - timedelta(days=9)).date())
    far = sample_at(resource, datetime(2001, 1, 1, tzinfo=UTC))  # a provider clock far off
    assert where(far) == partitions.DEFAULT

    removed = prune_samples(NOW)  # retention 7 days: cutoff 2026-11-23 12:00

    remaining = set(UtilizationSample.objects.values_list("pk", flat=True))
    # days that ended by the cutoff are gone with their partitions; the default's old rows too
    everything = {s.pk for s in samples.values()} | {far.pk}
    assert everything - remaining == {samples[10].pk, samples[9].pk, samples[8].pk, far.pk}
    # the cutoff's own day is kept whole (up to one day beyond the retention), and everything later
    assert {samples[n].pk for n in (7, 6, 1, 0)} <= remaining
    assert removed == 4
    existing = partitions.partitions()
    assert (NOW - timedelta(days=8)).date() not in existing and (NOW - timedelta(days=7)).date() in existing
    assert all((NOW + timedelta(days=n)).date() in existing for n in range(partitions.AHEAD + 1))


def test_a_new_day_takes_its_samples_out_of_the_default_partition(postgresql, resource):
    day = datetime(2030, 6, 1, 8, tzinfo=UTC)
    early = sample_at(resource, day)
    assert where(early) == partitions.DEFAULT
    assert partitions.create_partition(day.date()) is True
    assert where(early) == partitions.partition_name(day.date())
    assert UtilizationSample.objects.get(pk=early.pk).at == day
    assert partitions.create_partition(day.date()) is False  # already there


def test_sqlite_keeps_a_plain_table_and_deletes_rows(resource):
    if connection.vendor != "sqlite":
        pytest.skip("the plain-table path is SQLite's (make run and the default test run)")
    assert not partitions.is_partitioned()
    old, kept = sample_at(resource, NOW - timedelta(days=8)), sample_at(resource, NOW - timedelta(days=6))
    assert prune_samples(NOW) == 1
    assert list(UtilizationSample.objects.values_list("pk", flat=True)) == [kept.pk]
    assert old.pk != kept.pk
