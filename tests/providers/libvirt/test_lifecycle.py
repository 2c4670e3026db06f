"""Provisioning and actions against the test driver, checked through the next inventory."""

from __future__ import annotations

from decimal import Decimal

import pytest

from devsim.libvirt_nodes import POOL
from providers.base import Kind, ProviderDataError, ProviderError, ProvisionSpec, State, UnsupportedCapability

pytestmark = pytest.mark.integration


def spec(**overrides) -> ProvisionSpec:
    values = dict(
        name="acme-web77777",
        kind=Kind.VM,
        project="acme",
        vcpus=Decimal(2),
        ram_mb=1536,
        disk_gb=Decimal("15.5"),
        labels={"env": "prod", "owner": "ops"},
    )
    values.update(overrides)
    return ProvisionSpec(**values)


def state_of(driver, uuid):
    found = [r for r in driver.inventory().resources if r.external_id == uuid]
    return found[0].state if found else None


def test_provision_defines_and_starts_a_domain(node):
    driver = node.driver()
    created = driver.provision(spec())
    assert (created.kind, created.name, created.state) == (Kind.VM, "acme-web77777", State.RUNNING)
    assert (created.vcpus, created.ram_mb, created.disk_gb) == (Decimal(2), 1536, Decimal("15.500"))
    assert created.project_hint == "acme"
    assert dict(created.labels) == {"env": "prod", "owner": "ops"}
    assert len(created.properties["macs"]) == 1  # on the node's "default" network

    again = {r.external_id: r for r in node.driver().inventory().resources}[created.external_id]
    assert again == created
    volume = (
        driver.connection().storagePoolLookupByName(POOL).storageVolLookupByName("acme-web77777-disk0.qcow2")
    )
    assert volume.info()[1] == int(Decimal("15.5") * 1024**3)


def test_provision_clones_the_image_volume_and_keeps_its_size_when_larger(node):
    driver = node.driver()
    pool = driver.connection().storagePoolLookupByName(POOL)
    pool.createXML("<volume><name>debian-12.qcow2</name><capacity unit='GiB'>30</capacity></volume>", 0)
    created = driver.provision(spec(name="acme-db77778", image="debian-12.qcow2", disk_gb=Decimal(20)))
    assert created.disk_gb == Decimal("30.000")


def test_provision_with_a_taken_name_fails_before_creating_anything(node):
    driver = node.driver()
    taken = node.facts[0]["name"]
    pool = driver.connection().storagePoolLookupByName(POOL)
    volumes_before = sorted(pool.listVolumes())
    with pytest.raises(ProviderDataError, match=f"cannot define domain '{taken}' .*a domain of that name exists"):
        driver.provision(spec(name=taken))
    assert sorted(pool.listVolumes()) == volumes_before


def test_provision_that_fails_after_creating_the_disk_removes_it(node):
    driver = node.driver()
    pool = driver.connection().storagePoolLookupByName(POOL)
    volumes_before = sorted(pool.listVolumes())
    # a control character is not allowed in XML: libvirt refuses the domain after the disk exists
    with pytest.raises(ProviderError, match="failed while provisioning 'acme-web77777'"):
        driver.provision(spec(labels={"note": "bell\x07"}))
    assert sorted(pool.listVolumes()) == volumes_before
    assert all(r.name != "acme-web77777" for r in driver.inventory().resources)


def test_provision_refuses_what_it_cannot_build(node):
    driver = node.driver()
    with pytest.raises(ProviderDataError, match="whole number of vCPUs"):
        driver.provision(spec(vcpus=Decimal("0.5")))
    with pytest.raises(ProviderDataError, match="not a project slug"):
        driver.provision(spec(project="Acme Corp"))
    with pytest.raises(ProviderDataError, match="network 'nope' does not exist"):
        driver.provision(spec(network="nope"))
    with pytest.raises(UnsupportedCapability, match="cannot run containers"):
        driver.provision(spec(kind=Kind.CONTAINER))  # the test hypervisor offers no LXC guests
    assert all(r.name != "acme-web77777" for r in driver.inventory().resources)


def test_actions_change_the_state_seen_by_the_next_inventory(node):
    driver = node.driver(shutdown_timeout=2)
    uuid = driver.provision(spec()).external_id
    driver.act(uuid, "stop")
    assert state_of(driver, uuid) == State.STOPPED
    driver.act(uuid, "stop")  # already stopped: nothing to do
    driver.act(uuid, "start")
    assert state_of(driver, uuid) == State.RUNNING
    driver.act(uuid, "reboot")
    assert state_of(driver, uuid) == State.RUNNING
    driver.connection().lookupByUUIDString(uuid).suspend()
    assert state_of(driver, uuid) == State.PAUSED
    driver.act(uuid, "start")
    assert state_of(driver, uuid) == State.RUNNING
    driver.act(uuid, "delete")
    assert state_of(driver, uuid) is None
    driver.act(uuid, "delete")  # already gone: nothing to do


def test_delete_removes_a_stopped_domain_and_stop_handles_a_paused_one(node):
    driver = node.driver()
    paused = next(f["uuid"] for f in node.facts if f["state"] == State.PAUSED)
    driver.act(paused, "stop")
    assert state_of(driver, paused) == State.STOPPED
    driver.act(paused, "delete")
    assert state_of(driver, paused) is None


def test_actions_on_unknown_domains_and_unknown_actions_fail_clearly(node):
    driver = node.driver()
    with pytest.raises(
        ProviderDataError, match=r"no domain with UUID 00000000-0000-4000-8000-000000000000 at test://"
    ):
        driver.act("00000000-0000-4000-8000-000000000000", "start")
    with pytest.raises(ValueError, match="unknown action 'explode'"):
        driver.act(node.facts[0]["uuid"], "explode")
