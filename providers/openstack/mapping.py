"""Nova and Cinder records (plain JSON dicts) -> ``providers.base`` observations.

Pure functions, no I/O: a record that cannot be read raises ``ProviderDataError`` naming what is
wrong, and the driver files it under ``Inventory.issues`` while keeping the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from providers.base import Kind, ObservedResource, ProviderDataError, State, to_decimal

#: Nova server status -> common state (Compute API reference, "Server status")
SERVER_STATES = {
    "ACTIVE": State.RUNNING,
    "BUILD": State.BUILDING,
    "REBUILD": State.BUILDING,
    "SHUTOFF": State.STOPPED,
    "PAUSED": State.PAUSED,
    "SUSPENDED": State.SUSPENDED,
    "ERROR": State.ERROR,
    "REBOOT": State.RUNNING,
    "HARD_REBOOT": State.RUNNING,
    "PASSWORD": State.RUNNING,
    "RESIZE": State.RUNNING,
    "VERIFY_RESIZE": State.RUNNING,
    "REVERT_RESIZE": State.RUNNING,
    "MIGRATING": State.RUNNING,
    "RESCUE": State.RUNNING,
    "SHELVED": State.STOPPED,
    "SHELVED_OFFLOADED": State.STOPPED,
    "SOFT_DELETED": State.STOPPED,
    "DELETED": State.STOPPED,
    "UNKNOWN": State.UNKNOWN,
}
POWER_STATES = {0: "NOSTATE", 1: "RUNNING", 3: "PAUSED", 4: "SHUTDOWN", 6: "CRASHED", 7: "SUSPENDED"}
CRASHED_POWER_STATE = 6

#: Cinder volume status -> common state (Block Storage API reference, "Volume statuses")
VOLUME_STATES = {
    "available": State.AVAILABLE,
    "in-use": State.IN_USE,
    "attaching": State.IN_USE,
    "detaching": State.IN_USE,
    "reserved": State.IN_USE,
    "creating": State.BUILDING,
    "downloading": State.BUILDING,
    "uploading": State.IN_USE,
    "extending": State.BUILDING,
    "retyping": State.BUILDING,
    "maintenance": State.UNKNOWN,
    "deleting": State.UNKNOWN,
    "error": State.ERROR,
    "error_deleting": State.ERROR,
    "error_extending": State.ERROR,
    "error_restoring": State.ERROR,
    "error_backing-up": State.ERROR,
    "error_managing": State.ERROR,
}


def parse_time(value: Any, what: str) -> datetime | None:
    """Nova/Cinder timestamps (``...Z``, ``...+00:00`` or naive UTC with microseconds) -> aware UTC."""
    if value.__class__ is str and value:  # the common case first: a refresh reads four per server
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ProviderDataError(f"{what} is not a timestamp: {value!r}") from None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ProviderDataError(f"{what} is not a timestamp: {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ProviderDataError(f"{what} is not a timestamp: {value!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _int(value: Any, what: str) -> int:
    if value.__class__ is int:  # JSON's plain numbers: nothing to convert
        return value
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ProviderDataError(f"{what} is not a whole number: {value!r}")
    try:
        return int(value or 0)
    except ValueError:
        raise ProviderDataError(f"{what} is not a whole number: {value!r}") from None


def flavor_size(flavor: Mapping[str, Any]) -> tuple[Decimal, int, Decimal]:
    """(vcpus, ram MiB, root + ephemeral GiB) of an embedded (2.47+) or listed flavor."""
    ephemeral = flavor.get("ephemeral", flavor.get("OS-FLV-EXT-DATA:ephemeral", 0))
    vcpus = _int(flavor.get("vcpus"), "flavor vcpus")
    ram = _int(flavor.get("ram"), "flavor ram")
    disk = _int(flavor.get("disk"), "flavor disk") + _int(ephemeral, "flavor ephemeral")
    return Decimal(vcpus), ram, Decimal(disk)


def _server_time(record: Mapping[str, Any], key: str, server_id: str, what: str) -> datetime | None:
    """``parse_time`` of one server field, its error message built only when the value is bad."""
    value = record.get(key)
    if value.__class__ is str and value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    elif value is None:
        return None
    return parse_time(value, f"server {server_id} {what}")


def server_resource(record: Mapping[str, Any], flavors: Mapping[str, Mapping[str, Any]],
                    hosts: Mapping[str, str]) -> ObservedResource:
    """One server from ``/servers/detail``.

    ``flavors`` maps flavor id -> flavor detail (needed before microversion 2.47 only);
    ``hosts`` maps a compute host or hypervisor hostname -> the hypervisor's external id.
    A refresh maps every server of the cloud, so this reads each field once and formats error
    messages only for a record that has an error; what it returns and raises is field for field
    what the plain reading would (``tests/providers/openstack/test_inventory_golden.py``).
    """
    get = record.get
    server_id = get("id")
    if not isinstance(server_id, str) or not server_id:
        raise ProviderDataError("server record without an id")
    flavor = get("flavor")
    if not isinstance(flavor, Mapping):
        raise ProviderDataError(f"server {server_id} has no flavor in its record")
    if "vcpus" in flavor:
        name = str(flavor.get("original_name") or "")
        vcpus, ram, disk = flavor_size(flavor)
    else:
        listed = flavors.get(str(flavor.get("id")))
        if listed is None:
            raise ProviderDataError(f"server {server_id} uses flavor {flavor.get('id')!r}, which the flavor list lacks")
        name = str(listed.get("name") or "")
        vcpus, ram, disk = flavor_size(listed)
    status = str(get("status") or "UNKNOWN").upper()
    power = get("OS-EXT-STS:power_state")
    state = SERVER_STATES.get(status, State.UNKNOWN)
    if power == CRASHED_POWER_STATE and state == State.RUNNING:
        state = State.CRASHED
    host = get("OS-EXT-SRV-ATTR:host")
    hypervisor_hostname = get("OS-EXT-SRV-ATTR:hypervisor_hostname")
    parent = hosts.get(hypervisor_hostname or "") or hosts.get(host or "")
    image = get("image")
    image_id = image.get("id", "") if isinstance(image, Mapping) else ""
    project = get("tenant_id")
    if not isinstance(project, str) or not project:
        raise ProviderDataError(f"server {server_id} has no tenant_id")
    terminated = _server_time(record, "OS-SRV-USG:terminated_at", server_id, "terminated_at")
    updated = _server_time(record, "updated", server_id, "updated")
    metadata = get("metadata")
    return ObservedResource(
        external_id=server_id,
        kind=Kind.VM,
        name=str(get("name") or server_id),
        state=state,
        vcpus=vcpus,
        ram_mb=ram,
        disk_gb=disk,
        project_hint=project,
        parent_external_id=parent,
        image=image_id,
        flavor=name,
        labels={str(k): str(v) for k, v in metadata.items()} if metadata else {},
        properties={
            "status": status,
            "power_state": POWER_STATES.get(power, str(power)) if power is not None else None,
            "vm_state": get("OS-EXT-STS:vm_state"),
            "task_state": get("OS-EXT-STS:task_state"),
            "host": host,
            "hypervisor_hostname": hypervisor_hostname,
            "availability_zone": get("OS-EXT-AZ:availability_zone"),
            "user_id": get("user_id"),
        },
        created_at=_server_time(record, "created", server_id, "created"),
        started_at=_server_time(record, "OS-SRV-USG:launched_at", server_id, "launched_at"),
        deleted_at=(terminated or updated) if status == "DELETED" else None,
    )


def hypervisor_resource(record: Mapping[str, Any]) -> ObservedResource:
    """One hypervisor from ``/os-hypervisors/detail`` (sizes only below microversion 2.88)."""
    hypervisor_id = record.get("id")
    if hypervisor_id in (None, ""):
        raise ProviderDataError("hypervisor record without an id")
    name = str(record.get("hypervisor_hostname") or hypervisor_id)
    up = record.get("state") == "up"
    service = record.get("service") if isinstance(record.get("service"), Mapping) else {}
    return ObservedResource(
        external_id=str(hypervisor_id),
        kind=Kind.HOST,
        name=name,
        state=State.RUNNING if up else (State.STOPPED if record.get("state") == "down" else State.UNKNOWN),
        vcpus=to_decimal(record["vcpus"], 0) if record.get("vcpus") is not None else None,
        ram_mb=_int(record["memory_mb"], "hypervisor memory_mb") if record.get("memory_mb") is not None else None,
        disk_gb=to_decimal(record["local_gb"], 0) if record.get("local_gb") is not None else None,
        properties={
            "status": record.get("status"),
            "hypervisor_type": record.get("hypervisor_type"),
            "hypervisor_version": record.get("hypervisor_version"),
            "host_ip": record.get("host_ip"),
            "service_host": service.get("host"),
            "vcpus_used": record.get("vcpus_used"),
            "memory_mb_used": record.get("memory_mb_used"),
            "running_vms": record.get("running_vms"),
        },
    )


def volume_resource(record: Mapping[str, Any]) -> ObservedResource:
    """One volume from Cinder's ``/volumes/detail``; parent = the server it is attached to."""
    volume_id = record.get("id")
    if not isinstance(volume_id, str) or not volume_id:
        raise ProviderDataError("volume record without an id")
    size = record.get("size")
    if size is None:
        raise ProviderDataError(f"volume {volume_id} has no size")
    attachments = record.get("attachments") or []
    servers = [a.get("server_id") for a in attachments if isinstance(a, Mapping) and a.get("server_id")]
    status = str(record.get("status") or "")
    return ObservedResource(
        external_id=volume_id,
        kind=Kind.VOLUME,
        name=str(record.get("name") or volume_id),
        state=VOLUME_STATES.get(status, State.UNKNOWN),
        disk_gb=to_decimal(size, 0),
        project_hint=record.get("os-vol-tenant-attr:tenant_id"),
        parent_external_id=servers[0] if servers else None,
        properties={
            "status": status,
            "volume_type": record.get("volume_type"),
            "bootable": record.get("bootable"),
            "attached_to": servers,
            "availability_zone": record.get("availability_zone"),
        },
        created_at=parse_time(record.get("created_at"), f"volume {volume_id} created_at"),
    )
