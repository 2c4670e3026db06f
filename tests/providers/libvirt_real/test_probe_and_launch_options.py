"""Test connection and the launch form's choices against a real libvirtd + QEMU (issue 19 items 1
and 3): what the probe says equals what the daemon says, and a volume no guest uses is offered as
an image while one a guest uses is not."""

from __future__ import annotations

import uuid

import pytest

from providers import connection_check
from providers.base import Kind
from providers.libvirt.driver import LibvirtDriver
from tests.providers.libvirt_real.conftest import POOL, QEMU_URI

pytestmark = [pytest.mark.real_libvirt, pytest.mark.integration]


def test_the_probe_reports_the_daemons_own_host_version_and_domains(qemu_conn, guests):
    guests.make(start=False)
    result = connection_check.check("libvirt", {"uri": QEMU_URI}, {})
    assert result.ok, result.message
    probe = result.probe
    major, rest = divmod(qemu_conn.getLibVersion(), 1_000_000)
    minor, micro = divmod(rest, 1000)
    assert probe.version == f"{major}.{minor}.{micro}" and probe.host == qemu_conn.getHostname()
    active, defined = qemu_conn.numOfDomains(), qemu_conn.numOfDefinedDomains()
    assert probe.counts == {"domains": active + defined, "active": active} and defined >= 1
    assert probe.details["hypervisor"] == "QEMU"
    assert f"at {QEMU_URI}" in result.message


def test_launch_options_offer_unused_volumes_and_active_networks(qemu_conn, guests):
    used = guests.make(start=False)
    pool = qemu_conn.storagePoolLookupByName(POOL)
    name = f"gp-t-{uuid.uuid4().hex[:8]}"
    guests.names.append(name)  # removed with the guests
    template = pool.createXML(f"<volume><name>{name}.qcow2</name><capacity unit='MiB'>16</capacity>"
                              "<target><format type='qcow2'/></target></volume>", 0)
    options = LibvirtDriver({"uri": QEMU_URI}).launch_options()
    assert Kind.VM in options.kinds
    offered = {c.value: c.label for c in options.images}
    assert offered.get(template.path()) == f"{POOL}/{name}.qcow2"
    assert pool.storageVolLookupByName(f"{used.name()}.qcow2").path() not in offered  # a guest's disk
    active = sorted(n.name() for n in qemu_conn.listAllNetworks() if n.isActive())
    assert [c.value for c in options.networks] == active
