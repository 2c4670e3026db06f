"""The engine's /events through the listener: pauses and removals dated by the engine's own event
times, and a reconnecting listener replays what it missed."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from metering import collector
from metering.listener import Listener
from metering.models import LifecycleEvent, Project, Resource, UsageSegment
from providers.base import EventAction, State
from providers.docker import events as docker_events
from providers.models import ProviderAccount

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def wait_for(account, external_id, kind, timeout=20.0) -> LifecycleEvent:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = LifecycleEvent.objects.filter(account=account, external_id=external_id, action=kind).first()
        if found is not None:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no {kind} event for {external_id[:12]} within {timeout} s")


def start_listener(name):
    listener = Listener([name], rescan=1)
    thread = threading.Thread(target=listener.run, daemon=True)
    thread.start()
    return listener, thread


def stop_listener(listener, thread):
    listener.stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()


def refresh(account):
    time.sleep(1.1)  # the engine's clock (SystemTime) is the observation time, to the second or so
    return collector.refresh(account)


def test_pause_and_removal_are_dated_by_engine_events_and_replayed_after_a_gap(docker_base_url, make_container):
    Project.objects.create(slug="shop", name="Shop")
    account = ProviderAccount.objects.create(name="engine-ev", kind="docker", settings={"base_url": docker_base_url},
                                             refresh_interval=60)
    container = make_container(labels={"glasspane.project": "shop"})
    ext = container.id
    refresh(account)
    # the listener starts with the events since that refresh: no race with its connection
    listener, thread = start_listener("engine-ev")
    try:
        container.pause()
        paused = wait_for(account, ext, EventAction.PAUSED)
        time.sleep(1)
        run = refresh(account)
    finally:
        stop_listener(listener, thread)

    resource = Resource.objects.get(account=account, external_id=ext)
    assert resource.state == State.PAUSED
    running, held = UsageSegment.objects.filter(resource=resource).order_by("start")
    assert running.state == State.RUNNING and running.end == paused.at  # not the poll's time
    assert run.observed_at - paused.at > timedelta(seconds=1)
    assert held.start == paused.at

    # nobody listens while the container is removed; the next listener asks for the events since
    # the newest it has, and the engine replays the removal
    container.remove(force=True)
    listener, thread = start_listener("engine-ev")
    try:
        removed = wait_for(account, ext, EventAction.DELETED)
    finally:
        stop_listener(listener, thread)
    assert removed.detail in ("destroy", "remove")
    assert LifecycleEvent.objects.filter(account=account, external_id=ext, action=EventAction.PAUSED).count() == 1
    refresh(account)
    resource.refresh_from_db()
    assert resource.state == State.DELETED and resource.deleted_at == removed.at
    held.refresh_from_db()
    assert held.end == removed.at and not held.open


def test_translate_keeps_container_lifecycle_actions_only():
    base = {"Type": "container", "Actor": {"ID": "abc", "Attributes": {"name": "web", "exitCode": "137"}},
            "time": 1700000000, "timeNano": 1700000000123456789}
    die = docker_events.translate({**base, "Action": "die"})
    assert (die.action, die.external_id, dict(die.details)) == (EventAction.STOPPED, "abc", {"name": "web", "detail": "die (exit 137)"})
    assert die.at.isoformat() == "2023-11-14T22:13:20.123456+00:00"
    assert docker_events.translate({**base, "Action": "kill"}) is None
    assert docker_events.translate({**base, "Type": "image", "Action": "remove"}) is None
    assert docker_events.translate({"Action": "start"}) is None  # no id, no time
    assert docker_events.translate("garbage") is None
