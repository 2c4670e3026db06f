"""The event listener: one long-running process that records lifecycle events of every account
whose driver streams them (``Capability.EVENTS``), one thread per account.

Why a process of its own and not a Celery task: a stream is held open for days, which would pin
a worker slot and fight task time limits; and exactly one listener per account is wanted, like
exactly one beat. ``make run`` starts it next to the worker (``manage.py listen_events``); a
production deployment runs one such process (several only duplicate work: events are stored
once). It needs the database, not the broker.

Each account's thread opens the stream, writes every event as it arrives (``metering.events``),
and on any failure waits (1, 2, 4 ... 30 s) and reconnects. Where the driver can replay
(``Capability.EVENT_REPLAY``: Docker and podman keep a log) it asks for the events since the
newest one recorded (or since the last refresh), so an outage loses nothing; elsewhere (libvirt,
LXD) the changes missed meanwhile are dated by polling instead. Accounts are re-read every
``rescan`` seconds: new ones get a thread, disabled or removed ones lose theirs.
"""

from __future__ import annotations

import logging
import threading
import time

from django.db import close_old_connections, connection

from metering import events as lifecycle_events
from providers.base import Capability, ProviderError
from providers.models import ProviderAccount
from providers.registry import UnknownKind

log = logging.getLogger(__name__)

BACKOFF_MAX = 30.0


def streams_events(account: ProviderAccount) -> bool:
    try:
        return Capability.EVENTS in account.driver_class.capabilities
    except UnknownKind:
        return False


def listen(account: ProviderAccount, stop: threading.Event, *, on_event=None, backoff_max: float = BACKOFF_MAX) -> None:
    """Record ``account``'s events until ``stop`` is set, reconnecting after failures."""
    delay = 1.0
    try:
        while not stop.is_set():
            try:
                with account.driver() as driver:
                    replay = ({"since": lifecycle_events.replay_from(account)}
                              if driver.supports(Capability.EVENT_REPLAY) else {})
                    for event in driver.events(stop, **replay):
                        lifecycle_events.record(account, [event])
                        delay = 1.0
                        if on_event is not None:
                            on_event(event)
                if not stop.is_set():
                    log.warning("event stream of %s ended; reconnecting", account.name)
            except ProviderError as exc:
                log.warning("event stream of %s failed: %s; retrying in %.0f s", account.name, exc, delay)
            except Exception:  # a database hiccup must not end the listener for good
                log.exception("event listener of %s failed; retrying in %.0f s", account.name, delay)
                close_old_connections()
            stop.wait(delay)
            delay = min(delay * 2, backoff_max)
    finally:
        connection.close()


class Listener:
    """Threads for every enabled event-streaming account (or those named)."""

    def __init__(self, names: list[str] | None = None, *, rescan: float = 60.0):
        self.names = names
        self.rescan = rescan
        self.stop = threading.Event()
        self.threads: dict[int, tuple[threading.Thread, threading.Event]] = {}

    def accounts(self) -> list[ProviderAccount]:
        accounts = ProviderAccount.objects.filter(enabled=True)
        if self.names:
            accounts = accounts.filter(name__in=self.names)
        return [a for a in accounts if streams_events(a)]

    def sync(self) -> None:
        wanted = {a.pk: a for a in self.accounts()}
        for pk in [pk for pk in self.threads if pk not in wanted or not self.threads[pk][0].is_alive()]:
            self.threads.pop(pk)[1].set()
        for pk, account in wanted.items():
            if pk not in self.threads:
                stop = threading.Event()
                thread = threading.Thread(target=listen, args=(account, stop), name=f"events {account.name}",
                                          daemon=True)
                thread.start()
                self.threads[pk] = (thread, stop)
                log.info("listening to lifecycle events of %s", account.name)

    def run(self) -> None:
        last_prune = 0.0
        try:
            while not self.stop.is_set():
                self.sync()
                if time.monotonic() - last_prune > 3600:
                    lifecycle_events.prune()
                    last_prune = time.monotonic()
                close_old_connections()
                self.stop.wait(self.rescan)
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        for _thread, stop in self.threads.values():
            stop.set()
        for thread, _ in self.threads.values():
            thread.join(timeout=5)
        self.threads.clear()
