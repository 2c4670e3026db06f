"""Find drivers by kind through the ``glasspane.providers`` entry-point group.

The built-in drivers are declared in ``pyproject.toml`` exactly as a third-party package would
declare its own, so an installed distribution can add a kind without touching Glasspane.
Development-only drivers (the test suite's ``fake``) are added by the ``GLASSPANE_EXTRA_DRIVERS``
setting (kind -> ``"module:Class"``), which only the test settings set: a production install
lists only real drivers.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module
from importlib.metadata import entry_points

from providers.base import Driver

GROUP = "glasspane.providers"


class UnknownKind(LookupError):
    def __init__(self, kind: str, known: list[str]):
        self.kind = kind
        self.known = known
        super().__init__(f"unknown provider kind {kind!r} (known: {', '.join(known) or 'none'})")


class _Extra:
    """An extra driver named by a setting, loaded like an entry point."""

    def __init__(self, name: str, value: str):
        self.name, self.value = name, value

    def load(self):
        module, _, attr = self.value.partition(":")
        return getattr(import_module(module), attr)


def _extra_drivers() -> dict:
    try:
        from django.conf import settings

        extra = getattr(settings, "GLASSPANE_EXTRA_DRIVERS", {}) if settings.configured else {}
    except ImportError:  # pragma: no cover - providers used without Django
        extra = {}
    return {name: _Extra(name, value) for name, value in extra.items()}


@cache
def _entry_points() -> dict:
    return {**{ep.name: ep for ep in entry_points(group=GROUP)}, **_extra_drivers()}


def kinds() -> list[str]:
    """Every kind an installed distribution declares, sorted."""
    return sorted(_entry_points())


def driver_class(kind: str) -> type[Driver]:
    """The driver class for ``kind``; ``UnknownKind`` if nothing declares it."""
    ep = _entry_points().get(kind)
    if ep is None:
        raise UnknownKind(kind, kinds())
    cls = ep.load()
    if not (isinstance(cls, type) and issubclass(cls, Driver)):
        raise TypeError(f"entry point {kind!r} ({ep.value}) is not a providers.base.Driver subclass")
    return cls


def reload() -> None:
    """Forget what was found (after installing a distribution at run time, and in tests)."""
    _entry_points.cache_clear()
