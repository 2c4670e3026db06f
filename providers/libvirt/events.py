"""libvirt's domain lifecycle events as ``ObservedEvent``s.

libvirt delivers events through an event loop that must be registered *before* the connection
that wants them is opened, and that someone must keep running. So the stream registers libvirt's
default loop once per process, runs it in a daemon thread, and opens a connection of its own (not
the shared one in ``connection``, which may predate the loop). A keepalive of 5 s x 3 makes a dead
daemon visible as a closed connection, which ends the stream with ``ProviderUnavailable``.

libvirt events carry no time of their own: an event is dated when its callback runs, which on a
local or LAN connection is within milliseconds of the change.

Mapping (``VIR_DOMAIN_EVENT_*`` -> ``EventAction``): DEFINED created, UNDEFINED deleted, STARTED
started, SUSPENDED and PMSUSPENDED paused, RESUMED resumed, STOPPED and CRASHED stopped. SHUTDOWN
(the guest began to shut down, still running) is not a change of state and is dropped.
``details`` carries the domain's ``name`` and libvirt's ``detail`` in words ("destroyed").
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

import libvirt

from providers.base import EventAction, ObservedEvent, ProviderUnavailable, utcnow
from providers.libvirt.connection import open_connection

ACTIONS = {
    libvirt.VIR_DOMAIN_EVENT_DEFINED: EventAction.CREATED,
    libvirt.VIR_DOMAIN_EVENT_UNDEFINED: EventAction.DELETED,
    libvirt.VIR_DOMAIN_EVENT_STARTED: EventAction.STARTED,
    libvirt.VIR_DOMAIN_EVENT_SUSPENDED: EventAction.PAUSED,
    libvirt.VIR_DOMAIN_EVENT_PMSUSPENDED: EventAction.PAUSED,
    libvirt.VIR_DOMAIN_EVENT_RESUMED: EventAction.RESUMED,
    libvirt.VIR_DOMAIN_EVENT_STOPPED: EventAction.STOPPED,
    libvirt.VIR_DOMAIN_EVENT_CRASHED: EventAction.STOPPED,
}

#: libvirt's detail codes, per event, in words (virDomainEvent*DetailType)
DETAILS = {
    libvirt.VIR_DOMAIN_EVENT_STOPPED: ("shutdown", "destroyed", "crashed", "migrated", "saved", "failed",
                                       "from-snapshot"),
    libvirt.VIR_DOMAIN_EVENT_STARTED: ("booted", "migrated", "restored", "from-snapshot", "wakeup"),
    libvirt.VIR_DOMAIN_EVENT_SUSPENDED: ("paused", "migrated", "ioerror", "watchdog", "restored",
                                         "from-snapshot", "api-error", "postcopy", "postcopy-failed"),
    libvirt.VIR_DOMAIN_EVENT_RESUMED: ("unpaused", "migrated", "from-snapshot", "postcopy"),
    libvirt.VIR_DOMAIN_EVENT_DEFINED: ("added", "updated", "renamed", "from-snapshot"),
    libvirt.VIR_DOMAIN_EVENT_UNDEFINED: ("removed", "renamed"),
    libvirt.VIR_DOMAIN_EVENT_PMSUSPENDED: ("memory", "disk"),
    libvirt.VIR_DOMAIN_EVENT_CRASHED: ("panicked", "crashloaded"),
}

_loop_lock = threading.Lock()
_loop_running = False


def ensure_event_loop() -> None:
    """Register libvirt's default event loop and run it in a daemon thread (once per process)."""
    global _loop_running
    with _loop_lock:
        if _loop_running:
            return
        libvirt.virEventRegisterDefaultImpl()
        threading.Thread(target=_run_loop, name="libvirt-event-loop", daemon=True).start()
        _loop_running = True


def _run_loop() -> None:
    while True:
        libvirt.virEventRunDefaultImpl()


def translate(uuid: str, name: str, event: int, detail: int, at) -> ObservedEvent | None:
    """One libvirt lifecycle callback as an ``ObservedEvent``; None for events that change nothing."""
    action = ACTIONS.get(event)
    if action is None:
        return None
    words = DETAILS.get(event, ())
    said = words[detail] if 0 <= detail < len(words) else str(detail)
    if event == libvirt.VIR_DOMAIN_EVENT_CRASHED:
        said = f"crashed ({said})"
    elif event == libvirt.VIR_DOMAIN_EVENT_PMSUSPENDED:
        said = f"pm-suspended ({said})"
    return ObservedEvent(uuid, action, at, {"name": name, "detail": said})


_CLOSED = object()


def stream(
    uri: str,
    stop: threading.Event,
    *,
    until: float | None = None,
    username: str | None = None,
    password: str | None = None,
    timeout: float = 10,
) -> Iterator[ObservedEvent]:
    """Lifecycle events of every domain at ``uri`` until ``stop`` is set (or ``time.monotonic()``
    passes ``until``)."""
    ensure_event_loop()
    conn = open_connection(uri, username=username, password=password, timeout=timeout)
    inbox: queue.Queue = queue.Queue()

    def on_lifecycle(_conn, dom, event, detail, _opaque):
        try:
            observed = translate(dom.UUIDString(), dom.name(), event, detail, utcnow())
        except libvirt.libvirtError:
            return
        if observed is not None:
            inbox.put(observed)

    def on_close(_conn, reason, _opaque):
        inbox.put((_CLOSED, reason))

    callback = None
    try:
        try:
            conn.setKeepAlive(5, 3)
        except libvirt.libvirtError:
            pass  # the test driver has no keepalive; a local socket does not need it
        try:
            conn.registerCloseCallback(on_close, None)
        except libvirt.libvirtError:
            pass
        callback = conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, on_lifecycle, None)
        while not stop.is_set() and (until is None or time.monotonic() < until):
            try:
                item = inbox.get(timeout=0.5)
            except queue.Empty:
                continue
            if isinstance(item, tuple) and item[0] is _CLOSED:
                raise ProviderUnavailable(f"the event stream of libvirt at {uri} was closed (reason {item[1]})")
            yield item
    finally:
        try:
            if callback is not None:
                conn.domainEventDeregisterAny(callback)
            conn.unregisterCloseCallback()
        except libvirt.libvirtError:
            pass
        try:
            conn.close()
        except libvirt.libvirtError:
            pass
