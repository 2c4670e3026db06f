"""Fault injection on PostgreSQL (issue 17): the database connection is cut
(``pg_terminate_backend``) in the middle of a refresh and in the middle of an admission. Nothing
half-written stays, nothing stays stuck, and the ledger and reservation invariants hold after.
PostgreSQL only (CI runs the suite on it); skipped on SQLite, failing in CI if PostgreSQL is absent."""

from __future__ import annotations

import os
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from rest_framework.test import APIClient

from devsim.fake import FakeDriver
from metering import collector
from metering.choices import RunStatus
from metering.models import ProvisionRequest, RefreshRun, Reservation
from metering.tasks import reap_runs
from tests.conftest import T0, vm
from tests.hostile.invariants import violations

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def postgres_only():
    if connection.vendor != "postgresql":
        if os.environ.get("GLASSPANE_CI") == "1":
            pytest.fail("GLASSPANE_CI=1: the fault-injection tests need DATABASE_URL on PostgreSQL")
        pytest.skip("pg_terminate_backend needs PostgreSQL (DATABASE_URL)")


def terminate_our_backend() -> None:
    """Cut this process's database connection from the server side, as a failover or an admin would."""
    pid = connection.connection.info.backend_pid
    s = connection.settings_dict
    with psycopg.connect(host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432, user=s["USER"],
                         password=s["PASSWORD"] or None, dbname=s["NAME"], autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])


def test_connection_cut_mid_refresh(fake_account, world, settings):
    for i in range(5):
        world.put(vm(f"v{i}"))
    world.now = T0
    collector.refresh(fake_account)
    original = FakeDriver.inventory

    def cut_then_observe(self, since=None):
        terminate_our_backend()
        return original(self, since)

    world.now = T0 + timedelta(minutes=5)
    FakeDriver.inventory = cut_then_observe
    try:
        collector.refresh(fake_account)  # records its failure on a new connection, or raises
    except Exception:  # noqa: BLE001 - the database's error, when even recording failed
        pass
    finally:
        FakeDriver.inventory = original
    connection.close()  # what Django does at the end of a request or task
    run = RefreshRun.objects.order_by("-pk").first()
    assert run.status in (RunStatus.FAILED, RunStatus.RUNNING), run.status
    assert violations() == []
    if run.status == RunStatus.RUNNING:  # nobody could record its end: bounded by the reaper
        settings.CELERY_TASK_TIME_LIMIT = -120
        assert reap_runs() == 1
        run.refresh_from_db()
        assert run.error.startswith("abandoned")
        settings.CELERY_TASK_TIME_LIMIT = 900
    assert run.status == RunStatus.FAILED
    from metering.models import CollectionState

    assert CollectionState.objects.get(account=fake_account).lease_owner == ""  # free: the next refresh runs
    world.now = T0 + timedelta(minutes=10)
    again = collector.refresh(fake_account)
    assert again.status == RunStatus.OK, again.error
    assert violations() == []


def test_connection_cut_mid_admission(api_world, monkeypatch):
    from metering.quotas import admission

    queued = []
    monkeypatch.setattr(admission, "enqueue_provision", queued.append)
    original = admission.lock_project
    calls = {"n": 0}

    def cut_then_lock(project):
        calls["n"] += 1
        if calls["n"] == 1:
            terminate_our_backend()
        return original(project)

    monkeypatch.setattr(admission, "lock_project", cut_then_lock)
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(api_world.users["staff"])
    body = {"project": "alpha", "provider": api_world.account.name, "name": "cut", "kind": "vm", "vcpus": "1",
            "ram_mb": 512}
    response = client.post("/api/v1/provision-requests/", body, format="json")
    assert response.status_code in (202, 503), response.content
    connection.close()
    if response.status_code == 503:
        assert int(response["Retry-After"]) > 0
        assert not ProvisionRequest.objects.filter(spec__name="cut", state="pending").exists()
    assert violations() == []
    assert Reservation.objects.filter(active=True).count() == len(queued)
    # and the next request goes through
    body["name"] = "after"
    assert client.post("/api/v1/provision-requests/", body, format="json").status_code == 202
    assert violations() == []
