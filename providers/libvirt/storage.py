"""Disk capacities: what each domain disk can grow to, in bytes.

libvirt's domain XML says where a disk lives, not how big it is. Capacities come from, in order:

1. the storage pools the connection knows (one ``listAllVolumes()`` per pool and ``info()`` per
   volume, indexed by path and by ``(pool, volume)``): works for running and stopped domains and
   for the test driver, whose node XML can declare ``<pool>``s holding ``<volume>``s with a
   ``<capacity>`` (that is how ``devsim.libvirt_nodes`` gives generated domains their disk sizes);
2. ``virDomain.blockInfo(target)`` for disks outside every pool, on connections where it is
   real; the test driver answers it with a made-up 1 TiB for every disk, so it is not asked.

A disk found by neither way is listed as unknown in the resource's properties and adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libvirt

from providers.libvirt.connection import CONNECTION_ERRORS
from providers.libvirt.domains import Disk


@dataclass
class VolumeIndex:
    by_path: dict[str, int] = field(default_factory=dict)
    by_name: dict[tuple[str, str], int] = field(default_factory=dict)
    #: bytes the volume takes on its pool now (a thin qcow2 is far below its capacity), by path
    allocation_by_path: dict[str, int] = field(default_factory=dict)
    paths: dict[tuple[str, str], str] = field(default_factory=dict)  # (pool, volume) -> path

    def allocation(self, disk: Disk) -> int | None:
        path = self.path_of(disk)
        return self.allocation_by_path.get(path) if path else None

    def path_of(self, disk: Disk) -> str | None:
        if disk.pool and disk.volume:
            return self.paths.get((disk.pool, disk.volume))
        return disk.path

    def capacity(self, disk: Disk) -> int | None:
        if disk.pool and disk.volume:
            return self.by_name.get((disk.pool, disk.volume))
        if disk.path:
            return self.by_path.get(disk.path)
        return None


def volume_index(conn: libvirt.virConnect) -> VolumeIndex:
    """Every volume of every active pool; pools or volumes that vanish meanwhile are left out."""
    index = VolumeIndex()
    try:
        pools = conn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_SUPPORT:  # no storage driver on this connection
            return index
        raise
    for pool in pools:
        try:
            volumes = pool.listAllVolumes(0)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() in (libvirt.VIR_ERR_NO_STORAGE_POOL, libvirt.VIR_ERR_OPERATION_INVALID):
                continue
            raise
        pool_name = pool.name()
        for volume in volumes:
            try:
                _, capacity, allocation = volume.info()
                path = volume.path()
            except libvirt.libvirtError as exc:
                if exc.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_VOL:
                    continue
                raise
            name = (pool_name, volume.name())
            index.by_path[path] = capacity
            index.by_name[name] = capacity
            index.allocation_by_path[path] = allocation
            index.paths[name] = path
    return index


def block_capacity(dom: libvirt.virDomain, disk: Disk) -> int | None:
    """``blockInfo`` capacity, or None when the hypervisor cannot tell (no source, no support)."""
    if not disk.target or not (disk.path or disk.volume):
        return None
    try:
        return dom.blockInfo(disk.target, 0)[0]
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN or exc.get_error_code() in CONNECTION_ERRORS:
            raise
        return None  # no such target, unsupported, or the file cannot be opened
