"""Python's cyclic garbage collector paused while a refresh maps and writes plain data.

A refresh builds tens of thousands of short-lived objects (decoded JSON, observations, rows, query
parameters) and almost none of them form cycles: reference counting frees them the moment they are
dropped. Allocations are what set the cyclic collector off, though, so with it running a refresh of
2,000 libvirt domains made some 150 collections, the full ones walking the worker's whole heap
(Django, the SDKs: some 190,000 objects, 0.1 s each), a fifth of the refresh; decoding an 8 MB
Kubernetes list promoted the half-built tree to the oldest generation and set off more.

``gc_paused()`` is the one switch, held where the work is plain data: ``metering.collector.apply``
(the writes), the libvirt driver's inventory and samples (libvirt's calls make no Python cycles),
the Kubernetes and OpenStack drivers' decoding and mapping of each answer. It is never held over
an HTTP client's requests: they leave cycles that keep connections open until collected. Nested
and concurrent pauses are counted; the last one out turns the collector back on, unless it was off
before the first; a process forked during a pause starts with it on.
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_PAUSE_LOCK = threading.Lock()
_pauses = 0  # pauses held now
_resume = False  # whether the last of them turns the collector back on


@contextmanager
def gc_paused() -> Iterator[None]:
    global _pauses, _resume
    with _PAUSE_LOCK:
        if _pauses == 0:
            _resume = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _PAUSE_LOCK:
            _pauses -= 1
            if _pauses == 0 and _resume:
                gc.enable()


def _after_fork_in_child() -> None:
    """A process forked during a pause holds none of them: the collector goes back on."""
    global _PAUSE_LOCK, _pauses, _resume
    _PAUSE_LOCK = threading.Lock()
    if _pauses and _resume:
        gc.enable()
    _pauses, _resume = 0, False


os.register_at_fork(after_in_child=_after_fork_in_child)
