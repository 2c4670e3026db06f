"""Utilization samples of running domains: one bulk call, per-domain calls only for what it lacks.

``virConnectGetAllDomainStats`` returns CPU time, balloon, block and interface counters of every
active domain in one round trip (QEMU fills all groups). A hypervisor driver may leave groups out:
libvirt's test driver answers only ``state.*``. For each domain, every missing group is fetched
with the classic per-domain call: ``info()`` (CPU time), ``memoryStats()``, ``blockStats(target)``
and ``interfaceStats(target)`` (the last two need the domain XML to know the device names).

Memory in a sample (libvirt reports KiB; samples carry MiB):
``memory_total_mb`` is the balloon size (``actual``/``balloon.current``), else ``available``, else
(no balloon device) the domain's current memory from ``info()``;
``memory_used_mb`` is ``available - usable`` (guest memory in use, net of reclaimable cache) when
the guest reports both, else ``actual - unused``, else the host-side ``rss``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import lru_cache

import libvirt

from providers.base import UtilizationSample, to_decimal
from providers.libvirt.connection import CONNECTION_ERRORS
from providers.libvirt.domains import parse_domain

GROUPS = (
    libvirt.VIR_DOMAIN_STATS_STATE
    | libvirt.VIR_DOMAIN_STATS_CPU_TOTAL
    | libvirt.VIR_DOMAIN_STATS_BALLOON
    | libvirt.VIR_DOMAIN_STATS_BLOCK
    | libvirt.VIR_DOMAIN_STATS_INTERFACE
)

#: per-domain errors after which the domain is simply not sampled this time
_GONE = frozenset({libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_OPERATION_INVALID})


class DomainGone(Exception):
    """The domain stopped or vanished between listing and sampling."""


def active_domain_stats(conn: libvirt.virConnect) -> list[tuple[libvirt.virDomain, dict]]:
    """(domain, bulk stats) for every active domain; empty stats where the bulk call is missing."""
    try:
        return conn.getAllDomainStats(GROUPS, libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_NO_SUPPORT:
            raise
    return [(dom, {}) for dom in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)]


def memory_mb(stats: dict[str, int]) -> tuple[Decimal | None, Decimal | None]:
    """(used, total) MiB from ``memoryStats()``-style keys in KiB."""
    total = stats.get("actual", stats.get("available"))
    if "available" in stats and "usable" in stats:
        used = stats["available"] - stats["usable"]
    elif total is not None and "unused" in stats:
        used = total - stats["unused"]
    else:
        used = stats.get("rss")
    return (_mib(used) if used is not None else None, _mib(total) if total is not None else None)


@lru_cache(maxsize=8192)
def _mib(kib: int) -> Decimal:
    """KiB as MiB to three places; memoised: a guest's balloon size recurs sample after sample."""
    return to_decimal(kib / 1024)


#: ``getAllDomainStats`` balloon keys -> ``memoryStats()`` keys
_BALLOON = (
    ("balloon.current", "actual"),
    ("balloon.rss", "rss"),
    ("balloon.unused", "unused"),
    ("balloon.available", "available"),
    ("balloon.usable", "usable"),
)


def _bulk_memory(record: dict) -> dict[str, int]:
    return {ours: record[theirs] for theirs, ours in _BALLOON if theirs in record}


def _bulk_sum(record: dict, group: str, fields: tuple[str, str]) -> tuple[int, int] | None:
    count = record.get(f"{group}.count")
    if count is None:
        return None
    first = sum(record.get(f"{group}.{i}.{fields[0]}", 0) for i in range(count))
    second = sum(record.get(f"{group}.{i}.{fields[1]}", 0) for i in range(count))
    return first, second


def _call(fn, *args):
    """Run a per-domain call; None if this hypervisor does not offer it."""
    try:
        return fn(*args)
    except libvirt.libvirtError as exc:
        code = exc.get_error_code()
        if code in _GONE:
            raise DomainGone from None
        if code in CONNECTION_ERRORS:
            raise
        if code in (libvirt.VIR_ERR_NO_SUPPORT, libvirt.VIR_ERR_INVALID_ARG):
            return None
        raise


def sample_domain(
    dom: libvirt.virDomain, record: dict, at: datetime, parse=parse_domain, uuid: str | None = None
) -> UtilizationSample:
    """One sample from bulk ``record``, filling its gaps per domain. Raises ``DomainGone``.
    ``parse`` reads the domain XML (the driver passes one that reuses the inventory's facts);
    ``uuid`` is the domain's, when the caller has already asked for it."""
    info = None
    cpu = record.get("cpu.time")
    if cpu is None:
        info = _call(dom.info)
        cpu = info[4] if info else None

    memory = _bulk_memory(record) or _call(dom.memoryStats) or {}
    if "actual" not in memory and "available" not in memory:  # no balloon: the configured size
        info = info or _call(dom.info)
        if info:
            memory = {**memory, "actual": info[2]}
    used, total = memory_mb(memory)

    block = _bulk_sum(record, "block", ("rd.bytes", "wr.bytes"))
    net = _bulk_sum(record, "net", ("rx.bytes", "tx.bytes"))
    if block is None or net is None:
        facts = parse(_call(dom.XMLDesc, 0))
        if block is None:
            block = _sum_device_stats(dom.blockStats, facts.block_targets, (1, 3))
        if net is None:
            net = _sum_device_stats(dom.interfaceStats, facts.nic_targets, (0, 4))

    return UtilizationSample(
        external_id=uuid or dom.UUIDString(),
        at=at,
        cpu_time_ns=cpu,
        memory_used_mb=used,
        memory_total_mb=total,
        disk_read_bytes=block[0] if block else None,
        disk_write_bytes=block[1] if block else None,
        net_rx_bytes=net[0] if net else None,
        net_tx_bytes=net[1] if net else None,
    )


def _sum_device_stats(fn, devices: tuple[str, ...], positions: tuple[int, int]) -> tuple[int, int] | None:
    first = second = 0
    answered = False
    for device in devices:
        if not device:
            continue
        values = _call(fn, device)
        if values is None:
            continue
        answered = True
        first += max(values[positions[0]], 0)  # -1 means "not supported" for one counter
        second += max(values[positions[1]], 0)
    return (first, second) if answered or not devices else None
