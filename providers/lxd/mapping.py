"""Map LXD's REST documents (``/1.0``, ``/1.0/instances?recursion=2``, instance state) onto observations.

Pure functions over the JSON LXD returns, so they can be read and tested without a daemon. The
facts they encode come from LXD's instance-options reference:

* ``limits.cpu`` is a count (``"2"``) or a set of pinned CPUs (``"0-3"``, ``"1,3"``);
  ``limits.cpu.allowance`` is a soft share when a percentage (``"50%"``, ignored for size) and a
  hard cap when a time slice (``"25ms/100ms"`` = 0.25 CPU). The size is the tighter of the two.
* ``limits.memory`` is a size (``"512MiB"``, ``"1GB"``) or a percentage of the host's memory.
* A container without a limit is unlimited (``None``, never 0). A virtual machine without one gets
  LXD's defaults: 1 vCPU and 1 GiB.
* The root disk is the ``disk`` device mounted at ``/`` in ``expanded_devices``; its ``size`` is
  the quota (absent: unlimited).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from providers.base import Kind, ObservedResource, ProviderDataError, State, UtilizationSample, to_decimal

MIB = 1024 * 1024
GIB = 1024 * MIB
#: LXD's defaults for a virtual machine with no limit set
VM_DEFAULT_VCPUS = Decimal(1)
VM_DEFAULT_RAM_MB = 1024

_UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "pb": 10**15, "eb": 10**18,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "pib": 2**50, "eib": 2**60,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")
_SLICE = re.compile(r"^\s*(\d+)ms\s*/\s*(\d+)ms\s*$")
_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$")

#: LXD status codes (shared/api/status_code.go) onto the common state set. A container that is
#: starting, stopping or freezing still holds its resources and is billed as running.
STATUS_CODES = {
    101: State.RUNNING,  # Started
    102: State.STOPPED,  # Stopped
    103: State.RUNNING,  # Running
    105: State.BUILDING,  # Pending
    106: State.RUNNING,  # Starting
    107: State.RUNNING,  # Stopping
    109: State.RUNNING,  # Freezing
    110: State.PAUSED,  # Frozen
    111: State.RUNNING,  # Thawed
    112: State.ERROR,  # Error
}
STATUS_NAMES = {"running": State.RUNNING, "stopped": State.STOPPED, "frozen": State.PAUSED,
                "error": State.ERROR, "starting": State.RUNNING, "stopping": State.RUNNING}

KINDS = {"container": Kind.CONTAINER, "virtual-machine": Kind.VM}


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 time with up to nanoseconds as aware UTC; LXD's zero times are ``None``."""
    if value in (None, ""):
        return None
    match = _TIME.match(str(value).strip())
    if not match:
        raise ProviderDataError(f"unreadable time {value!r}")
    day, clock, fraction, zone = match.groups()
    if day.startswith(("0001-", "1970-01-01")):  # "never" (last_used_at of an instance never started)
        return None
    zone = "+00:00" if zone in (None, "Z") else zone
    micro = (fraction or "0")[:6].ljust(6, "0")
    try:
        return datetime.fromisoformat(f"{day}T{clock}.{micro}{zone}").astimezone(UTC)
    except ValueError:
        raise ProviderDataError(f"unreadable time {value!r}") from None


def parse_size(value: Any, what: str = "size") -> int:
    """An LXD size string (``"512MiB"``, ``"1GB"``, ``"1073741824"``) in bytes."""
    match = _SIZE.match(str(value))
    unit = match.group(2).lower() if match else None
    if not match or unit not in _UNITS:
        raise ProviderDataError(f"unreadable {what} {value!r} (expected a number with B, kB, MB, GB, KiB, MiB, GiB...)")
    try:
        return int(Decimal(match.group(1)) * _UNITS[unit])
    except InvalidOperation:
        raise ProviderDataError(f"unreadable {what} {value!r}") from None


def count_cpuset(spec: str) -> int:
    """How many CPUs a pinning list such as ``0-3,8,10-11`` names."""
    total = 0
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part:
                low, high = part.split("-", 1)
                if int(high) < int(low):
                    raise ValueError
                total += int(high) - int(low) + 1
            else:
                int(part)
                total += 1
        except ValueError:
            raise ProviderDataError(f"unreadable limits.cpu {spec!r}") from None
    return total


def cpu_limit(config: Mapping[str, Any]) -> tuple[Decimal | None, str]:
    """The CPU size and where it came from (``"unlimited"`` when nothing caps it)."""
    candidates: list[tuple[Decimal, str]] = []
    raw = str(config.get("limits.cpu") or "").strip()
    if raw:
        if "-" in raw or "," in raw:
            candidates.append((Decimal(count_cpuset(raw)), "limits.cpu (pinned)"))
        else:
            try:
                count = int(raw)
            except ValueError:
                raise ProviderDataError(f"unreadable limits.cpu {raw!r}") from None
            if count <= 0:
                raise ProviderDataError(f"nonsense limits.cpu {raw!r}")
            candidates.append((Decimal(count), "limits.cpu"))
    allowance = str(config.get("limits.cpu.allowance") or "").strip()
    slice_match = _SLICE.match(allowance)
    if slice_match:
        used, period = (int(x) for x in slice_match.groups())
        if period <= 0 or used <= 0:
            raise ProviderDataError(f"nonsense limits.cpu.allowance {allowance!r}")
        candidates.append((Decimal(used) / Decimal(period), "limits.cpu.allowance"))
    if not candidates:
        return None, "unlimited"
    value, source = min(candidates, key=lambda item: item[0])
    return to_decimal(value), source


def memory_limit_mb(config: Mapping[str, Any], host_memory_bytes: int | None) -> tuple[int | None, str]:
    """``limits.memory`` as whole MiB (at least 1) and a description; ``None`` when unlimited.

    A percentage is of the host's memory; when the host's total is unknown it cannot be sized and
    is reported as unlimited with the reason.
    """
    raw = str(config.get("limits.memory") or "").strip()
    if not raw:
        return None, "unlimited"
    if raw.endswith("%"):
        try:
            share = Decimal(raw[:-1])
        except InvalidOperation:
            raise ProviderDataError(f"unreadable limits.memory {raw!r}") from None
        if not host_memory_bytes:
            return None, f"{raw} of the host (host memory unknown)"
        size = int(Decimal(host_memory_bytes) * share / 100)
    else:
        size = parse_size(raw, "limits.memory")
    if size <= 0:
        raise ProviderDataError(f"nonsense limits.memory {raw!r}")
    return max(1, round(size / MIB)), raw


def root_disk(devices: Mapping[str, Any]) -> tuple[str | None, Mapping[str, Any] | None]:
    """The name and definition of the root disk device (``type: disk``, ``path: /``)."""
    for name, device in (devices or {}).items():
        if isinstance(device, Mapping) and device.get("type") == "disk" and device.get("path") == "/":
            return name, device
    return None, None


def root_disk_gb(devices: Mapping[str, Any]) -> Decimal | None:
    _, device = root_disk(devices)
    if not device or not device.get("size"):
        return None
    size = parse_size(device["size"], "root disk size")
    if size <= 0:
        raise ProviderDataError(f"nonsense root disk size {device['size']!r}")
    return to_decimal(Decimal(size) / GIB)


def map_state(document: Mapping[str, Any]) -> str:
    code = document.get("status_code")
    if isinstance(code, int) and code in STATUS_CODES:
        return STATUS_CODES[code]
    return STATUS_NAMES.get(str(document.get("status") or "").lower(), State.UNKNOWN)


def external_id(project: str, name: str) -> str:
    """An instance's id in the account: ``project/name`` (names are unique per LXD project)."""
    return f"{project}/{name}"


def split_external_id(value: str) -> tuple[str, str]:
    project, sep, name = str(value).partition("/")
    if not sep or not project or not name:
        raise ProviderDataError(f"not an LXD instance id (expected project/name): {value!r}")
    return project, name


def user_labels(config: Mapping[str, Any]) -> dict[str, str]:
    """``user.*`` keys (LXD's free-form, searchable metadata) as labels, without the prefix."""
    return {key[5:]: str(value) for key, value in config.items() if key.startswith("user.")}


def host_id(server: Mapping[str, Any]) -> str:
    """A stable id for the LXD server: its certificate fingerprint (kept with its state)."""
    env = server.get("environment") or {}
    fingerprint = env.get("certificate_fingerprint")
    if fingerprint:
        return f"lxd-{fingerprint[:32]}"
    name = env.get("server_name")
    if not name:
        raise ProviderDataError("the LXD server named neither its certificate fingerprint nor its host name")
    return f"lxd-{name}"


def host_resource(server: Mapping[str, Any], resources: Mapping[str, Any] | None, *, endpoint: str,
                  host_name: str | None) -> ObservedResource:
    """The LXD server itself, as the ``Kind.HOST`` parent of every instance."""
    env = server.get("environment") or {}
    resources = resources or {}
    cpu_total = (resources.get("cpu") or {}).get("total")
    memory_total = (resources.get("memory") or {}).get("total")
    name = str(env.get("server_name") or endpoint)
    return ObservedResource(
        external_id=host_id(server),
        kind=Kind.HOST,
        name=name,
        state=State.RUNNING,
        vcpus=to_decimal(cpu_total) if cpu_total else None,
        ram_mb=int(memory_total) // MIB if memory_total else None,
        parent_match={"name": host_name or name},
        properties={
            "server": env.get("server", "lxd"),
            "server_version": env.get("server_version", ""),
            "api_version": server.get("api_version", ""),
            "driver": env.get("driver", ""),
            "driver_version": env.get("driver_version", ""),
            "kernel_version": env.get("kernel_version", ""),
            "os": f"{env.get('os_name', '')} {env.get('os_version', '')}".strip(),
            "storage": env.get("storage", ""),
            "clustered": bool(env.get("server_clustered")),
            "instance_types": _instance_types(env),
            "endpoint": endpoint,
        },
    )


def _instance_types(env: Mapping[str, Any]) -> list[str]:
    drivers = env.get("driver") or ""
    types = []
    if "lxc" in drivers:
        types.append("container")
    if "qemu" in drivers:
        types.append("virtual-machine")
    return types


def instance_resource(document: Mapping[str, Any], *, host_external_id: str, project_key: str,
                      host_memory_bytes: int | None) -> ObservedResource:
    """One instance document (``GET /1.0/instances?recursion=1|2``) as an observation."""
    try:
        name = str(document["name"])
        project = str(document.get("project") or "default")
        config = document.get("expanded_config") or document.get("config") or {}
        devices = document.get("expanded_devices") or document.get("devices") or {}
        instance_type = str(document.get("type") or "container")
    except (KeyError, TypeError, AttributeError):
        raise ProviderDataError(f"instance document without a name: {str(document)[:200]}") from None
    if not isinstance(config, Mapping) or not isinstance(devices, Mapping):
        raise ProviderDataError(f"instance {name}: config or devices is not a mapping")
    if instance_type not in KINDS:
        raise ProviderDataError(f"instance {name}: unknown instance type {instance_type!r}")
    kind = KINDS[instance_type]
    vcpus, cpu_source = cpu_limit(config)
    ram_mb, memory_source = memory_limit_mb(config, host_memory_bytes)
    if kind == Kind.VM:
        if vcpus is None:
            vcpus, cpu_source = VM_DEFAULT_VCPUS, "LXD default for VMs"
        if ram_mb is None and not str(config.get("limits.memory") or "").strip():
            ram_mb, memory_source = VM_DEFAULT_RAM_MB, "LXD default for VMs"
    disk_gb = root_disk_gb(devices)
    root_name, root = root_disk(devices)
    labels = user_labels(config)
    hint_key = project_key[5:] if project_key.startswith("user.") else None
    hint = str(config.get(project_key) or "") or (labels.get(hint_key) if hint_key else None) or project
    last_used = parse_time(document.get("last_used_at"))
    state = document.get("state") if isinstance(document.get("state"), Mapping) else {}
    image = config.get("image.description") or " ".join(
        part for part in (config.get("image.os"), config.get("image.release")) if part)
    properties = {
        "lxd_project": project,
        "instance_type": instance_type,
        "status": document.get("status", ""),
        "location": document.get("location", ""),
        "profiles": list(document.get("profiles") or []),
        "architecture": document.get("architecture", ""),
        "ephemeral": bool(document.get("ephemeral")),
        "description": document.get("description", ""),
        "cpu_limit": cpu_source,
        "cpu_allowance": config.get("limits.cpu.allowance", ""),
        "memory_limit": memory_source,
        "root_disk": f"{root_name} on pool {root.get('pool', '?')}" if root else "none",
        "root_disk_size": (root or {}).get("size") or "unlimited",
        "base_image": config.get("volatile.base_image", ""),
        "uuid": config.get("volatile.uuid", ""),
    }
    if state:  # only in a listing with state (recursion=2)
        properties.update(pid=state.get("pid"), processes=state.get("processes"))
    return ObservedResource(
        external_id=external_id(project, name),
        kind=kind,
        name=name,
        state=map_state(document),
        vcpus=vcpus,
        ram_mb=ram_mb,
        disk_gb=disk_gb,
        project_hint=hint,
        parent_external_id=host_external_id,
        image=str(image),
        labels=labels,
        properties=properties,
        created_at=parse_time(document.get("created_at")),
        # last_used_at is when the instance was last started: the start of its current run when
        # running, the start of its last run when stopped.
        started_at=last_used,
    )


def sample_from_state(ext_id: str, state: Mapping[str, Any], at: datetime,
                      ram_mb: int | None = None) -> UtilizationSample | None:
    """The instance state API (``GET /1.0/instances/{name}/state``) as a sample.

    ``cpu.usage`` is cumulative CPU nanoseconds; ``memory.usage`` bytes in use; network counters
    are summed over every interface but the loopback. ``None`` for an instance that is not running
    (LXD reports zeros for it). LXD does not report block I/O counters.
    """
    try:
        if int(state.get("pid") or 0) <= 0 and map_state(state) != State.RUNNING:
            return None
        cpu = (state.get("cpu") or {}).get("usage")
        memory = state.get("memory") or {}
        rx = tx = None
        for device in (state.get("network") or {}).values():
            if not isinstance(device, Mapping) or device.get("type") == "loopback":
                continue
            counters = device.get("counters") or {}
            rx = (rx or 0) + int(counters.get("bytes_received") or 0)
            tx = (tx or 0) + int(counters.get("bytes_sent") or 0)
        used = memory.get("usage")
        total = memory.get("total")  # newer LXD only
        total_mb = to_decimal(Decimal(int(total)) / MIB) if total else (Decimal(ram_mb) if ram_mb else None)
        return UtilizationSample(
            external_id=ext_id,
            at=at,
            cpu_time_ns=int(cpu) if cpu is not None else None,
            memory_used_mb=to_decimal(Decimal(int(used)) / MIB) if used is not None else None,
            memory_total_mb=total_mb,
            net_rx_bytes=rx,
            net_tx_bytes=tx,
        )
    except (AttributeError, TypeError, ValueError) as exc:
        raise ProviderDataError(f"unreadable state of instance {ext_id}: {exc}") from None
