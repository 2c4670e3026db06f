"""The libvirt driver against a real libvirtd + QEMU: inventory and utilization samples."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from metering import collector
from metering.models import Project, Resource, UtilizationRollup, UtilizationSample
from providers.base import Kind, State
from providers.libvirt.driver import LibvirtDriver
from providers.models import ProviderAccount
from tests.providers.libvirt_real.conftest import QEMU_URI

pytestmark = [pytest.mark.real_libvirt, pytest.mark.integration]
MIB = 1024**2


def find(inventory, uuid):
    return next(r for r in inventory.resources if r.external_id == uuid)


def test_inventory_reads_sizes_disks_nics_and_the_project_hint(guests):
    dom = guests.make(project="alpha", labels={"env": "ci"})
    stopped = guests.make(start=False, project="beta")
    driver = LibvirtDriver({"uri": QEMU_URI})
    inventory = driver.inventory()
    assert inventory.complete and not [i for i in inventory.issues if i.external_id == dom.UUIDString()]

    host = next(r for r in inventory.resources if r.kind == Kind.HOST)
    assert host.vcpus >= 1 and host.ram_mb > 1024
    found = find(inventory, dom.UUIDString())
    assert (found.kind, found.name, found.state) == (Kind.VM, dom.name(), State.RUNNING)
    assert (found.vcpus, found.ram_mb) == (Decimal(1), 128)
    assert found.project_hint == "alpha" and found.labels == {"env": "ci"}
    assert found.parent_external_id == host.external_id
    (disk,) = found.properties["disks"]
    assert disk["capacity_bytes"] == 64 * MIB and disk["capacity_from"] == "pool"
    # a fresh qcow2 takes a few hundred KiB of its 64 MiB
    assert 0 < disk["allocation_bytes"] < 64 * MIB
    assert found.disk_gb == Decimal("0.062")  # 64 MiB, in GiB to three places
    (nic,) = found.properties["nics"]
    assert nic["type"] == "ethernet" and nic["model"] == "virtio" and nic["target"].startswith("vnet")
    assert found.properties["macs"] == [nic["mac"]] and found.properties["domain_id"] == dom.ID()

    off = find(inventory, stopped.UUIDString())
    assert off.state == State.STOPPED and off.project_hint == "beta" and off.ram_mb == 128
    assert off.properties["disks"][0]["capacity_bytes"] == 64 * MIB


def test_samples_come_from_domain_stats_with_every_counter(guests):
    dom = guests.make()
    driver = LibvirtDriver({"uri": QEMU_URI})
    deadline = time.monotonic() + 20
    while True:  # the BIOS reads the boot sector within seconds of starting
        (sample,) = driver.samples([dom.UUIDString()])
        if sample.disk_read_bytes or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert sample.cpu_time_ns > 0
    assert sample.memory_total_mb == Decimal(128)
    assert 1 < sample.memory_used_mb <= 128 + 64  # host-side RSS of a guest sitting in its BIOS
    # a tap device counts what passes (possibly 0 bytes: nothing answers the guest)
    assert sample.disk_read_bytes > 0 and sample.disk_write_bytes is not None
    assert sample.net_rx_bytes is not None and sample.net_tx_bytes is not None


@pytest.mark.django_db
def test_two_refreshes_give_cpu_percent_memory_and_io_rollups(guests):
    dom = guests.make()
    Project.objects.create(slug="alpha", name="Alpha")
    account = ProviderAccount.objects.create(name="kvm-real", kind="libvirt", settings={"uri": QEMU_URI},
                                             refresh_interval=60)
    collector.refresh(account)
    time.sleep(2)
    collector.refresh(account)
    resource = Resource.objects.get(account=account, external_id=dom.UUIDString())
    assert resource.project.slug == "alpha" and resource.state == State.RUNNING
    second = UtilizationSample.objects.filter(resource=resource).order_by("at").last()
    assert second.interval_seconds == pytest.approx(2, abs=1.5)
    cpu_pct = 100 * second.cpu_core_seconds / second.interval_seconds / 1
    assert 0 < cpu_pct <= 100  # a guest in SeaBIOS, emulated: a few percent of its one vCPU
    assert second.net_bytes is not None and second.net_bytes >= 0
    assert second.disk_bytes is not None and second.disk_bytes >= 0
    (rollup,) = UtilizationRollup.objects.filter(resource=resource)
    assert rollup.samples == 2
    assert 0 < rollup.cpu_pct_avg <= 100 and rollup.cpu_pct_max <= 100
    assert 1 < rollup.memory_avg_mb <= 192 and rollup.memory_max_mb >= rollup.memory_avg_mb
    assert rollup.cpu_core_seconds == pytest.approx(second.cpu_core_seconds)
