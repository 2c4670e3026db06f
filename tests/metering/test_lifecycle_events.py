"""Recorded lifecycle events date the changes a refresh finds (metering.events), never double count."""

from dataclasses import replace
from datetime import timedelta

import pytest

from metering import collector
from metering import events as lifecycle_events
from metering.models import LifecycleEvent, UsageSegment
from providers.base import EventAction, ObservedEvent, State
from tests.conftest import T0, vm

pytestmark = pytest.mark.django_db


def refresh_at(account, world, at):
    world.now = at
    return collector.refresh(account)


def spans(ext):
    return [(s.state, s.start, s.end, s.open)
            for s in UsageSegment.objects.filter(resource__external_id=ext).order_by("start")]


def event(ext, kind, at):
    return ObservedEvent(ext, kind, at, {"name": ext, "detail": "test"})


def test_a_stop_between_polls_ends_the_running_segment_at_the_event(fake_account, world, project):
    world.put(vm("v1"))
    refresh_at(fake_account, world, T0)
    stopped_at = T0 + timedelta(seconds=197)  # 10:03:17 for a poll every 5 minutes
    lifecycle_events.record(fake_account, [event("v1", EventAction.STOPPED, stopped_at)])
    world.put(vm("v1", state=State.STOPPED))
    refresh_at(fake_account, world, T0 + timedelta(minutes=5))
    assert spans("v1") == [
        (State.RUNNING, T0, stopped_at, False),
        (State.STOPPED, stopped_at, T0 + timedelta(minutes=5), True),
    ]


def test_resume_and_suspend_are_dated_and_the_newest_event_wins(fake_account, world, project):
    world.put(vm("v1", state=State.PAUSED))
    refresh_at(fake_account, world, T0)
    lifecycle_events.record(fake_account, [
        event("v1", EventAction.RESUMED, T0 + timedelta(seconds=30)),
        event("v1", EventAction.PAUSED, T0 + timedelta(seconds=60)),
        event("v1", EventAction.RESUMED, T0 + timedelta(seconds=90)),
    ])
    world.put(vm("v1"))
    refresh_at(fake_account, world, T0 + timedelta(minutes=5))
    assert [s[:3] for s in spans("v1")] == [
        (State.PAUSED, T0, T0 + timedelta(seconds=90)),
        (State.RUNNING, T0 + timedelta(seconds=90), T0 + timedelta(minutes=5)),
    ]


def test_duplicate_events_and_a_second_apply_change_nothing(fake_account, world, project):
    world.put(vm("v1"))
    refresh_at(fake_account, world, T0)
    stopped_at = T0 + timedelta(seconds=100)
    for _ in range(2):  # a reconnected stream delivers the same event again
        lifecycle_events.record(fake_account, [event("v1", EventAction.STOPPED, stopped_at)])
    assert LifecycleEvent.objects.count() == 1
    world.put(vm("v1", state=State.STOPPED))
    refresh_at(fake_account, world, T0 + timedelta(minutes=5))
    before = spans("v1")
    refresh_at(fake_account, world, T0 + timedelta(minutes=5))  # the same poll again
    assert spans("v1") == before
    refresh_at(fake_account, world, T0 + timedelta(minutes=10))  # the old event dates nothing new
    assert spans("v1")[0] == (State.RUNNING, T0, stopped_at, False)
    assert spans("v1")[1][1:] == (stopped_at, T0 + timedelta(minutes=10), True)


def test_events_outside_the_window_or_for_unchanged_state_date_nothing(fake_account, world, project):
    world.put(vm("v1"))
    refresh_at(fake_account, world, T0)
    lifecycle_events.record(fake_account, [
        event("v1", EventAction.STOPPED, T0 - timedelta(seconds=10)),  # before the last poll
        event("v1", EventAction.STOPPED, T0 + timedelta(minutes=6)),  # after this poll
    ])
    world.put(vm("v1", state=State.STOPPED))
    refresh_at(fake_account, world, T0 + timedelta(minutes=5))
    assert spans("v1")[0][2] == T0 + timedelta(minutes=5)  # dated by the poll, as before events


def test_the_providers_own_timestamp_wins_over_an_event(fake_account, world, project):
    world.put(vm("v1"))
    refresh_at(fake_account, world, T0)
    lifecycle_events.record(fake_account, [event("v1", EventAction.STOPPED, T0 + timedelta(seconds=50))])
    world.put(vm("v1", state=State.STOPPED, finished_at=T0 + timedelta(seconds=40)))
    refresh_at(fake_account, world, T0 + timedelta(minutes=5))
    assert spans("v1")[0][2] == T0 + timedelta(seconds=40)


def test_an_undefined_resource_ends_at_its_undefine_event(fake_account, world, project):
    world.put(vm("v1"))
    world.put(vm("v2"))
    refresh_at(fake_account, world, T0)
    refresh_at(fake_account, world, T0 + timedelta(minutes=5))
    lifecycle_events.record(fake_account, [
        event("v1", EventAction.STOPPED, T0 + timedelta(minutes=7)),
        event("v1", EventAction.DELETED, T0 + timedelta(minutes=7, seconds=1)),
        event("v2", EventAction.STOPPED, T0 + timedelta(minutes=8)),  # transient: gone once stopped
    ])
    world.remove("v1")
    world.remove("v2")
    refresh_at(fake_account, world, T0 + timedelta(minutes=10))
    assert spans("v1") == [(State.RUNNING, T0, T0 + timedelta(minutes=7, seconds=1), False)]
    assert spans("v2") == [(State.RUNNING, T0, T0 + timedelta(minutes=8), False)]


def test_event_times_keeps_the_newest_of_each_kind(fake_account):
    ext = "v1"
    lifecycle_events.record(fake_account, [
        event(ext, EventAction.STOPPED, T0 + timedelta(seconds=1)),
        event(ext, EventAction.STARTED, T0 + timedelta(seconds=2)),
        event(ext, EventAction.STOPPED, T0 + timedelta(seconds=3)),
        event("other", EventAction.CREATED, T0 + timedelta(seconds=3)),
        replace(event(ext, "rebooted", T0 + timedelta(seconds=4))),  # not a kind we know: not stored
    ])
    times = lifecycle_events.event_times(fake_account, T0, T0 + timedelta(minutes=1))
    assert times[ext] == lifecycle_events.EventTimes(
        started_at=T0 + timedelta(seconds=2), finished_at=T0 + timedelta(seconds=3),
        gone_at=T0 + timedelta(seconds=3))
    assert times["other"] == lifecycle_events.EventTimes()
    assert lifecycle_events.event_times(fake_account, None, T0 + timedelta(minutes=1)) == {}


def test_listen_events_names_a_bad_account_in_one_line(fake_account):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--provider 'nope': no such provider account") as missing:
        call_command("listen_events", "--provider", "nope")
    assert missing.value.returncode == 2
    with pytest.raises(CommandError, match="a fake account streams no lifecycle events"):
        call_command("listen_events", "--provider", fake_account.name)


class _Flaky:
    """A driver whose first stream breaks after two events and whose second redelivers one of them."""

    capabilities = frozenset({"events", "event_replay"})

    def __init__(self, script, sinces):
        self.script, self.sinces = script, sinces

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def supports(self, capability):
        return capability in self.capabilities

    def events(self, stop, since=None):
        from providers.base import ProviderUnavailable

        self.sinces.append(since)
        batch, then = self.script.pop(0)
        yield from batch
        if then == "break":
            raise ProviderUnavailable("the stream broke")
        stop.set()


@pytest.mark.django_db(transaction=True)
def test_the_listener_reconnects_asks_to_replay_and_stores_each_event_once(fake_account):
    import threading

    from metering.listener import listen

    e1, e2, e3 = (event("v1", kind, T0 + timedelta(seconds=s)) for kind, s in
                  ((EventAction.STARTED, 1), (EventAction.PAUSED, 2), (EventAction.RESUMED, 3)))
    sinces = []
    script = [([e1, e2], "break"), ([e2, e3], "end")]
    fake_account.driver = lambda: _Flaky(script, sinces)
    stop = threading.Event()
    listen(fake_account, stop, backoff_max=0.1)
    assert list(LifecycleEvent.objects.order_by("at").values_list("action", flat=True)) == [
        EventAction.STARTED, EventAction.PAUSED, EventAction.RESUMED]
    assert sinces == [None, e2.at]  # the second connection asked for what followed the newest event
