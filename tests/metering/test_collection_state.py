"""The collector's state of an account (health, last refresh, lease) lives in ``CollectionState``,
one row per account; the migration that moved it there keeps what the account rows held."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from metering.models import CollectionState
from providers.models import ProviderAccount

BEFORE = [("metering", "0011_external_project_quotas"), ("providers", "0001_initial")]
AFTER = [("metering", "0012_collection_state"), ("providers", "0002_collection_state_moved")]
AT = datetime(2026, 11, 1, 12, tzinfo=UTC)


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_health_last_refresh_and_lease_without_losing_them():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("providers", "ProviderAccount")
    old.objects.create(name="kvm", kind="fake", settings={"world": "w"}, health="unhealthy",
                       health_message="connection refused", health_checked_at=AT, last_refresh_started=AT,
                       last_refresh_finished=AT, last_refresh_duration=1.5, last_refresh_counts={"created": 3},
                       last_refresh_error="ProviderUnavailable: connection refused", last_observed_at=AT,
                       refresh_lease_owner="run:7", refresh_lease_until=AT)
    old.objects.create(name="fresh", kind="fake", settings={"world": "w"})
    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    kvm = CollectionState.objects.get(account__name="kvm")
    assert (kvm.health, kvm.health_message, kvm.last_refresh_duration, kvm.last_refresh_counts) == (
        "unhealthy", "connection refused", 1.5, {"created": 3})
    assert (kvm.last_observed_at, kvm.lease_owner, kvm.lease_until, kvm.last_refresh_finished) == (AT, "run:7", AT, AT)
    assert CollectionState.objects.get(account__name="fresh").health == "unknown"
    assert not hasattr(ProviderAccount, "health") and not hasattr(ProviderAccount, "last_observed_at")


@pytest.mark.django_db
def test_every_new_account_gets_its_state():
    account = ProviderAccount(name="new", kind="fake", settings={"world": "w"})
    account.save()
    assert CollectionState.objects.get(account=account).health == "unknown"


@pytest.mark.django_db
def test_the_account_admin_shows_the_collectors_state(client, django_user_model):
    account = ProviderAccount(name="kvm", kind="fake", settings={"world": "w"})
    account.save()
    CollectionState.objects.filter(account=account).update(health="unhealthy", health_message="connection refused")
    client.force_login(django_user_model.objects.create_superuser("root", password="pw-for-tests-1"))
    page = client.get(f"/admin/providers/provideraccount/{account.pk}/change/").content.decode()
    assert "Health and last refresh" in page and "connection refused" in page and "Unhealthy" in page
    listing = client.get("/admin/providers/provideraccount/?collection__health__exact=unhealthy").content.decode()
    assert "kvm" in listing and "Unhealthy" in listing
