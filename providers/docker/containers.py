"""Map the engine's ``/info`` and container inspect documents onto ``ObservedResource``.

Pure functions over the JSON the Docker Engine API returns (podman's compatible API returns the
same shapes), so they can be read and tested without an engine. The list endpoint lacks limits and
start/finish times, which is why the driver inspects every container (in parallel).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from providers.base import Kind, ObservedResource, ProviderDataError, State, to_decimal

MIB = 1024 * 1024

#: Docker's container states (and podman's extra ones) onto the common set. A container that is
#: restarting is counted as running: it holds its resources and is billed as running.
STATES = {
    "running": State.RUNNING,
    "restarting": State.RUNNING,
    "paused": State.PAUSED,
    "created": State.STOPPED,
    "exited": State.STOPPED,
    "dead": State.STOPPED,
    "removing": State.STOPPED,
    "stopped": State.STOPPED,  # podman
    "configured": State.STOPPED,  # podman
    "initialized": State.STOPPED,  # podman
}

_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$")


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 time with up to nanoseconds as aware UTC; Docker's zero time is ``None``."""
    if value in (None, ""):
        return None
    match = _TIME.match(str(value).strip())
    if not match:
        raise ProviderDataError(f"unreadable time {value!r}")
    day, clock, fraction, zone = match.groups()
    if day.startswith("0001-"):  # 0001-01-01T00:00:00Z: "never"
        return None
    zone = "+00:00" if zone in (None, "Z") else zone
    micro = (fraction or "0")[:6].ljust(6, "0")
    try:
        parsed = datetime.fromisoformat(f"{day}T{clock}.{micro}{zone}")
    except ValueError:
        raise ProviderDataError(f"unreadable time {value!r}") from None
    return parsed.astimezone(UTC)


def map_state(status: str | None) -> str:
    return STATES.get((status or "").lower(), State.UNKNOWN)


def cpu_limit(host_config: Mapping[str, Any]) -> tuple[Decimal | None, str]:
    """The effective CPU limit and the field it came from ("unlimited" when there is none).

    ``NanoCpus`` (``--cpus``), ``CpuQuota/CpuPeriod`` (``--cpu-quota``) and ``CpusetCpus``
    (``--cpuset-cpus``) can all be set at once; the smallest one is what the container can use.
    """
    candidates: list[tuple[Decimal, str]] = []
    nano = host_config.get("NanoCpus") or 0
    if nano > 0:
        candidates.append((Decimal(nano) / Decimal(10**9), "NanoCpus"))
    quota = host_config.get("CpuQuota") or 0
    if quota > 0:
        period = host_config.get("CpuPeriod") or 100_000  # the kernel's default CFS period
        candidates.append((Decimal(quota) / Decimal(period), "CpuQuota/CpuPeriod"))
    cpuset = host_config.get("CpusetCpus") or ""
    if cpuset:
        candidates.append((Decimal(count_cpuset(cpuset)), "CpusetCpus"))
    if not candidates:
        return None, "unlimited"
    value, source = min(candidates, key=lambda item: item[0])
    return to_decimal(value), source


def count_cpuset(spec: str) -> int:
    """How many CPUs a cpuset list such as ``0-3,8,10-11`` names."""
    total = 0
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part:
                low, high = part.split("-", 1)
                total += int(high) - int(low) + 1
            else:
                int(part)
                total += 1
        except ValueError:
            raise ProviderDataError(f"unreadable cpuset {spec!r}") from None
    return total


def memory_limit_mb(host_config: Mapping[str, Any]) -> int | None:
    """``Memory`` in bytes as whole MiB (rounded, at least 1); ``None`` when unlimited (0)."""
    memory = host_config.get("Memory") or 0
    if memory <= 0:
        return None
    return max(1, round(memory / MIB))


def format_ports(ports: Mapping[str, Any] | None) -> list[str]:
    """``{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}`` as ``["0.0.0.0:8080->80/tcp"]``."""
    result = []
    for container_port, bindings in sorted((ports or {}).items()):
        if not bindings:
            result.append(container_port)
            continue
        for binding in bindings:
            host_ip = binding.get("HostIp") or "0.0.0.0"
            result.append(f"{host_ip}:{binding.get('HostPort', '')}->{container_port}")
    return result


def engine_id(info: Mapping[str, Any], is_podman: bool) -> str:
    """A stable id for the engine.

    dockerd's ``/info`` ``ID`` is persisted and stable. podman's compatible API returns a fresh
    random UUID on every call, so for podman it is derived from the host name and storage root.
    """
    if not is_podman and info.get("ID"):
        return str(info["ID"])
    basis = f"{info.get('Name', '')}\0{info.get('DockerRootDir', '')}"
    return "podman-" + hashlib.sha256(basis.encode()).hexdigest()[:24]


def engine_resource(
    info: Mapping[str, Any],
    version: Mapping[str, Any],
    *,
    base_url: str,
    host_resource: str | None,
) -> ObservedResource:
    """The engine itself, as the ``Kind.HOST`` parent of every container it runs."""
    engine_name = engine_product(version)
    name = str(info.get("Name") or base_url)
    memory = info.get("MemTotal") or 0
    properties = {
        "engine": engine_name,
        "server_version": version.get("Version") or info.get("ServerVersion", ""),
        "api_version": version.get("ApiVersion", ""),
        "min_api_version": version.get("MinAPIVersion", ""),
        "os": info.get("OperatingSystem", ""),
        "os_version": info.get("OSVersion", ""),
        "os_type": info.get("OSType", ""),
        "kernel": info.get("KernelVersion", ""),
        "architecture": info.get("Architecture", ""),
        "storage_driver": info.get("Driver", ""),
        "cgroup_driver": info.get("CgroupDriver", ""),
        "cgroup_version": info.get("CgroupVersion", ""),
        "containers": info.get("Containers"),
        "containers_running": info.get("ContainersRunning"),
        "images": info.get("Images"),
        "base_url": base_url,
    }
    return ObservedResource(
        external_id=engine_id(info, engine_name == "Podman Engine"),
        kind=Kind.HOST,
        name=name,
        state=State.RUNNING,
        vcpus=to_decimal(info["NCPU"]) if info.get("NCPU") else None,
        ram_mb=memory // MIB if memory else None,
        parent_match={"name": host_resource or name},
        labels=_labels(info.get("Labels")),
        properties=properties,
    )


def engine_product(version: Mapping[str, Any]) -> str:
    """``"Podman Engine"`` or ``"Docker Engine"``, told apart by ``/version`` ``Components``."""
    for component in version.get("Components") or ():
        if component.get("Name") == "Podman Engine":
            return "Podman Engine"
    return "Docker Engine"


def _labels(raw: Any) -> dict[str, str]:
    """Container labels are a mapping; engine labels a list of ``key=value`` strings."""
    if not raw:
        return {}
    if isinstance(raw, Mapping):
        return {str(k): str(v) for k, v in raw.items()}
    pairs = (str(item).partition("=") for item in raw)
    return {key: value for key, _, value in pairs}


def container_resource(
    inspected: Mapping[str, Any], *, engine_external_id: str, project_label: str
) -> ObservedResource:
    """One container inspect document (``GET /containers/{id}/json``) as an observation."""
    try:
        container_id = inspected["Id"]
        state = inspected.get("State") or {}
        config = inspected.get("Config") or {}
        host_config = inspected.get("HostConfig") or {}
        network = inspected.get("NetworkSettings") or {}
    except (KeyError, TypeError, AttributeError):
        raise ProviderDataError(f"container document without an Id: {str(inspected)[:200]}") from None
    labels = _labels(config.get("Labels"))
    vcpus, cpu_source = cpu_limit(host_config)
    ram_mb = memory_limit_mb(host_config)
    ports = network.get("Ports")
    if ports is None:
        ports = host_config.get("PortBindings")
    networks = network.get("Networks") or {}
    properties = {
        "image_id": inspected.get("Image", ""),
        "command": " ".join([inspected.get("Path") or "", *(inspected.get("Args") or [])]).strip(),
        "status": state.get("Status", ""),
        "exit_code": state.get("ExitCode"),
        "oom_killed": bool(state.get("OOMKilled")),
        "restart_count": inspected.get("RestartCount", 0),
        "restart_policy": (host_config.get("RestartPolicy") or {}).get("Name") or "no",
        "cpu_limit": cpu_source,
        "cpuset_cpus": host_config.get("CpusetCpus") or "",
        "memory_limit": "unlimited" if ram_mb is None else f"{host_config['Memory']} bytes",
        "network_mode": host_config.get("NetworkMode", ""),
        "networks": {name: (net or {}).get("IPAddress", "") for name, net in networks.items()},
        "ports": format_ports(ports),
    }
    if state.get("Error"):
        properties["error"] = state["Error"]
    return ObservedResource(
        external_id=container_id,
        kind=Kind.CONTAINER,
        name=str(inspected.get("Name") or container_id[:12]).lstrip("/"),
        state=map_state(state.get("Status")),
        vcpus=vcpus,
        ram_mb=ram_mb,
        project_hint=labels.get(project_label) or None,
        parent_external_id=engine_external_id,
        image=config.get("Image") or inspected.get("Image", ""),
        labels=labels,
        properties=properties,
        created_at=parse_time(inspected.get("Created")),
        started_at=parse_time(state.get("StartedAt")),
        finished_at=parse_time(state.get("FinishedAt")),
    )
