"""LXD's lifecycle events through the generic listener (``listen_events``) and the collector: a
container stopped between two refreshes stops costing at its event's time."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from metering import collector
from metering.listener import Listener
from metering.models import LifecycleEvent, Resource, UsageSegment
from providers.base import EventAction, State, utcnow
from providers.models import ProviderAccount

pytestmark = [pytest.mark.real_lxd, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_listener_records_lxd_events_and_the_collector_dates_the_stop(lxd_socket, lxd_project, launch):
    project = lxd_project("lsn")
    instance = launch(project, "c1", config={"limits.cpu": "1"})
    ext = f"{project}/c1"
    account = ProviderAccount.objects.create(name="lxd-events", kind="lxd", refresh_interval=60,
                                             settings={"endpoint": f"unix://{lxd_socket}", "projects": project})
    listener = Listener(["lxd-events"], rescan=1)
    thread = threading.Thread(target=listener.run, daemon=True)
    thread.start()
    try:
        collector.refresh(account)
        deadline = time.monotonic() + 20  # the listener is live once it records this pause
        while not LifecycleEvent.objects.filter(account=account, external_id=ext).exists():
            assert time.monotonic() < deadline, "the LXD listener recorded nothing within 20 s"
            instance.freeze(wait=True)
            instance.unfreeze(wait=True)
            time.sleep(0.5)
        collector.refresh(account)
        asked = utcnow()
        instance.stop(force=True, wait=True)
        done = utcnow()
        deadline = time.monotonic() + 20
        while not (stop := LifecycleEvent.objects.filter(account=account, external_id=ext,
                                                          action=EventAction.STOPPED).first()):
            assert time.monotonic() < deadline, "no stopped event within 20 s"
            time.sleep(0.1)
        time.sleep(1.5)
        run = collector.refresh(account)
    finally:
        listener.stop.set()
        thread.join(timeout=10)

    assert asked <= stop.at <= done + timedelta(seconds=1)
    resource = Resource.objects.get(account=account, external_id=ext)
    assert resource.state == State.STOPPED
    last_running = UsageSegment.objects.filter(resource=resource, state=State.RUNNING).order_by("start").last()
    assert last_running.end == stop.at and not last_running.open
    assert run.observed_at - stop.at > timedelta(seconds=1)  # not the poll's time
