"""Glasspane quota keys <-> Nova and Cinder quota-set keys.

``vms, vcpus, ram_mb`` are Nova's ``instances, cores, ram``; ``volumes, disk_gb`` are Cinder's
``volumes, gigabytes`` (Nova has no disk quota; block storage is where disk is limited). -1 means
unlimited on both sides. Keys OpenStack has no counterpart for (``containers``, ``budget``) are
ignored.
"""

from __future__ import annotations

from collections.abc import Mapping

NOVA_KEYS = {"vms": "instances", "vcpus": "cores", "ram_mb": "ram"}
CINDER_KEYS = {"volumes": "volumes", "disk_gb": "gigabytes"}


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
