"""Map one container stats document (``GET /containers/{id}/stats``) onto a ``UtilizationSample``.

Only cumulative counters are taken (CPU nanoseconds, network and block I/O bytes); the collector
computes rates from consecutive samples, so the engine's own ``precpu_stats`` priming is not
needed and the driver asks for ``one-shot`` stats where the API has them (API 1.41, Docker
20.10), which answer at once instead of after a second collection cycle.

Memory "used" follows the Docker CLI: usage minus the inactive page cache, which is
``total_inactive_file`` under cgroup v1 and ``inactive_file`` under cgroup v2 (podman already
reports usage net of cache and sends no ``stats`` breakdown).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from providers.base import ProviderDataError, UtilizationSample, to_decimal
from providers.docker.containers import MIB, parse_time

ONE_SHOT_API = (1, 41)


def supports_one_shot(api_version: str) -> bool:
    """Whether ``one-shot=true`` may be sent (Docker Engine API 1.41 added it)."""
    try:
        major, minor = (int(part) for part in str(api_version).split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= ONE_SHOT_API


def memory_used_bytes(memory_stats: Mapping[str, Any]) -> int | None:
    """Usage net of inactive file cache, as ``docker stats`` computes it."""
    usage = memory_stats.get("usage")
    if usage is None:
        return None
    breakdown = memory_stats.get("stats") or {}
    for key in ("total_inactive_file", "inactive_file"):  # cgroup v1, then v2
        cache = breakdown.get(key)
        if cache is not None and cache < usage:
            return int(usage - cache)
    return int(usage)


def network_totals(networks: Mapping[str, Any] | None) -> tuple[int | None, int | None]:
    """rx and tx bytes summed over every interface; ``None`` when the engine gives none."""
    if not networks:
        return None, None
    rx = sum(int(net.get("rx_bytes") or 0) for net in networks.values())
    tx = sum(int(net.get("tx_bytes") or 0) for net in networks.values())
    return rx, tx


def block_io_totals(blkio_stats: Mapping[str, Any] | None) -> tuple[int | None, int | None]:
    """Bytes read and written over every device (``io_service_bytes_recursive``)."""
    if blkio_stats is None:
        return None, None
    read = write = 0
    for entry in blkio_stats.get("io_service_bytes_recursive") or ():
        op = str(entry.get("op", "")).lower()  # "Read" under cgroup v1, "read" under v2
        if op == "read":
            read += int(entry.get("value") or 0)
        elif op == "write":
            write += int(entry.get("value") or 0)
    return read, write


def _mb(value: int | None) -> Decimal | None:
    return None if value is None else to_decimal(Decimal(value) / MIB)


def sample_from_stats(container_id: str, stats: Mapping[str, Any]) -> UtilizationSample | None:
    """The sample, or ``None`` when the document is empty (the container stopped meanwhile)."""
    try:
        cpu_stats = stats.get("cpu_stats") or {}
        total_usage = (cpu_stats.get("cpu_usage") or {}).get("total_usage")
        read_at = parse_time(stats.get("read"))
        if total_usage is None or read_at is None:
            return None
        memory = stats.get("memory_stats") or {}
        rx, tx = network_totals(stats.get("networks"))
        disk_read, disk_write = block_io_totals(stats.get("blkio_stats"))
        limit = memory.get("limit")
        return UtilizationSample(
            external_id=container_id,
            at=read_at,
            cpu_time_ns=int(total_usage),
            memory_used_mb=_mb(memory_used_bytes(memory)),
            memory_total_mb=_mb(int(limit)) if limit else None,
            net_rx_bytes=rx,
            net_tx_bytes=tx,
            disk_read_bytes=disk_read,
            disk_write_bytes=disk_write,
        )
    except (AttributeError, TypeError, ValueError) as exc:
        raise ProviderDataError(f"unreadable stats for container {container_id[:12]}: {exc}") from None
