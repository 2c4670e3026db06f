"""Lifecycle on a real libvirtd: provision, suspend/resume, graceful stop falling back to destroy,
delete; LXC domains as containers."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import libvirt
import pytest

from providers.base import Action, Kind, ProvisionSpec, State
from providers.libvirt.driver import LibvirtDriver
from tests.providers.libvirt_real.conftest import LXC_URI, POOL, QEMU_URI

pytestmark = [pytest.mark.real_libvirt, pytest.mark.integration]


def state_of(driver, uuid_):
    found = [r for r in driver.inventory().resources if r.external_id == uuid_]
    return found[0].state if found else None


def test_provision_suspend_resume_stop_falls_back_to_destroy_and_delete(guests, qemu_conn):
    name = f"gp-t-{uuid.uuid4().hex[:8]}"
    guests.names.append(name)  # removed at teardown whatever happens
    driver = LibvirtDriver({"uri": QEMU_URI, "storage_pool": POOL, "shutdown_timeout": 2})
    created = driver.provision(ProvisionSpec(name=name, kind=Kind.VM, project="alpha", vcpus=Decimal(1),
                                             ram_mb=128, disk_gb=Decimal("0.0625")))
    assert created.state == State.RUNNING and created.project_hint == "alpha"
    assert created.ram_mb == 128 and created.disk_gb == Decimal("0.062")
    assert created.properties["domain_type"] in ("qemu", "kvm")
    ext = created.external_id

    dom = qemu_conn.lookupByUUIDString(ext)
    dom.suspend()
    assert state_of(driver, ext) == State.PAUSED
    driver.act(ext, Action.START)  # start on a paused domain resumes it
    assert state_of(driver, ext) == State.RUNNING

    # a guest sitting in its BIOS ignores ACPI: the stop waits shutdown_timeout, then destroys
    began = time.monotonic()
    driver.act(ext, Action.STOP)
    assert time.monotonic() - began >= 2
    assert state_of(driver, ext) == State.STOPPED

    driver.act(ext, Action.START)
    assert state_of(driver, ext) == State.RUNNING
    driver.act(ext, Action.DELETE)
    assert state_of(driver, ext) is None
    with pytest.raises(libvirt.libvirtError):
        qemu_conn.lookupByName(name)
    # the disk outlives its domain (removed by the fixture)
    assert qemu_conn.storagePoolLookupByName(POOL).storageVolLookupByName(f"{name}-disk0.qcow2")


def test_lxc_domains_are_containers_with_sizes_state_and_samples(lxc_conn):
    name = f"gp-t-{uuid.uuid4().hex[:8]}"
    driver = LibvirtDriver({"uri": LXC_URI, "shutdown_timeout": 1})
    try:
        created = driver.provision(ProvisionSpec(name=name, kind=Kind.CONTAINER, project="alpha",
                                                 vcpus=Decimal(1), ram_mb=64, command=["/bin/sleep", "100000"]))
        ext = created.external_id
        inventory = driver.inventory()
        found = next(r for r in inventory.resources if r.external_id == ext)
        assert (found.kind, found.state, found.vcpus, found.ram_mb) == (Kind.CONTAINER, State.RUNNING, 1, 64)
        assert found.project_hint == "alpha" and found.properties["os_type"] == "exe"
        assert found.disk_gb == Decimal(0)  # shares the host's root: no disk of its own
        # the LXC driver has no bulk domain stats: the per-domain fallback still gives CPU and memory
        (sample,) = driver.samples([ext])
        assert sample.cpu_time_ns > 0
        assert sample.memory_total_mb == Decimal(64) and 0 < sample.memory_used_mb < 64

        driver.act(ext, Action.STOP)
        assert state_of(driver, ext) == State.STOPPED
        driver.act(ext, Action.DELETE)
        assert state_of(driver, ext) is None
    finally:
        try:
            dom = lxc_conn.lookupByName(name)
            if dom.isActive():
                dom.destroy()
            dom.undefine()
        except libvirt.libvirtError:
            pass
