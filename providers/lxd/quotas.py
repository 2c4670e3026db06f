"""Glasspane quota keys <-> LXD project limits.

``vms, containers, vcpus, ram_mb, disk_gb`` are LXD's ``limits.virtual-machines,
limits.containers, limits.cpu, limits.memory, limits.disk`` on a project. LXD has no "unlimited"
value: a limit is unlimited when the key is unset, so -1 unsets it and an unset key reads as -1.
``limits.instances`` (VMs and containers together) has no Glasspane key: it is read into the
project's facts for display and never written. Sizes are written in binary units (``MiB``,
``GiB``), the units Glasspane's MB and GB mean everywhere else.

LXD refuses a project limit below what the project already uses, and refuses to create an instance
in a limited project unless the instance (or its profile) sets ``limits.cpu``, ``limits.memory``
and a root disk ``size`` for each limited resource; both refusals reach the caller as
``ProviderError`` with LXD's own words.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from providers.base import ProviderDataError, QuotaReading
from providers.lxd.mapping import GIB, MIB, parse_size

#: our key -> (LXD project config key, the resource name in ``/1.0/projects/{name}/state``)
LIMITS = {
    "vms": ("limits.virtual-machines", "virtual-machines"),
    "containers": ("limits.containers", "containers"),
    "vcpus": ("limits.cpu", "cpu"),
    "ram_mb": ("limits.memory", "memory"),
    "disk_gb": ("limits.disk", "disk"),
}
#: LXD project limits shown in the facts but not mapped to a key of ours
OTHER_LIMITS = ("limits.instances", "limits.processes", "limits.networks")


def check_limit(key: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"quota {key} must be a whole number, got {value!r}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"quota {key} must be a whole number, got {value!r}") from None
    if number < -1:
        raise ValueError(f"quota {key} must be -1 (unlimited) or more, got {value!r}")
    return number


def to_lxd(key: str, value: int) -> str | None:
    """The config value for one of our keys; ``None`` means unset (unlimited)."""
    if value == -1:
        return None
    if key == "ram_mb":
        return f"{value}MiB"
    if key == "disk_gb":
        return f"{value}GiB"
    return str(value)


def from_lxd(key: str, raw: Any) -> int:
    """A project config value in our units; -1 when unset."""
    if raw in (None, ""):
        return -1
    if key == "ram_mb":
        return parse_size(raw, "limits.memory") // MIB
    if key == "disk_gb":
        return parse_size(raw, "limits.disk") // GIB
    try:
        return int(str(raw).strip())
    except ValueError:
        raise ProviderDataError(f"unreadable project {LIMITS[key][0]} {raw!r}") from None


def used_of(key: str, usage: Mapping[str, Any]) -> Decimal | int | None:
    """LXD's own usage figure for our key (``Usage`` in the project state), in our units."""
    entry = usage.get(LIMITS[key][1])
    if not isinstance(entry, Mapping):
        return None
    value = entry.get("Usage", entry.get("usage"))
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    if key == "ram_mb":
        return Decimal(int(value)) / MIB
    if key == "disk_gb":
        return Decimal(int(value)) / GIB
    return int(value)


def readings(config: Mapping[str, Any], usage: Mapping[str, Any] | None) -> dict[str, QuotaReading]:
    """Every mapped key of one project: its limit (-1 unset) and LXD's usage when known."""
    usage = usage or {}
    return {key: QuotaReading(key, from_lxd(key, config.get(name)), used_of(key, usage))
            for key, (name, _) in LIMITS.items()}


def updated_config(config: Mapping[str, Any], limits: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The project config with ``limits`` written (our keys; others ignored) and what changed."""
    new = dict(config)
    changed = []
    for key, value in limits.items():
        if key not in LIMITS:
            continue
        name = LIMITS[key][0]
        wanted = to_lxd(key, check_limit(key, value))
        if wanted is None:
            if name in new:
                del new[name]
                changed.append(name)
        elif str(new.get(name, "")) != wanted:
            new[name] = wanted
            changed.append(name)
    return new, changed


def project_facts(config: Mapping[str, Any], usage: Mapping[str, Any] | None) -> dict[str, Any]:
    """The project's raw LXD limits and usage, for display beside Glasspane's."""
    limits = {k: v for k, v in config.items() if k.startswith("limits.")}
    return {"limits": limits, "usage": dict(usage or {}),
            "features": {k: v for k, v in config.items() if k.startswith("features.")}}
