"""Glasspane quota keys <-> Nova and Cinder quota-set keys.

``vms, vcpus, ram_mb`` are Nova's ``instances, cores, ram``; ``volumes, disk_gb`` are Cinder's
``volumes, gigabytes`` (Nova has no disk quota; block storage is where disk is limited). -1 means
unlimited on both sides. Keys OpenStack has no counterpart for (``containers``, ``budget``) are
ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from providers.base import QuotaReading

NOVA_KEYS = {"vms": "instances", "vcpus": "cores", "ram_mb": "ram"}
CINDER_KEYS = {"volumes": "volumes", "disk_gb": "gigabytes"}
#: our keys OpenStack holds limits for (``Driver.quota_keys``)
QUOTA_KEYS = frozenset(NOVA_KEYS) | frozenset(CINDER_KEYS)
#: where Nova's absolute limits report each compute key's usage
NOVA_USED = {"vms": "totalInstancesUsed", "vcpus": "totalCoresUsed", "ram_mb": "totalRAMUsed"}


def _whole(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _amount(value: Any) -> Decimal | None:
    return Decimal(str(value)) if isinstance(value, int | float) and not isinstance(value, bool) else None


def readings(facts: Mapping[str, Any]) -> dict[str, QuotaReading]:
    """Our keys as one project's facts hold them (``compute_limits``: Nova's absolute limits;
    ``compute_quota``: Nova's quota-set; ``volume_quota``: Cinder's quota-set read with usage).
    A service that was not read gives no reading for its keys."""
    out: dict[str, QuotaReading] = {}
    compute, absolute = facts.get("compute_quota") or {}, facts.get("compute_limits") or {}
    if compute or absolute:
        for ours, theirs in NOVA_KEYS.items():
            out[ours] = QuotaReading(ours, _whole(compute.get(theirs)), _amount(absolute.get(NOVA_USED[ours])))
    volume = facts.get("volume_quota") or {}
    if volume:
        for ours, theirs in CINDER_KEYS.items():
            entry = volume.get(theirs)
            limit, used = (entry.get("limit"), entry.get("in_use")) if isinstance(entry, Mapping) else (entry, None)
            out[ours] = QuotaReading(ours, _whole(limit), _amount(used))
    return out


def _limit(key: str, value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"quota {key} must be a whole number, got {value!r}") from None
    if number < -1 or isinstance(value, bool):
        raise ValueError(f"quota {key} must be -1 (unlimited) or more, got {value!r}")
    return number


def split_limits(limits: Mapping[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """(Nova quota_set body, Cinder quota_set body) for the keys present in ``limits``."""
    nova = {NOVA_KEYS[k]: _limit(k, v) for k, v in limits.items() if k in NOVA_KEYS}
    cinder = {CINDER_KEYS[k]: _limit(k, v) for k, v in limits.items() if k in CINDER_KEYS}
    return nova, cinder
