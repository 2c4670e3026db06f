"""Glasspane quota keys <-> ResourceQuota resource names, reading quotas and building the one we own.

``vcpus`` is ``requests.cpu`` (cores), ``ram_mb`` is ``requests.memory`` (written as ``<n>Mi``),
``containers`` is ``pods``, ``vms`` is ``count/virtualmachines.kubevirt.io``, ``disk_gb`` is
``requests.storage`` (``<n>Gi``) and ``volumes`` is ``persistentvolumeclaims``. Kubernetes has no
"unlimited" value: a resource absent from ``spec.hard`` is unlimited, so -1 removes the key from our
quota. A namespace may hold several quotas (the operator's and ours): every one is enforced, so the
limit that holds is the smallest ``hard`` among them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from providers.base import ProviderDataError, QuotaReading
from providers.kubernetes.mapping import GIB, MIB, quantity

OURS = "glasspane"  # the name of the ResourceQuota Glasspane owns in a namespace
MANAGED_BY = ("app.kubernetes.io/managed-by", "glasspane")

KEYS = {
    "vcpus": "requests.cpu",
    "ram_mb": "requests.memory",
    "containers": "pods",
    "vms": "count/virtualmachines.kubevirt.io",
    "disk_gb": "requests.storage",
    "volumes": "persistentvolumeclaims",
}
UNIT = {"ram_mb": MIB, "disk_gb": GIB}
SUFFIX = {"ram_mb": "Mi", "disk_gb": "Gi"}


def to_ours(key: str, value: Any) -> Decimal:
    """A quantity as a number in our key's unit (cores, MiB, GiB or a count)."""
    return quantity(value, f"ResourceQuota {KEYS[key]}") / UNIT.get(key, 1)


def to_theirs(key: str, limit: int) -> str:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"quota {key} must be a whole number of 0 or more, got {limit!r}")
    return f"{limit}{SUFFIX.get(key, '')}"


def is_ours(quota: Mapping[str, Any]) -> bool:
    meta = quota.get("metadata") or {}
    return meta.get("name") == OURS and (meta.get("labels") or {}).get(MANAGED_BY[0]) == MANAGED_BY[1]


def readings(quotas: Iterable[Mapping[str, Any]]) -> dict[str, QuotaReading]:
    """Our keys as a namespace's quotas hold them: the smallest ``hard``, and the quota's ``used``."""
    limits: dict[str, Decimal] = {}
    used: dict[str, Decimal] = {}
    for quota in quotas:
        hard = (quota.get("spec") or {}).get("hard") or {}
        status_used = (quota.get("status") or {}).get("used") or {}
        for key, theirs in KEYS.items():
            if theirs in hard:
                value = to_ours(key, hard[theirs])
                limits[key] = min(limits.get(key, value), value)
            if theirs in status_used:
                used[key] = to_ours(key, status_used[theirs])
    result = {}
    for key in limits:
        limit = int(limits[key].to_integral_value(rounding=ROUND_FLOOR))
        amount = used.get(key)
        if amount is not None and amount == amount.to_integral_value():
            amount = int(amount)
        result[key] = QuotaReading(key=key, limit=limit, used=amount)
    return result


def merged_hard(current: Mapping[str, str], limits: Mapping[str, int]) -> dict[str, str]:
    """Our quota's ``spec.hard`` after applying ``limits``: only the keys given change; -1 removes."""
    hard = dict(current)
    for key, limit in limits.items():
        if key not in KEYS:
            continue
        try:
            number = int(limit)
        except (TypeError, ValueError):
            raise ProviderDataError(f"quota {key} must be a whole number, got {limit!r}") from None
        if number == -1:
            hard.pop(KEYS[key], None)
        else:
            try:
                hard[KEYS[key]] = to_theirs(key, number)
            except ValueError as exc:
                raise ProviderDataError(str(exc)) from None
    return hard


def owned_quota(namespace: str, hard: Mapping[str, str]) -> dict:
    return {"apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": {"name": OURS, "namespace": namespace, "labels": {MANAGED_BY[0]: MANAGED_BY[1]},
                         "annotations": {"glasspane.io/note": "limits set in Glasspane; edit them there"}},
            "spec": {"hard": dict(hard)}}
