"""The simulator's clock: the time every timestamp, token expiry, usage figure and ``Date`` header uses.

Tests freeze it and move it forward by hand so that usage can be computed exactly; the demo lets it
tick with real time. Keep it at or after real time: keystoneauth judges token expiry by the real
clock, so tokens issued on a clock set in the past look stale and are renewed before every request
(it still works, just with twice the traffic).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class SimClock:
    """A UTC clock that is either frozen at an instant or ticking from one."""

    def __init__(self, start: datetime | None = None, frozen: bool = False):
        self._lock = threading.Lock()
        self._frozen = frozen
        self._base = _aware(start) if start else datetime.now(UTC)
        self._real_at_base = datetime.now(UTC)

    def now(self) -> datetime:
        with self._lock:
            if self._frozen:
                return self._base
            return self._base + (datetime.now(UTC) - self._real_at_base)

    def set(self, when: datetime) -> None:
        with self._lock:
            self._base = _aware(when)
            self._real_at_base = datetime.now(UTC)

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        """Move forward by ``delta`` or ``timedelta(**kwargs)``; return the new time."""
        step = delta if delta is not None else timedelta(**kwargs)
        self.set(self.now() + step)
        return self.now()

    def freeze(self, at: datetime | None = None) -> None:
        now = _aware(at) if at else self.now()
        with self._lock:
            self._frozen = True
            self._base = now

    def thaw(self) -> None:
        now = self.now()
        with self._lock:
            self._frozen = False
            self._base = now
            self._real_at_base = datetime.now(UTC)

    @property
    def frozen(self) -> bool:
        return self._frozen


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError("the simulator clock takes timezone-aware datetimes only")
    return when.astimezone(UTC)
