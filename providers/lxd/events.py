"""LXD lifecycle events (``GET /1.0/events?type=lifecycle&all-projects=true``) as ``ObservedEvent``.

LXD keeps no event history: an event is seen only by a listener connected when it happens. The
stream is a websocket; each message is one JSON event whose ``timestamp`` is the daemon's clock
to the nanosecond, which is what makes the times exact (a poll only bounds a change to the refresh
interval). ``date_changes`` applies the events a listener gathered to the next inventory: a
resource seen stopped gets the stop event's time as ``finished_at``, which the accounting uses as
the change time (``metering.accounting.change_time``).
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlparse

from ws4py.client import WebSocketBaseClient

from providers.base import EventAction, ObservedEvent, ObservedResource, ProviderDataError
from providers.lxd.mapping import external_id, parse_time

#: LXD lifecycle actions (doc: "Events", lifecycle event structure) onto ours. A graceful stop is
#: ``instance-shutdown``, a forced one (or an init that exited) ``instance-stopped``.
ACTIONS = {
    "instance-created": EventAction.CREATED,
    "instance-started": EventAction.STARTED,
    "instance-stopped": EventAction.STOPPED,
    "instance-shutdown": EventAction.STOPPED,
    "instance-paused": EventAction.PAUSED,
    "instance-resumed": EventAction.RESUMED,
    "instance-restarted": EventAction.RESTARTED,
    "instance-deleted": EventAction.DELETED,
}
STARTS = (EventAction.STARTED, EventAction.RESUMED, EventAction.RESTARTED)
STOPS = (EventAction.STOPPED, EventAction.PAUSED)


def parse_event(message: Mapping[str, Any]) -> ObservedEvent | None:
    """One event message as an ``ObservedEvent``; ``None`` for events that date no instance change."""
    if not isinstance(message, Mapping) or message.get("type") != "lifecycle":
        return None
    metadata = message.get("metadata") or {}
    action = ACTIONS.get(str(metadata.get("action") or ""))
    if action is None:
        return None
    source = urlparse(str(metadata.get("source") or ""))
    parts = source.path.strip("/").split("/")
    if len(parts) != 3 or parts[:2] != ["1.0", "instances"] or not parts[2]:
        return None  # e.g. a snapshot's or a backup's lifecycle
    project = (parse_qs(source.query).get("project") or [message.get("project") or "default"])[0]
    at = parse_time(message.get("timestamp"))
    if at is None:
        raise ProviderDataError(f"lifecycle event without a time: {str(message)[:200]}")
    details = {"lxd_action": metadata.get("action"), "location": message.get("location", "")}
    requestor = metadata.get("requestor")
    if isinstance(requestor, Mapping) and requestor.get("username"):
        details["requestor"] = requestor["username"]
    return ObservedEvent(external_id(project, parts[2]), action, at, details)


def date_changes(resources: Iterable[ObservedResource], events: Iterable[ObservedEvent]) -> list[ObservedResource]:
    """Resources with ``started_at``/``finished_at`` set from the latest matching event.

    A start (or resume) event dates when the resource last entered running, a stop (or pause)
    when it last left it; an event never moves a time backwards, so applying the same events
    twice, or old ones after new ones, changes nothing.
    """
    started: dict[str, Any] = {}
    finished: dict[str, Any] = {}
    for event in events:
        target = started if event.action in STARTS else finished if event.action in STOPS else None
        if target is not None and (event.external_id not in target or target[event.external_id] < event.at):
            target[event.external_id] = event.at
    result = []
    for found in resources:
        changes = {}
        start = started.get(found.external_id)
        if start is not None and (found.started_at is None or found.started_at < start):
            changes["started_at"] = start
        stop = finished.get(found.external_id)
        if stop is not None and (found.finished_at is None or found.finished_at < stop):
            changes["finished_at"] = stop
        result.append(replace(found, **changes) if changes else found)
    return result


class _Listener(WebSocketBaseClient):
    """Puts every message of the events websocket on a queue (parsing happens in the reader)."""

    def __init__(self, *args, **kwargs):
        # LXD's websocket rejects the Origin header ws4py makes up for ws+unix:// URLs (403).
        kwargs.setdefault("exclude_headers", ["origin"])
        super().__init__(*args, **kwargs)
        self.inbox: queue.Queue = queue.Queue()

    def received_message(self, message):
        self.inbox.put(message.data)

    def closed(self, code, reason=None):
        self.inbox.put(None)


class EventStream:
    """The events of one subscription, in order; ``close()`` ends it even if never read."""

    def __init__(self, socket: _Listener, reader: threading.Thread, events: Iterator[ObservedEvent]):
        self._socket, self._reader, self._events = socket, reader, events

    def __iter__(self):
        return self

    def __next__(self) -> ObservedEvent:
        return next(self._events)

    def close(self) -> None:
        self._events.close()
        _hang_up(self._socket, self._reader)


def _hang_up(socket: _Listener, reader: threading.Thread) -> None:
    try:
        socket.close()
    except Exception:  # noqa: BLE001 - the socket may already be gone
        pass
    reader.join(timeout=2)


def listen(client, stop: threading.Event | None = None, timeout: float | None = None,
           issues: list[str] | None = None) -> EventStream:
    """Subscribe now (before returning) and return the iterator of events that follows.

    Connecting before the first ``next()`` matters: a caller that starts listening and then acts
    must not miss the event of its own action.
    """
    from pylxd.client import EventType

    socket = client.events(websocket_client=_Listener, event_types={EventType.Lifecycle})
    socket.resource = f"{socket.resource}&all-projects=true"
    socket.connect()
    reader = threading.Thread(target=socket.run, name="lxd-events", daemon=True)
    reader.start()
    return EventStream(socket, reader, _drain(socket, reader, stop, timeout, issues))


def _drain(socket: _Listener, reader: threading.Thread, stop, timeout, issues) -> Iterator[ObservedEvent]:
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            stopping = stop is not None and stop.is_set()
            remaining = None if deadline is None else deadline - time.monotonic()
            if stopping or (remaining is not None and remaining <= 0):
                wait = None  # told to stop or out of time: hand out what already arrived, then end
            else:
                wait = 0.2 if remaining is None else min(0.2, remaining)
            try:
                data = socket.inbox.get(timeout=wait) if wait else socket.inbox.get_nowait()
            except queue.Empty:
                if wait is None:
                    return
                continue
            if data is None:
                return  # the daemon closed the stream
            try:
                event = parse_event(json.loads(data))
            except (ValueError, ProviderDataError) as exc:
                if issues is not None:
                    issues.append(f"unreadable LXD event skipped: {exc}")
                continue
            if event is not None:
                yield event
    finally:
        _hang_up(socket, reader)
