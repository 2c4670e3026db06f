"""Run one engine call per container over a bounded thread pool.

Inspecting or sampling 200 containers one after the other costs 200 round trips (and up to 2 s
each for stats on engines without one-shot); a small pool bounds both the wall time and the load
put on the engine. A per-container function returns its result or raises ``Skip`` for that one
container; any other exception (the engine went away) cancels what has not started and propagates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class Skip(Exception):
    """This one container could not be read; ``reason`` says why, for ``Inventory.issues``."""

    def __init__(self, reason: str, *, vanished: bool = False):
        super().__init__(reason)
        self.reason = reason
        #: the container no longer exists: not an issue, just absent from the answer
        self.vanished = vanished


def fan_out(func: Callable[[str], T], ids: Iterable[str], workers: int) -> list[tuple[str, T | Skip]]:
    """``(id, result or Skip)`` for every id, in the order given."""
    ids = list(ids)
    if not ids:
        return []
    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(ids))), thread_name_prefix="docker")
    try:
        futures = [(item, pool.submit(_guarded, func, item)) for item in ids]
        return [(item, future.result()) for item, future in futures]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _guarded(func: Callable[[str], T], item: str) -> T | Skip:
    try:
        return func(item)
    except Skip as skip:
        return skip
