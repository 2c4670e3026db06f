"""The engine's ``GET /events`` stream (dockerd and podman) as ``ObservedEvent``s.

Container actions -> ``EventAction``: ``create`` created, ``start`` started, ``die`` stopped (the
moment the process ended; ``kill`` and ``stop`` only ask for it), ``pause`` paused, ``unpause``
resumed, ``destroy`` (dockerd) and ``remove`` (podman) deleted. ``details`` holds the container's
``name`` and the engine's action as ``detail``. Other actions and object types
are dropped. Times are the engine's own ``timeNano`` (``time`` in seconds where it is missing).
The engine replays events from its log when asked ``since``, so a reconnecting listener loses
nothing the engine still holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from providers.base import EventAction, ObservedEvent

ACTIONS = {
    "create": EventAction.CREATED,
    "start": EventAction.STARTED,
    "restart": EventAction.RESTARTED,
    "die": EventAction.STOPPED,
    "pause": EventAction.PAUSED,
    "unpause": EventAction.RESUMED,
    "destroy": EventAction.DELETED,
    "remove": EventAction.DELETED,
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def event_time(raw: Mapping[str, Any]) -> datetime | None:
    nanos = raw.get("timeNano")
    if isinstance(nanos, int) and nanos > 0:
        return _EPOCH + timedelta(microseconds=nanos // 1000)
    seconds = raw.get("time")
    if isinstance(seconds, int | float) and seconds > 0:
        return _EPOCH + timedelta(seconds=seconds)
    return None


def translate(raw: Any) -> ObservedEvent | None:
    """One decoded ``/events`` message as an event; None for what dates no container change."""
    if not isinstance(raw, Mapping) or raw.get("Type", "container") != "container":
        return None
    action = str(raw.get("Action") or raw.get("status") or "")
    ours = ACTIONS.get(action)
    actor = raw.get("Actor") if isinstance(raw.get("Actor"), Mapping) else {}
    container_id = actor.get("ID") or raw.get("id")
    at = event_time(raw)
    if ours is None or not container_id or at is None:
        return None
    attributes = actor.get("Attributes") if isinstance(actor.get("Attributes"), Mapping) else {}
    detail = action
    if action == "die" and attributes.get("exitCode") is not None:
        detail = f"die (exit {attributes['exitCode']})"
    return ObservedEvent(str(container_id), ours, at, {"name": str(attributes.get("name", "")), "detail": detail})
