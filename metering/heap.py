"""Garbage collection during a refresh: none until it is over.

A refresh builds tens of thousands of short-lived objects (observations, rows, query parameters),
so Python's cyclic collector ran some 150 times in one refresh of 2,000 libvirt domains, and each
full collection walked the whole heap of the process (Django, the SDKs: some 190,000 objects in a
worker): a fifth of the refresh. Almost all of a refresh's objects are freed by reference counting
the moment they are dropped; the few cycles among them wait for the first collection after the
refresh, so memory grows by that refresh's cyclic garbage at most. ``gc_paused()`` restores the
collector's previous state, so it nests and leaves a caller that had disabled it alone.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager


@contextmanager
def gc_paused():
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
