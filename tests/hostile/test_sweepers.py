"""Nothing stays stuck (issue 17, items 1 and 6): the periodic sweeper releases the reservations of
provision requests that never started or whose worker died, and the reaper ends refresh runs that
were lost, releasing their lease, each after a stated timeout and with an audit line."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from metering.choices import RequestState, RunStatus
from metering.models import CollectionState, ProvisionRequest, RefreshRun, Reservation
from metering.tasks import reap_runs, sweep_requests

pytestmark = pytest.mark.django_db


def request_in(project, account, state, age):
    request = ProvisionRequest.objects.create(project=project, account=account, kind="vm", spec={"name": state},
                                              state=state)
    ProvisionRequest.objects.filter(pk=request.pk).update(created_at=timezone.now() - age)
    Reservation.objects.create(request=request, project=project, account=account, vms=1, vcpus=1)
    return request


def test_requests_that_never_started_or_died_are_released(project, fake_account, settings, caplog):
    settings.GLASSPANE_PROVISION_START_TIMEOUT = 600
    settings.GLASSPANE_PROVISION_TIMEOUT = 1800
    lost = request_in(project, fake_account, RequestState.PENDING, timedelta(minutes=11))
    died = request_in(project, fake_account, RequestState.PROVISIONING, timedelta(minutes=31))
    young = request_in(project, fake_account, RequestState.PENDING, timedelta(minutes=5))
    working = request_in(project, fake_account, RequestState.PROVISIONING, timedelta(minutes=20))
    with caplog.at_level(logging.WARNING):
        assert sweep_requests() == 2
    for request in (lost, died):
        request.refresh_from_db()
        assert request.state == RequestState.FAILED and "timeout" in request.message
        assert not Reservation.objects.get(request=request).active
    for request in (young, working):
        request.refresh_from_db()
        assert Reservation.objects.get(request=request).active
    audit = [r.getMessage() for r in caplog.records if "audit" in r.getMessage()]
    assert len(audit) == 2 and str(lost.pk) in audit[0] + audit[1]
    # every active reservation belongs to a live request
    assert not Reservation.objects.filter(active=True).exclude(
        request__state__in=[RequestState.PENDING, RequestState.PROVISIONING]).exists()


def test_lost_runs_end_abandoned_and_release_their_lease(fake_account, settings, caplog):
    settings.GLASSPANE_RUN_QUEUE_TIMEOUT = 600
    settings.CELERY_TASK_TIME_LIMIT = 900
    now = timezone.now()
    lost_queued = RefreshRun.objects.create(account=fake_account, status=RunStatus.QUEUED)
    RefreshRun.objects.filter(pk=lost_queued.pk).update(queued_at=now - timedelta(minutes=11))
    killed = RefreshRun.objects.create(account=fake_account, status=RunStatus.RUNNING,
                                       started_at=now - timedelta(seconds=961))
    CollectionState.objects.update_or_create(account=fake_account, defaults={
        "lease_owner": f"run:{killed.pk}", "lease_until": now + timedelta(minutes=5)})
    fresh = RefreshRun.objects.create(account=fake_account, status=RunStatus.RUNNING, started_at=now)
    with caplog.at_level(logging.WARNING):
        assert reap_runs() == 2
    for run in (lost_queued, killed):
        run.refresh_from_db()
        assert run.status == RunStatus.FAILED and run.error.startswith("abandoned") and run.finished_at
    fresh.refresh_from_db()
    assert fresh.status == RunStatus.RUNNING
    state = CollectionState.objects.get(account=fake_account)
    assert state.lease_owner == "" and state.lease_until is None
    assert sum("audit" in r.getMessage() for r in caplog.records) == 2


def test_a_lost_workers_lease_lapses_in_minutes_and_the_next_refresh_runs(fake_account, world, settings):
    """The refresh's lease is short and renewed by a heartbeat: when its worker dies the lease lapses
    within GLASSPANE_LEASE_TTL, the reaper ends the run, and the next refresh is not skipped (before,
    the lease lasted the task's time limit + 60 s: refreshes were skipped for 16 minutes)."""
    from metering import collector

    now = timezone.now()
    dead = RefreshRun.objects.create(account=fake_account, status=RunStatus.RUNNING,
                                     started_at=now - timedelta(minutes=5))
    CollectionState.objects.update_or_create(account=fake_account, defaults={
        "lease_owner": f"run:{dead.pk}", "lease_until": now - timedelta(seconds=30)})  # its heartbeat stopped
    assert reap_runs() == 1
    dead.refresh_from_db()
    assert dead.status == RunStatus.FAILED and dead.error == "abandoned: its worker was lost: its lease lapsed"
    assert collector.refresh(fake_account).status == RunStatus.OK


def test_a_running_refresh_takes_a_short_lease(fake_account, world, settings, monkeypatch):
    from metering import collector

    seen = {}
    real_apply = collector.apply

    def spy(account, *args, **kwargs):
        seen["until"] = CollectionState.objects.get(account=account).lease_until
        return real_apply(account, *args, **kwargs)

    monkeypatch.setattr(collector, "apply", spy)
    before = timezone.now()
    collector.refresh(fake_account)
    assert before + timedelta(seconds=100) < seen["until"] <= timezone.now() + timedelta(seconds=120)


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_renews_the_lease_while_the_refresh_works(fake_account, settings):
    import time

    from metering.collector import Heartbeat

    settings.GLASSPANE_LEASE_HEARTBEAT, settings.GLASSPANE_LEASE_TTL = 0.05, 60
    CollectionState.objects.update_or_create(account=fake_account, defaults={
        "lease_owner": "run:1", "lease_until": timezone.now() + timedelta(seconds=1)})
    with Heartbeat(fake_account, "run:1"):
        time.sleep(0.5)
    assert CollectionState.objects.get(account=fake_account).lease_until > timezone.now() + timedelta(seconds=50)
