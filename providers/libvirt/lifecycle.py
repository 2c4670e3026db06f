"""Creating domains from a ``ProvisionSpec`` and running start/stop/reboot/delete on them.

Provisioning, in order: pick the guest type the host offers (``kvm`` over ``qemu`` over anything
else for VMs, os type ``exe`` for LXC containers), create the disk as a volume in a storage pool
(cloned from the volume named by ``spec.image`` when given, so ``image`` is a template volume's
name or path), attach one NIC on the requested or configured libvirt network when it exists,
write the project and labels into ``<metadata>``, define, start. If a step fails, what was created
before it is removed again.

Stopping asks the guest to shut down (ACPI) and destroys it if it is still running after the
timeout. Deleting destroys a running domain, then undefines it with its managed-save image,
snapshot and checkpoint metadata and NVRAM (retrying with fewer flags where a driver refuses
some). Volumes are kept: a disk outlives its domain unless someone deletes it.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from decimal import Decimal

import libvirt

from providers.base import Action, Kind, ProviderDataError, ProvisionSpec, UnsupportedCapability
from providers.libvirt.domains import GLASSPANE_NS, LABELS_NS, SLUG

GIB = 1024**3
_TYPE_PREFERENCE = ("kvm", "qemu")


def guest_type(conn: libvirt.virConnect, kind: str) -> tuple[str, str, str]:
    """(domain type, os type, arch) to define a ``kind`` on this host."""
    wanted_os = "exe" if kind == Kind.CONTAINER else "hvm"
    caps = ET.fromstring(conn.getCapabilities())
    host_arch = caps.findtext("host/cpu/arch") or ""
    offers = []
    for guest in caps.iterfind("guest"):
        if (guest.findtext("os_type") or "").strip() != wanted_os:
            continue
        arch = guest.find("arch")
        if arch is None:
            continue
        for domain in arch.iterfind("domain"):
            offers.append((domain.get("type", ""), arch.get("name", "")))
    if not offers:
        what = "containers (os type exe)" if kind == Kind.CONTAINER else "virtual machines (os type hvm)"
        raise UnsupportedCapability(f"the libvirt host at {conn.getURI()} cannot run {what}")

    def rank(offer):
        dtype, arch = offer
        preferred = _TYPE_PREFERENCE.index(dtype) if dtype in _TYPE_PREFERENCE else len(_TYPE_PREFERENCE)
        return (preferred, arch != host_arch)

    dtype, arch = min(offers, key=rank)
    return dtype, wanted_os, arch


def check_spec(spec: ProvisionSpec) -> tuple[int, int, Decimal | None]:
    """(vcpus, ram_mb, disk_gb) of a spec a libvirt host can build; ``ValueError`` otherwise."""
    if spec.kind not in (Kind.VM, Kind.CONTAINER):
        raise ValueError(f"libvirt can provision a vm or a container, not a {spec.kind!r}")
    if not spec.name or any(c in spec.name for c in "/\\ \t\n"):
        raise ValueError(f"domain name {spec.name!r} must be non-empty without slashes or spaces")
    if not SLUG.match(spec.project or ""):
        raise ValueError(f"project {spec.project!r} is not a project slug")
    if spec.vcpus is None or spec.vcpus < 1 or spec.vcpus != int(spec.vcpus):
        raise ValueError(f"a libvirt domain needs a whole number of vCPUs (1 or more), got {spec.vcpus}")
    if spec.ram_mb is None or spec.ram_mb < 1:
        raise ValueError(f"a libvirt domain needs its RAM in MiB (1 or more), got {spec.ram_mb}")
    if spec.disk_gb is not None and spec.disk_gb <= 0:
        raise ValueError(f"disk_gb must be positive, got {spec.disk_gb}")
    return int(spec.vcpus), int(spec.ram_mb), spec.disk_gb


def pick_pool(conn: libvirt.virConnect, wanted: str | None) -> libvirt.virStoragePool:
    """The pool named ``wanted``; without a name, ``default`` or else the only active pool."""
    if wanted:
        try:
            return conn.storagePoolLookupByName(wanted)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_POOL:
                raise ValueError(f"storage pool {wanted!r} does not exist at {conn.getURI()}") from None
            raise
    pools = conn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE)
    for pool in pools:
        if pool.name() == "default":
            return pool
    if len(pools) == 1:
        return pools[0]
    names = ", ".join(sorted(p.name() for p in pools)) or "none"
    raise ValueError(
        f"cannot choose a storage pool for the disk at {conn.getURI()} (active pools: {names}); "
        "set the storage_pool setting"
    )


def create_volume(
    pool: libvirt.virStoragePool, name: str, disk_gb: Decimal, image: str
) -> libvirt.virStorageVol:
    capacity = int(disk_gb * GIB)
    volume = ET.Element("volume")
    ET.SubElement(volume, "name").text = name
    ET.SubElement(volume, "capacity", unit="bytes").text = str(capacity)
    target = ET.SubElement(volume, "target")
    ET.SubElement(target, "format", type="qcow2")
    try:
        pool.storageVolLookupByName(name)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_NO_STORAGE_VOL:
            raise
    else:
        raise ValueError(f"storage pool {pool.name()!r} already holds a volume named {name!r}")
    if not image:
        return pool.createXML(ET.tostring(volume, encoding="unicode"), 0)
    source = _find_volume(pool, image)
    source_capacity = source.info()[1]
    volume.find("capacity").text = str(max(capacity, source_capacity))
    return pool.createXMLFrom(ET.tostring(volume, encoding="unicode"), source, 0)


def _find_volume(pool: libvirt.virStoragePool, image: str) -> libvirt.virStorageVol:
    try:
        if image.startswith("/"):
            return pool.connect().storageVolLookupByPath(image)
        return pool.storageVolLookupByName(image)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_VOL:
            raise ValueError(f"image volume {image!r} not found in storage pool {pool.name()!r}") from None
        raise


def network_state(conn: libvirt.virConnect, name: str) -> str:
    """``active``, ``inactive`` (defined but not started: a NIC on it cannot start) or ``missing``."""
    try:
        network = conn.networkLookupByName(name)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() in (libvirt.VIR_ERR_NO_NETWORK, libvirt.VIR_ERR_NO_SUPPORT):
            return "missing"
        raise
    return "active" if network.isActive() else "inactive"


def network_exists(conn: libvirt.virConnect, name: str) -> bool:
    """Whether a NIC can be attached to ``name`` now (it exists and is active)."""
    return network_state(conn, name) == "active"


def domain_xml(
    spec: ProvisionSpec,
    *,
    domain_type: str,
    os_type: str,
    arch: str,
    volume: tuple[str, str] | None,
    network: str | None,
) -> str:
    """The domain XML for ``spec`` (``volume`` is (pool, volume name) of its disk)."""
    vcpus, ram_mb, _ = check_spec(spec)
    ET.register_namespace("glasspane", GLASSPANE_NS)
    ET.register_namespace("labels", LABELS_NS)
    dom = ET.Element("domain", type=domain_type)
    ET.SubElement(dom, "name").text = spec.name
    metadata = ET.SubElement(dom, "metadata")
    ET.SubElement(metadata, f"{{{GLASSPANE_NS}}}project").text = spec.project
    if spec.labels:
        labels = ET.SubElement(metadata, f"{{{LABELS_NS}}}labels")
        for key, value in sorted(spec.labels.items()):
            ET.SubElement(labels, f"{{{LABELS_NS}}}label", key=str(key)).text = str(value)
    ET.SubElement(dom, "memory", unit="MiB").text = str(ram_mb)
    ET.SubElement(dom, "currentMemory", unit="MiB").text = str(ram_mb)
    ET.SubElement(dom, "vcpu").text = str(vcpus)
    os_el = ET.SubElement(dom, "os")
    ET.SubElement(os_el, "type", arch=arch).text = os_type
    if os_type == "exe":
        ET.SubElement(os_el, "init").text = spec.command[0] if spec.command else "/sbin/init"
        for arg in spec.command[1:]:
            ET.SubElement(os_el, "initarg").text = arg
    else:
        ET.SubElement(os_el, "boot", dev="hd")
    devices = ET.SubElement(dom, "devices")
    if os_type == "exe" and spec.image:
        fs = ET.SubElement(devices, "filesystem", type="mount")
        ET.SubElement(fs, "source", dir=spec.image)
        ET.SubElement(fs, "target", dir="/")
    if volume is not None:
        disk = ET.SubElement(devices, "disk", type="volume", device="disk")
        ET.SubElement(disk, "driver", name="qemu", type="qcow2")
        ET.SubElement(disk, "source", pool=volume[0], volume=volume[1])
        ET.SubElement(disk, "target", dev="vda", bus="virtio")
    if os_type == "exe":
        ET.SubElement(devices, "console", type="pty")  # the LXC driver refuses a container without one
    if network:
        nic = ET.SubElement(devices, "interface", type="network")
        ET.SubElement(nic, "source", network=network)
        if os_type == "hvm":
            ET.SubElement(nic, "model", type="virtio")
    return ET.tostring(dom, encoding="unicode")


def provision(
    conn: libvirt.virConnect, spec: ProvisionSpec, *, storage_pool: str | None, network: str | None
) -> libvirt.virDomain:
    """Define and start a domain for ``spec``; returns it. ``ValueError`` for a spec it cannot build."""
    _, _, disk_gb = check_spec(spec)
    domain_type, os_type, arch = guest_type(conn, spec.kind)
    if spec.network and not network_exists(conn, spec.network):
        state = network_state(conn, spec.network)
        said = "does not exist" if state == "missing" else "is not active (virsh net-start it)"
        raise ValueError(f"network {spec.network!r} {said} at {conn.getURI()}")
    nic_network = spec.network or (network if network and network_exists(conn, network) else None)
    if _domain_exists(conn, spec.name):
        raise ValueError(
            f"cannot define domain {spec.name!r} at {conn.getURI()}: a domain of that name exists"
        )

    created_volume = None
    dom = None
    try:
        volume_ref = None
        if disk_gb is not None and os_type == "hvm":
            pool = pick_pool(conn, storage_pool)
            created_volume = create_volume(pool, f"{spec.name}-disk0.qcow2", disk_gb, spec.image)
            volume_ref = (pool.name(), created_volume.name())
        xml = domain_xml(
            spec, domain_type=domain_type, os_type=os_type, arch=arch, volume=volume_ref, network=nic_network
        )
        try:
            dom = conn.defineXML(xml)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() in (libvirt.VIR_ERR_DOM_EXIST, libvirt.VIR_ERR_OPERATION_FAILED):
                raise ValueError(f"cannot define domain {spec.name!r} at {conn.getURI()}: {exc}") from None
            raise
        dom.create()
        return dom
    except BaseException:
        if dom is not None:
            _undo(dom.undefine)
        if created_volume is not None:
            _undo(lambda: created_volume.delete(0))
        raise


def _domain_exists(conn: libvirt.virConnect, name: str) -> bool:
    try:
        conn.lookupByName(name)
        return True
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return False
        raise


def _undo(step) -> None:
    try:
        step()
    except libvirt.libvirtError:
        pass  # best effort: the original error is what the caller needs to see


def act(dom: libvirt.virDomain, action: str, *, shutdown_timeout: float, poll: float = 0.2) -> None:
    """Run one of ``Action.ALL`` on ``dom``; a no-op where it is already in the wanted state."""
    state = dom.state()[0]
    active = state not in (libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_NOSTATE)
    if action == Action.START:
        if state == libvirt.VIR_DOMAIN_PAUSED:
            dom.resume()
        elif state == libvirt.VIR_DOMAIN_PMSUSPENDED:
            dom.pMWakeup(0)
        elif not active or state == libvirt.VIR_DOMAIN_CRASHED:
            if active:
                _ignore_not_running(dom.destroy)
            dom.create()
    elif action == Action.STOP:
        if active:
            stop(dom, shutdown_timeout=shutdown_timeout, poll=poll)
    elif action == Action.REBOOT:
        if active and state == libvirt.VIR_DOMAIN_RUNNING:
            dom.reboot(0)
        else:
            if active:
                _ignore_not_running(dom.destroy)
            dom.create()
    elif action == Action.DELETE:
        if active:
            _ignore_not_running(dom.destroy)
        undefine(dom)
    else:
        raise ValueError(f"unknown action {action!r} (one of {', '.join(Action.ALL)})")


def stop(dom: libvirt.virDomain, *, shutdown_timeout: float, poll: float = 0.2) -> None:
    """ACPI shutdown, then destroy once ``shutdown_timeout`` seconds have passed."""
    if dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING:
        _ignore_not_running(dom.shutdown)
        deadline = time.monotonic() + shutdown_timeout
        while time.monotonic() < deadline:
            if dom.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF:
                return
            time.sleep(poll)
    if dom.state()[0] != libvirt.VIR_DOMAIN_SHUTOFF:
        _ignore_not_running(dom.destroy)


def undefine(dom: libvirt.virDomain) -> None:
    full = (
        libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
        | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
        | libvirt.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA
        | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
    )
    basic = libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
    for flags in (full, basic, 0):
        try:
            dom.undefineFlags(flags)
            return
        except libvirt.libvirtError as exc:
            code = exc.get_error_code()
            if code == libvirt.VIR_ERR_NO_DOMAIN:
                return  # a transient domain is gone once destroyed
            if code not in (libvirt.VIR_ERR_INVALID_ARG, libvirt.VIR_ERR_NO_SUPPORT):
                raise
    raise ProviderDataError(f"libvirt refused to undefine domain {dom.name()} with any flags")


def _ignore_not_running(step) -> None:
    """Run a step that fails harmlessly when the domain stopped meanwhile."""
    try:
        step()
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_OPERATION_INVALID:
            raise
