"""Celery beat's scheduler, made single: only the beat holding a lease row dispatches.

Two beats started by mistake (or a standby on a second machine) would otherwise send every
periodic task twice. Each tick, the scheduler renews its lease with a conditional UPDATE on the
shared database (the same pattern as an account's refresh lease); a beat that cannot take it
sends nothing and checks again every few seconds, so it takes over within ``GLASSPANE_BEAT_LEASE``
seconds when the holder dies, and at once when the holder stops cleanly (it releases the lease).
The database is the lock because every process already shares it, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import timedelta

from celery.beat import PersistentScheduler
from django.conf import settings
from django.db import IntegrityError, close_old_connections, transaction
from django.db.models import Q
from django.utils import timezone

log = logging.getLogger(__name__)

LEASE_NAME = "beat"


def acquire(owner: str, ttl: float, name: str = LEASE_NAME) -> bool:
    """Take or renew the lease for ``ttl`` seconds; True when ``owner`` holds it afterwards."""
    from portal.models import SchedulerLease

    now = timezone.now()
    free = Q(until__isnull=True) | Q(until__lt=now) | Q(owner=owner)
    if SchedulerLease.objects.filter(Q(name=name) & free).update(owner=owner, until=now + timedelta(seconds=ttl)):
        return True
    try:
        with transaction.atomic():  # a savepoint: a lost race leaves the caller's transaction usable
            SchedulerLease.objects.create(name=name, owner=owner, until=now + timedelta(seconds=ttl))
        return True
    except IntegrityError:  # it exists and someone else holds it
        return False


def release(owner: str, name: str = LEASE_NAME) -> None:
    from portal.models import SchedulerLease

    SchedulerLease.objects.filter(name=name, owner=owner).update(owner="", until=None)


class SingleBeatScheduler(PersistentScheduler):
    """``PersistentScheduler`` that dispatches only while it holds the beat lease."""

    def __init__(self, *args, **kwargs):
        self.lease_seconds = float(settings.GLASSPANE_BEAT_LEASE)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.holding: bool | None = None  # unknown until the first tick
        super().__init__(*args, **kwargs)

    def _hold(self) -> bool:
        close_old_connections()  # beat is long-lived: a connection the server dropped is replaced
        try:
            held = acquire(self.owner, self.lease_seconds)
        except Exception as exc:  # database unreachable: dispatch nothing until it answers
            log.warning("beat: cannot reach the database to renew the lease (%s); not dispatching", exc)
            held = False
        if held != self.holding:
            log.warning("beat %s: %s", self.owner, "holds the lease, dispatching" if held
                        else "another beat holds the lease; standing by")
            self.holding = held
        return held

    def tick(self, *args, **kwargs) -> float:
        renew_every = self.lease_seconds / 3
        if not self._hold():
            return renew_every
        return min(super().tick(*args, **kwargs), renew_every)

    def close(self) -> None:
        if self.holding:
            try:
                release(self.owner)
            except Exception as exc:
                log.warning("beat: could not release the lease (%s); it expires by itself", exc)
        super().close()
