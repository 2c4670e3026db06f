"""Lifecycle events: recording them, and dating the changes a refresh finds with them.

Polling decides what exists and in which state; an event only says *when* a change that polling
found happened. ``event_times`` gives, per resource, the newest recorded time it entered running
(started, resumed), left running (stopped, suspended) and went away (undefined; a transient domain
that stopped is gone too) inside one refresh window. The collector hands them to the accounting as
the lifecycle timestamps of the observation (``Obs.started_at``/``finished_at``), exactly like
Docker's StartedAt/FinishedAt, so the same rule applies: a timestamp dates a state change only if
it lies inside the gap the observation closes. A timestamp the provider gives itself wins.

Why this never double counts: events are stored once (unique per account, resource, action and
time), they move a segment boundary but never add time, and applying the same inventory twice is
already a no-op. A dropped stream only means a change is dated by the poll that found it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.utils import timezone

from metering.models import CollectionState, LifecycleEvent
from providers.base import EventAction, ObservedEvent, ObservedResource
from providers.models import ProviderAccount

RETENTION = timedelta(days=35)
ENTERS_RUNNING = frozenset({EventAction.STARTED, EventAction.RESUMED, EventAction.RESTARTED})
LEAVES_RUNNING = frozenset({EventAction.STOPPED, EventAction.PAUSED})


def record(account: ProviderAccount, events: Iterable[ObservedEvent]) -> int:
    """Store events (duplicates ignored); returns how many were given."""
    rows = [
        LifecycleEvent(account=account, external_id=e.external_id, action=e.action, at=e.at,
                       name=str(e.details.get("name") or "")[:255],
                       detail=str(e.details.get("detail") or e.details.get("lxd_action") or "")[:64])
        for e in events if e.action in EventAction.ALL
    ]
    LifecycleEvent.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def replay_from(account: ProviderAccount) -> datetime | None:
    """Where a stream that can replay (Docker) starts: the newest event recorded for ``account``,
    else its last refresh (an older event could date nothing any more)."""
    newest = (LifecycleEvent.objects.filter(account=account).order_by("-at")
              .values_list("at", flat=True).first())
    if newest is not None:
        return newest
    return CollectionState.objects.filter(account=account).values_list("last_observed_at", flat=True).first()


def prune(older_than: timedelta = RETENTION) -> int:
    """Drop events older than every refresh still to come could need."""
    deleted, _ = LifecycleEvent.objects.filter(at__lt=timezone.now() - older_than).delete()
    return deleted


@dataclass(frozen=True)
class EventTimes:
    started_at: datetime | None = None  # newest entry into running
    finished_at: datetime | None = None  # newest exit from running
    gone_at: datetime | None = None  # deleted, else (a transient domain) stopped


def event_times(account: ProviderAccount, since: datetime | None, until: datetime) -> dict[str, EventTimes]:
    """Per resource, the newest lifecycle times recorded in ``(since, until]``.

    Nothing before the account's first complete refresh (``since is None``): a resource first
    seen is dated by the first-seen rule, not by events."""
    if since is None:
        return {}
    found: dict[str, EventTimes] = {}
    rows = (LifecycleEvent.objects.filter(account=account, at__gt=since, at__lte=until)
            .order_by("at").values_list("external_id", "action", "at"))
    for external_id, action, at in rows:
        times = found.get(external_id, EventTimes())
        if action in ENTERS_RUNNING:
            times = replace(times, started_at=at, gone_at=None)
        elif action in LEAVES_RUNNING:
            times = replace(times, finished_at=at, gone_at=at if action == EventAction.STOPPED else times.gone_at)
        elif action == EventAction.DELETED:
            times = replace(times, gone_at=at)
        elif action == EventAction.CREATED:
            times = replace(times, gone_at=None)
        found[external_id] = times
    return found


def dated(found: ObservedResource, times: EventTimes | None) -> tuple[datetime | None, datetime | None]:
    """(started_at, finished_at) for an observation: the provider's own, else the events'."""
    if times is None:
        return found.started_at, found.finished_at
    return found.started_at or times.started_at, found.finished_at or times.finished_at
