"""Exact lifecycle from libvirt's events on a real daemon: the listener records them, the collector
ends a stopped guest's running segment at the event, not at the next poll."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from metering import collector
from metering import events as lifecycle_events
from metering.listener import Listener
from metering.models import LifecycleEvent, Project, Resource, UsageSegment
from providers.base import EventAction, State
from providers.models import ProviderAccount
from tests.providers.libvirt_real.conftest import QEMU_URI

pytestmark = [pytest.mark.real_libvirt, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def wait_for_event(account, external_id, kind, after=None, timeout=15.0) -> LifecycleEvent:
    """The first ``kind`` event of the guest recorded after ``after`` (starting a guest resumes it too)."""
    deadline = time.monotonic() + timeout
    events = LifecycleEvent.objects.filter(account=account, external_id=external_id, action=kind)
    if after is not None:
        events = events.filter(at__gt=after)
    while time.monotonic() < deadline:
        found = events.order_by("at").first()
        if found is not None:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no {kind} event for {external_id} within {timeout} s")


@pytest.fixture
def listening(qemu_conn, guests):
    """An account on qemu:///system with the event listener running for it in a thread."""
    Project.objects.create(slug="alpha", name="Alpha")
    account = ProviderAccount.objects.create(name="kvm-events", kind="libvirt", settings={"uri": QEMU_URI},
                                             refresh_interval=60)
    listener = Listener(["kvm-events"], rescan=1)  # what `manage.py listen_events` runs
    thread = threading.Thread(target=listener.run, daemon=True)
    thread.start()
    probe = guests.make(start=False)  # the listener is live once it sees this guest redefined
    deadline = time.monotonic() + 20
    while not LifecycleEvent.objects.filter(account=account, external_id=probe.UUIDString()).exists():
        assert time.monotonic() < deadline, "the event listener did not start within 20 s"
        qemu_conn.defineXML(probe.XMLDesc(0))
        time.sleep(0.3)
    assert list(listener.threads) == [account.pk]
    yield account
    listener.stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive() and not listener.threads


def test_a_guest_stopped_between_polls_stops_costing_at_the_event(listening, guests):
    account = listening
    dom = guests.make()
    ext = dom.UUIDString()
    collector.refresh(account)
    time.sleep(1)
    mark = datetime.now(UTC)
    dom.destroy()
    destroyed_at = datetime.now(UTC)
    stopped = wait_for_event(account, ext, EventAction.STOPPED, after=mark)
    assert stopped.detail == "destroyed"
    time.sleep(2)
    run = collector.refresh(account)

    resource = Resource.objects.get(account=account, external_id=ext)
    assert resource.state == State.STOPPED
    running, off = UsageSegment.objects.filter(resource=resource).order_by("start")
    assert running.state == State.RUNNING and not running.open
    assert running.end == stopped.at
    # the guest stopped while destroy() ran; its event was dated within a second of that
    assert mark < running.end < destroyed_at + timedelta(seconds=1)
    assert run.observed_at - running.end > timedelta(seconds=1.5)  # not the poll's time
    assert (off.state, off.start, off.end, off.open) == (State.STOPPED, stopped.at, run.observed_at, True)

    # the same event again (a reconnected stream) and another poll: nothing is counted twice
    lifecycle_events.record(account, [lifecycle_events_event(stopped)])
    assert LifecycleEvent.objects.filter(account=account, external_id=ext, action=EventAction.STOPPED).count() == 1
    collector.refresh(account)
    assert UsageSegment.objects.filter(resource=resource).count() == 2
    running.refresh_from_db()
    assert running.end == stopped.at


def test_suspend_resume_and_undefine_are_dated_by_events(listening, guests):
    account = listening
    dom = guests.make()
    ext = dom.UUIDString()
    collector.refresh(account)
    dom.suspend()
    suspended = wait_for_event(account, ext, EventAction.PAUSED)
    time.sleep(1.5)
    collector.refresh(account)
    mark = datetime.now(UTC)
    dom.resume()
    resumed = wait_for_event(account, ext, EventAction.RESUMED, after=mark)
    time.sleep(1.5)
    collector.refresh(account)
    dom.destroy()
    dom.undefine()
    undefined = wait_for_event(account, ext, EventAction.DELETED)
    time.sleep(1.5)
    collector.refresh(account)

    resource = Resource.objects.get(account=account, external_id=ext)
    assert resource.state == State.DELETED and resource.deleted_at == undefined.at
    spans = [(s.state, s.start, s.end) for s in UsageSegment.objects.filter(resource=resource).order_by("start")]
    assert [s[0] for s in spans] == [State.RUNNING, State.PAUSED, State.RUNNING]
    assert spans[0][2] == spans[1][1] == suspended.at
    assert spans[1][2] == spans[2][1] == resumed.at
    assert spans[2][2] == undefined.at


def lifecycle_events_event(row: LifecycleEvent):
    from providers.base import ObservedEvent

    return ObservedEvent(row.external_id, row.action, row.at, {"name": row.name, "detail": row.detail})
