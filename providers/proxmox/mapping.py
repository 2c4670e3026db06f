"""What Proxmox VE reports, as ``providers.base`` observations: pure functions over the API's JSON.

* a node (``/cluster/resources`` type ``node``) -> a host: CPUs, memory, root disk; id ``node/NAME``;
* a QEMU guest -> a VM, an LXC guest -> a container, nested under its node; id ``qemu/VMID`` or
  ``lxc/VMID`` (VMIDs are unique in a cluster). Sizes come from the guest's config: vCPUs are
  ``cores x sockets`` (a container has ``cores``, none = all of the node's: unlimited), memory is
  ``memory`` MiB, disk is the sum of the ``size=`` of its disks (QEMU ``ideN/sataN/scsiN/virtioN/
  efidisk0/tpmstate0`` without CD-ROMs and cloud-init drives; LXC ``rootfs`` and volume ``mpN``);
* the guest's pool is its project hint, its tags are labels (each tag a key with an empty value);
* a storage volume (``/nodes/N/storage/S/content``) that is not a disk of a live guest -> a volume:
  nested under its owner when the owner is a guest (an ``unusedN`` disk), free-standing otherwise
  (a template's base disk, a leftover of a destroyed guest, a volume with no owner). A guest's own
  disks are counted in the guest's ``disk_gb`` and are not reported twice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from providers.base import Kind, ObservedResource, ProviderDataError, State, to_decimal

MIB = 1024 ** 2
GIB = 1024 ** 3
UNITS = {"": 1, "K": 1024, "M": MIB, "G": GIB, "T": 1024 ** 4}
SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)\s*$", re.IGNORECASE)
QEMU_DISK = re.compile(r"^(?:ide\d+|sata\d+|scsi\d+|virtio\d+|efidisk0|tpmstate0)$")
LXC_DISK = re.compile(r"^(?:rootfs|mp\d+)$")
UNUSED = re.compile(r"^unused\d+$")
TAG_SPLIT = re.compile(r"[;, ]+")
GUEST_TYPES = {"qemu": Kind.VM, "lxc": Kind.CONTAINER}
STATES = {"running": State.RUNNING, "stopped": State.STOPPED, "paused": State.PAUSED,
          "suspended": State.SUSPENDED, "prelaunch": State.BUILDING, "unknown": State.UNKNOWN}
MAX_NAME = 255


@dataclass(frozen=True)
class Disk:
    key: str  # scsi0, rootfs, mp1, unused0
    volume: str  # local-lvm:vm-100-disk-0, or a path for a bind mount
    size_bytes: int | None

    @property
    def storage(self) -> str:
        return self.volume.partition(":")[0] if ":" in self.volume else ""


def split_props(text: Any) -> tuple[str | None, dict[str, str]]:
    """PVE's property strings: ``local-lvm:vm-100-disk-0,size=32G`` -> (``local-lvm:...``, {size: 32G})."""
    first, props = None, {}
    for n, part in enumerate(str(text).split(",")):
        key, eq, value = part.partition("=")
        if eq:
            props[key.strip()] = value.strip()
        elif n == 0 and part.strip():
            first = part.strip()
    return first, props


def size_bytes(text: Any) -> int | None:
    """``32G``, ``512M``, ``1.5T`` or bytes -> bytes; None when absent or unreadable."""
    if text is None:
        return None
    match = SIZE.match(str(text))
    if not match:
        return None
    return int(Decimal(match.group(1)) * UNITS[match.group(2).upper()])


def guest_disks(guest_type: str, config: Mapping[str, Any]) -> tuple[list[Disk], list[Disk]]:
    """(disks in use, ``unusedN`` disks) of a guest's config, in key order."""
    pattern = QEMU_DISK if guest_type == "qemu" else LXC_DISK
    used, unused = [], []
    for key in sorted(config):
        if UNUSED.match(key):
            volume, _ = split_props(config[key])
            if volume:
                unused.append(Disk(key, volume, None))
            continue
        if not pattern.match(key):
            continue
        volume, props = split_props(config[key])
        volume = volume or props.get("file") or props.get("volume") or ""
        if guest_type == "qemu" and (props.get("media") == "cdrom" or volume in ("none", "cdrom")
                                     or "cloudinit" in volume):
            continue
        if guest_type == "lxc" and (not volume or volume.startswith("/")):
            continue  # a bind or device mount: not storage of the guest's own
        used.append(Disk(key, volume, size_bytes(props.get("size"))))
    return used, unused


def _int(config: Mapping[str, Any], key: str, default: int | None, what: str) -> int | None:
    raw = config.get(key)
    if raw is None or raw == "":
        return default
    text = str(raw).split("=")[-1] if "current=" in str(raw) else str(raw)  # PVE 9: memory: current=4096
    try:
        value = int(text.split(",")[0])
    except ValueError:
        raise ProviderDataError(f"{what}: {key} is not a whole number: {raw!r}") from None
    if value < 0 or value > 1 << 40:
        raise ProviderDataError(f"{what}: {key} is out of range: {raw!r}")
    return value


def guest_size(guest_type: str, config: Mapping[str, Any], what: str) -> tuple[Decimal | None, int, Decimal, list[Disk]]:
    """(vCPUs, RAM MiB, disk GiB, disks) of a guest from its config."""
    if guest_type == "qemu":
        cores = _int(config, "cores", 1, what)
        sockets = _int(config, "sockets", 1, what)
        if not cores or not sockets:
            raise ProviderDataError(f"{what}: cores x sockets is zero ({cores} x {sockets})")
        vcpus: Decimal | None = to_decimal(cores * sockets)
    else:
        cores = _int(config, "cores", None, what)
        vcpus = to_decimal(cores) if cores else None  # no cores: may use every CPU of its node
    ram_mb = _int(config, "memory", 512, what)
    disks, _ = guest_disks(guest_type, config)
    total = sum(d.size_bytes or 0 for d in disks)
    return vcpus, int(ram_mb or 0), to_decimal(Decimal(total) / GIB), disks


def labels_of(tags: Any) -> dict[str, str]:
    """PVE tags (``prod;web``) as labels: each tag a key with an empty value."""
    return {t: "" for t in TAG_SPLIT.split(str(tags or "").strip()) if t}


def started_at(uptime: Any, observed_at: datetime) -> datetime | None:
    """When a running guest started: now - uptime, to the minute below so refreshes agree (a guest
    started within the second has uptime 0: it started now)."""
    try:
        seconds = int(uptime)
    except (TypeError, ValueError):
        return None
    if seconds < 0:
        return None
    start = observed_at - timedelta(seconds=seconds)
    return start.replace(second=0, microsecond=0)


def node_resource(record: Mapping[str, Any]) -> ObservedResource:
    name = str(record.get("node") or "")
    if not name:
        raise ProviderDataError(f"node record without a name: {record!r:.80}")
    online = record.get("status") == "online"
    maxmem, maxdisk = record.get("maxmem"), record.get("maxdisk")
    return ObservedResource(
        external_id=f"node/{name}", kind=Kind.HOST, name=name[:MAX_NAME],
        state=State.RUNNING if online else State.UNKNOWN,
        vcpus=to_decimal(record["maxcpu"]) if record.get("maxcpu") is not None else None,
        ram_mb=int(maxmem) // MIB if maxmem is not None else None,
        disk_gb=to_decimal(Decimal(int(maxdisk)) / GIB) if maxdisk is not None else None,
        properties={"status": str(record.get("status") or ""), "level": str(record.get("level") or "")},
    )


def guest_resource(record: Mapping[str, Any], config: Mapping[str, Any], observed_at: datetime) -> ObservedResource:
    """One guest of ``/cluster/resources`` with its config; ``ProviderDataError`` when unreadable."""
    guest_type = str(record.get("type") or "")
    if guest_type not in GUEST_TYPES:
        raise ProviderDataError(f"not a guest type: {guest_type!r}")
    try:
        vmid = int(record["vmid"])
    except (KeyError, TypeError, ValueError):
        raise ProviderDataError(f"guest record without a numeric vmid: {record!r:.80}") from None
    what = f"{guest_type}/{vmid}"
    node = str(record.get("node") or "")
    if not node:
        raise ProviderDataError(f"{what} has no node")
    name = str(record.get("name") or config.get("name") or config.get("hostname") or what)
    cut_from = len(name) if len(name) > MAX_NAME else None
    vcpus, ram_mb, disk_gb, disks = guest_size(guest_type, config, what)
    state = STATES.get(str(record.get("status") or "unknown"), State.UNKNOWN)
    properties: dict[str, Any] = {
        "vmid": vmid, "node": node, "type": guest_type,
        "disks": [{"key": d.key, "volume": d.volume, "size_gb": str(to_decimal(Decimal(d.size_bytes or 0) / GIB))}
                  for d in disks],
    }
    if cut_from:
        properties["name_cut_from"] = cut_from
    for key in ("lock", "hastate"):
        if record.get(key):
            properties[key] = str(record[key])
    if guest_type == "qemu" and config.get("ostype"):
        properties["ostype"] = str(config["ostype"])
    if guest_type == "lxc" and config.get("ostype"):
        properties["ostype"] = str(config["ostype"])
    return ObservedResource(
        external_id=what, kind=GUEST_TYPES[guest_type], name=name[:MAX_NAME], state=state,
        vcpus=vcpus, ram_mb=ram_mb, disk_gb=disk_gb,
        project_hint=str(record["pool"]) if record.get("pool") else None,
        parent_external_id=f"node/{node}",
        labels=labels_of(record.get("tags", config.get("tags"))),
        properties=properties,
        started_at=started_at(record.get("uptime"), observed_at) if state == State.RUNNING else None,
    )


def volume_resource(record: Mapping[str, Any], owner: str | None, pool: str | None,
                    nodes: list[str]) -> ObservedResource:
    """A storage volume not in use as a guest's disk; ``owner`` is its guest's external id, if live."""
    volid = str(record.get("volid") or "")
    if ":" not in volid:
        raise ProviderDataError(f"storage content entry without a volume id: {record!r:.80}")
    try:
        size = int(record.get("size") or 0)
    except (TypeError, ValueError):
        raise ProviderDataError(f"{volid}: size is not a number: {record.get('size')!r}") from None
    if size < 0:
        raise ProviderDataError(f"{volid}: negative size {size}")
    properties: dict[str, Any] = {"storage": volid.partition(":")[0], "content": str(record.get("content") or ""),
                                  "format": str(record.get("format") or ""), "nodes": nodes}
    if record.get("vmid") not in (None, ""):
        properties["owner_vmid"] = record["vmid"]
    return ObservedResource(
        external_id=volid, kind=Kind.VOLUME, name=volid.partition(":")[2][:MAX_NAME] or volid,
        state=State.AVAILABLE, disk_gb=to_decimal(Decimal(size) / GIB), project_hint=pool,
        parent_external_id=owner, properties=properties,
    )
