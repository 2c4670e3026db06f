"""The hypervisor host as one ``Kind.HOST`` observation.

The host's external id is the hardware UUID when libvirt knows it (``getSysinfo()`` SMBIOS
``system/uuid``, else ``<host><uuid>`` of the capabilities), otherwise ``host:HOSTNAME``, which
stays stable as long as the host keeps its name (the test driver reports neither UUID).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

import libvirt

from providers.base import Kind, ObservedResource, State


def version_text(number: int) -> str:
    """libvirt's packed version (major * 1,000,000 + minor * 1,000 + release) as ``9.0.0``."""
    return f"{number // 1_000_000}.{number // 1000 % 1000}.{number % 1000}"


def _sysinfo_uuid(conn: libvirt.virConnect) -> str | None:
    try:
        root = ET.fromstring(conn.getSysinfo(0))
    except (libvirt.libvirtError, ET.ParseError):
        return None
    for entry in root.iterfind("system/entry"):
        if entry.get("name") == "uuid" and (entry.text or "").strip():
            return entry.text.strip().lower()
    return None


def _capabilities(conn: libvirt.virConnect) -> ET.Element | None:
    try:
        return ET.fromstring(conn.getCapabilities())
    except (libvirt.libvirtError, ET.ParseError):
        return None


def host_external_id(conn: libvirt.virConnect, hostname: str, caps: ET.Element | None) -> str:
    uuid = _sysinfo_uuid(conn)
    if not uuid and caps is not None:
        uuid = (caps.findtext("host/uuid") or "").strip().lower() or None
    return uuid or f"host:{hostname}"


def observe_host(conn: libvirt.virConnect) -> ObservedResource:
    """The host the connection talks to. Raises ``libvirt.libvirtError`` if it cannot be read."""
    hostname = conn.getHostname()
    model, memory_mb, cpus, mhz, nodes, sockets, cores, threads = conn.getInfo()
    caps = _capabilities(conn)
    hv_type = conn.getType()
    try:
        hv_version = version_text(conn.getVersion())
    except libvirt.libvirtError:  # some drivers cannot tell
        hv_version = ""
    guest_types = sorted(
        {d.get("type", "") for d in caps.iterfind("guest/arch/domain")} if caps is not None else set()
    )
    return ObservedResource(
        external_id=host_external_id(conn, hostname, caps),
        kind=Kind.HOST,
        name=hostname,
        state=State.RUNNING,
        vcpus=Decimal(cpus),
        ram_mb=int(memory_mb),
        disk_gb=None,
        properties={
            "hypervisor_type": hv_type,
            "hypervisor_version": hv_version,
            "libvirt_version": version_text(conn.getLibVersion()),
            "uri": conn.getURI(),
            "cpu_model": model,
            "cpu_mhz": mhz,
            "numa_nodes": nodes,
            "sockets": sockets,
            "cores_per_socket": cores,
            "threads_per_core": threads,
            "guest_domain_types": guest_types,
        },
    )
