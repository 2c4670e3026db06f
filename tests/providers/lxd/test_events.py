"""LXD lifecycle events: parsing recorded messages, and dating a change the next poll shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from metering.accounting import Attrs, Obs, Seg, advance
from providers.base import EventAction, ObservedEvent, ProviderDataError, State
from providers.lxd import events, mapping
from tests.providers.lxd import shapes


def test_a_graceful_shutdown_is_a_stop_dated_by_the_daemon():
    event = events.parse_event(shapes.LIFECYCLE_SHUTDOWN)
    assert event == ObservedEvent("team-a/a1", EventAction.STOPPED,
                                  datetime(2026, 11, 30, 7, 38, 29, 741052, tzinfo=UTC),
                                  {"lxd_action": "instance-shutdown", "location": "none", "requestor": "root"})


def test_an_event_in_the_default_project_has_no_project_in_its_source():
    event = events.parse_event(shapes.LIFECYCLE_CREATED_DEFAULT)
    assert (event.external_id, event.action) == ("default/e1", EventAction.CREATED)


@pytest.mark.parametrize("message", [
    {**shapes.LIFECYCLE_STARTED, "type": "logging"},
    {**shapes.LIFECYCLE_STARTED, "metadata": {"action": "instance-updated", "source": "/1.0/instances/a1"}},
    {**shapes.LIFECYCLE_STARTED, "metadata": {"action": "instance-started",
                                             "source": "/1.0/instances/a1/snapshots/s1"}},
    {**shapes.LIFECYCLE_STARTED, "metadata": {"action": "network-updated", "source": "/1.0/networks/lxdbr0"}},
])
def test_events_that_date_no_instance_change_are_ignored(message):
    assert events.parse_event(message) is None


def test_an_event_without_a_time_is_a_data_error():
    with pytest.raises(ProviderDataError, match="without a time"):
        events.parse_event({**shapes.LIFECYCLE_STARTED, "timestamp": ""})


def test_events_date_the_next_inventory_and_never_move_times_backwards():
    found = mapping.instance_resource(shapes.container(status="Stopped", status_code=102,
                                                       state=shapes.STOPPED_STATE),
                                      host_external_id="h", project_key="user.x", host_memory_bytes=None)
    stop_1 = events.parse_event(shapes.LIFECYCLE_SHUTDOWN)
    start = events.parse_event(shapes.LIFECYCLE_STARTED)
    stop_2 = ObservedEvent("team-a/a1", EventAction.STOPPED, start.at + timedelta(seconds=5))
    other = ObservedEvent("team-a/zz", EventAction.STOPPED, start.at + timedelta(seconds=9))
    dated = events.date_changes([found], [stop_2, stop_1, start, other])[0]
    assert dated.finished_at == stop_2.at and dated.started_at == start.at
    assert events.date_changes([dated], [stop_1]) == [dated]  # an older event changes nothing


def test_a_stop_between_two_polls_ends_the_running_segment_at_the_event_time():
    """The accounting closes the segment at ``finished_at`` when it falls inside the gap."""
    poll_1 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    stopped_at = datetime(2026, 11, 30, 10, 3, 17, 250000, tzinfo=UTC)
    poll_2 = datetime(2026, 11, 30, 10, 5, tzinfo=UTC)
    running = Attrs(1, State.RUNNING, Decimal(1), 64, Decimal(1))
    segment = Seg(running, poll_1 - timedelta(hours=1), poll_1)
    seen = mapping.instance_resource(shapes.container(status="Stopped", status_code=102, state=shapes.STOPPED_STATE),
                                     host_external_id="h", project_key="user.x", host_memory_bytes=None)
    seen = events.date_changes([seen], [ObservedEvent("team-a/a1", EventAction.STOPPED, stopped_at)])[0]
    change = advance(segment, Obs(poll_2, Attrs(1, State.STOPPED, Decimal(1), 64, Decimal(1)),
                                  seen.started_at, seen.finished_at), max_gap=timedelta(minutes=15))
    assert change.current.end == stopped_at and not change.current.open
    assert change.added[0].start == stopped_at and change.added[0].attrs.state == State.STOPPED
