"""Inventory of a generated test-driver node, compared fact by fact, and how it follows changes."""

from __future__ import annotations

from decimal import Decimal

import libvirt
import pytest

from devsim.libvirt_nodes import NAME_PATTERN
from providers.base import Kind, State
from providers.libvirt.driver import LibvirtDriver

from .conftest import HOST_CPUS, HOST_MEMORY_MB

pytestmark = pytest.mark.integration


def by_id(inventory):
    return {r.external_id: r for r in inventory.resources}


def test_inventory_matches_the_generated_node_exactly(big_node):
    inventory = big_node.driver().inventory()

    hosts = [r for r in inventory.resources if r.kind == Kind.HOST]
    assert len(hosts) == 1
    host = hosts[0]
    assert host.vcpus == Decimal(HOST_CPUS) and host.ram_mb == HOST_MEMORY_MB
    assert host.properties["hypervisor_type"] == "TEST"
    assert host.properties["libvirt_version"].count(".") == 2

    domains = {r.external_id: r for r in inventory.resources if r.kind != Kind.HOST}
    assert set(domains) == set(big_node.by_uuid)
    for uuid, fact in big_node.by_uuid.items():
        got = domains[uuid]
        assert (got.name, got.kind, got.state) == (fact["name"], fact["kind"], fact["state"]), uuid
        assert got.vcpus == Decimal(fact["vcpus"]) and got.properties["max_vcpus"] == fact["max_vcpus"]
        assert got.ram_mb == fact["ram_mb"] and got.properties["max_memory_mb"] == fact["max_ram_mb"]
        assert got.disk_gb == fact["disk_gb"]
        counted = {d["target"]: d["capacity_bytes"] for d in got.properties["disks"] if d["device"] == "disk"}
        assert counted == fact["disks"]
        assert got.project_hint == fact["project"]
        assert got.parent_external_id == host.external_id
        assert got.properties["macs"] == fact["macs"]
        assert dict(got.labels) == fact["labels"]
        assert got.properties["autostart"] is False and got.properties["persistent"] is True
    assert inventory.complete is True


def test_every_state_and_both_kinds_are_covered(big_node):
    """The generator must exercise what the comparison above claims to check."""
    states = {f["state"] for f in big_node.facts}
    assert states == {State.RUNNING, State.PAUSED, State.STOPPED, State.CRASHED, State.SUSPENDED}
    assert {f["kind"] for f in big_node.facts} == {Kind.VM, Kind.CONTAINER}
    assert any(f["project"] is None and not f["bad_metadata"] for f in big_node.facts)


def test_domains_without_a_hint_keep_a_name_the_collector_can_map(big_node):
    import re

    domains = by_id(big_node.driver().inventory())
    unlabelled = [f for f in big_node.facts if f["project"] is None]
    assert unlabelled
    for fact in unlabelled:
        assert domains[fact["uuid"]].project_hint is None
        assert re.match(NAME_PATTERN, domains[fact["uuid"]].name).group("project") == fact["name_project"]


def test_a_hint_that_is_not_a_slug_is_an_issue_and_the_domain_is_still_reported(big_node):
    inventory = big_node.driver().inventory()
    bad = {f["uuid"] for f in big_node.facts if f["bad_metadata"]}
    assert len(bad) == 2
    assert {i.external_id for i in inventory.issues} == bad
    for issue in inventory.issues:
        assert "glasspane:project" in issue.message and "'Not a slug!'" in issue.message
    domains = by_id(inventory)
    assert all(domains[uuid].project_hint is None for uuid in bad)


def test_changes_made_through_the_connection_show_in_the_next_inventory(node):
    driver = node.driver()
    before = by_id(driver.inventory())
    conn = driver.connection()
    running = [f for f in node.facts if f["state"] == State.RUNNING and f["kind"] == Kind.VM]
    stopped = [f for f in node.facts if f["state"] == State.STOPPED]
    to_destroy, to_resize = running[0], running[1]
    to_undefine = stopped[0]

    conn.lookupByUUIDString(to_destroy["uuid"]).destroy()
    conn.lookupByUUIDString(to_undefine["uuid"]).undefine()
    resized = conn.lookupByUUIDString(to_resize["uuid"])
    resized.setVcpusFlags(1, libvirt.VIR_DOMAIN_AFFECT_LIVE)
    resized.setMemoryFlags(256 * 1024, libvirt.VIR_DOMAIN_AFFECT_LIVE)
    new = conn.defineXML(
        "<domain type='test'><name>acme-web99999</name><memory unit='MiB'>768</memory><vcpu>3</vcpu>"
        "<metadata><glasspane:project xmlns:glasspane='https://glasspane.dev/xmlns/1'>globex"
        "</glasspane:project></metadata><os><type>hvm</type></os></domain>"
    )
    driver.close()

    after = by_id(node.driver().inventory())  # a new driver instance, as the next refresh is
    assert before[to_destroy["uuid"]].state == State.RUNNING
    assert after[to_destroy["uuid"]].state == State.STOPPED
    assert to_undefine["uuid"] in before and to_undefine["uuid"] not in after
    assert (after[to_resize["uuid"]].vcpus, after[to_resize["uuid"]].ram_mb) == (Decimal(1), 256)
    added = after[new.UUIDString()]
    assert (added.state, added.vcpus, added.ram_mb, added.project_hint) == (
        State.STOPPED,
        Decimal(3),
        768,
        "globex",
    )
    assert added.disk_gb == Decimal("0.000")  # no disks at all: nothing allocated

    new.create()
    assert by_id(node.driver().inventory())[new.UUIDString()].state == State.RUNNING


class UndefiningAfterListing(LibvirtDriver):
    """Undefines one domain between the listing and the per-domain reads, as a racing admin would."""

    victim: str = ""

    def _listing(self, conn):
        listing = super()._listing(conn)
        dom = conn.lookupByUUIDString(self.victim)
        if dom.isActive():
            dom.destroy()
        dom.undefine()
        return listing


def test_a_domain_that_vanishes_during_enumeration_is_skipped(node):
    victim = node.facts[5]["uuid"]
    driver = UndefiningAfterListing({"uri": node.uri})
    driver.victim = victim
    inventory = driver.inventory()
    ids = {r.external_id for r in inventory.resources}
    assert victim not in ids
    assert len(ids) == len(node.facts)  # the other domains plus the host
    assert inventory.issues == [] and inventory.complete is True


def test_a_domain_with_a_disk_outside_every_pool_reports_it_as_unknown(node):
    driver = node.driver()
    dom = driver.connection().defineXML(
        "<domain type='test'><name>loose</name><memory>1048576</memory><vcpu>1</vcpu><os><type>hvm</type></os>"
        "<devices><disk type='file' device='disk'><source file='/elsewhere/loose.img'/>"
        "<target dev='vda' bus='virtio'/></disk></devices></domain>"
    )
    got = by_id(driver.inventory())[dom.UUIDString()]
    assert got.disk_gb == Decimal("0.000")
    assert got.properties["disk_capacity_unknown"] == ["vda"]


def test_a_steady_state_inventory_parses_only_domains_whose_xml_changed(node, monkeypatch):
    """Issue 21: unchanged domain XML is not parsed again; a changed domain is, and shows the change."""
    from providers.libvirt import driver as driver_module

    parsed = []
    real = driver_module.parse_domain
    monkeypatch.setattr(driver_module, "parse_domain", lambda xml: parsed.append(xml) or real(xml))
    driver_module._parsed.pop(node.uri)
    driver = node.driver()
    first = {r.external_id: r for r in driver.inventory().resources}
    domains = len(first) - 1  # less the host
    assert len(parsed) == domains
    again = {r.external_id: r for r in driver.inventory().resources}
    assert len(parsed) == domains  # nothing parsed: every XML was the same
    assert again == first

    conn = driver.connection()
    running = next(d for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)
                   if first[d.UUIDString()].vcpus > 1)
    running.setVcpusFlags(1, libvirt.VIR_DOMAIN_AFFECT_LIVE)
    third = {r.external_id: r for r in driver.inventory().resources}
    assert len(parsed) == domains + 1  # only the resized domain
    assert third[running.UUIDString()].vcpus == 1


def test_the_next_refresh_reuses_the_parsed_domains_until_their_xml_changes(node, monkeypatch):
    """Issue 21: the parsed facts are kept per URI, so a new driver (the next refresh in the same
    worker) parses nothing unchanged; edited metadata changes the XML, which is parsed again, and a
    domain that is gone leaves nothing behind."""
    from providers.libvirt import driver as driver_module

    parsed = []
    real = driver_module.parse_domain
    monkeypatch.setattr(driver_module, "parse_domain", lambda xml: parsed.append(xml) or real(xml))
    driver_module._parsed.pop(node.uri)
    first = by_id(node.driver().inventory())
    domains = len(first) - 1
    assert len(parsed) == domains

    conn = node.driver().connection()
    stopped = [f["uuid"] for f in node.facts if f["state"] == State.STOPPED]
    edited, gone = conn.lookupByUUIDString(stopped[0]), conn.lookupByUUIDString(stopped[1])
    edited.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, "<project>initech</project>", "glasspane",
                       "https://glasspane.dev/xmlns/1", libvirt.VIR_DOMAIN_AFFECT_CONFIG)
    gone.undefine()
    parsed.clear()
    second = by_id(node.driver().inventory())
    assert parsed == [edited.XMLDesc(0)]  # the edited domain only
    assert second[stopped[0]].project_hint == "initech" and stopped[1] not in second
    kept = driver_module._parsed.get(node.uri)
    assert len(kept) == domains - 1 and {seen.facts.uuid for seen in kept.values()} == set(second) - {
        r.external_id for r in second.values() if r.kind == Kind.HOST
    }


def test_an_unchanged_domain_is_not_observed_again_and_any_change_of_its_inputs_is_seen(node):
    """Issue 21: a domain whose XML, state, autostart, persistence, host and disk sizes are all as
    the last refresh saw them is reported with the same (read-only) observation; a change of any
    one of them makes a new one that shows it."""
    driver = node.driver()
    first = by_id(driver.inventory())
    again = by_id(driver.inventory())
    assert again == first and all(again[i] is first[i] for i in first if first[i].kind != Kind.HOST)

    conn = driver.connection()
    vms = [f for f in node.facts if f["kind"] == Kind.VM and f["disks"]]
    running = next(f["uuid"] for f in vms if f["state"] == State.RUNNING)
    stopped = [f["uuid"] for f in vms if f["state"] == State.STOPPED]
    conn.lookupByUUIDString(running).suspend()  # state only: the XML stays the same
    conn.lookupByUUIDString(stopped[0]).setAutostart(1)
    shrunk = next(f for f in vms if f["uuid"] == stopped[1])
    pool = conn.storagePoolLookupByName("glasspane")
    pool.storageVolLookupByName(f"{shrunk['name']}-disk0.qcow2").delete(0)  # its first disk leaves the pool
    third = by_id(driver.inventory())
    changed = {running, stopped[0], stopped[1]}
    assert third[running].state == State.PAUSED and third[running].properties["state_code"] == 3
    assert third[stopped[0]].properties["autostart"] is True
    assert third[stopped[1]].properties["disks"][0]["capacity_bytes"] is None
    assert third[stopped[1]].disk_gb < first[stopped[1]].disk_gb
    assert all(third[i] is not first[i] for i in changed)
    assert all(third[i] is first[i] for i in first if i not in changed and first[i].kind != Kind.HOST)


def test_the_parsed_domains_kept_are_bounded_by_dropping_the_uri_refreshed_longest_ago():
    from providers.libvirt.driver import ParsedDomains

    kept = ParsedDomains(budget=5)
    kept.put("test:///a", {"a1": 1, "a2": 2})
    kept.put("test:///b", {"b1": 1, "b2": 2})
    kept.put("test:///a", {"a1": 1, "a2": 2, "a3": 3})  # refreshed again: now the newest
    assert kept.get("test:///b") and kept.get("test:///a")
    kept.put("test:///c", {"c1": 1})  # 6 > 5: b, refreshed longest ago, goes
    assert kept.get("test:///b") == {} and len(kept.get("test:///a")) == 3 and kept.get("test:///c")
    kept.put("test:///d", {f"d{i}": i for i in range(9)})  # one URI over the budget is still kept
    assert len(kept.get("test:///d")) == 9 and kept.get("test:///a") == {} and kept.get("test:///c") == {}


def test_samples_reuse_the_inventorys_parsed_domains(node, monkeypatch):
    """Issue 21: the per-domain fallback of ``samples()`` (device names for block and interface
    stats) reuses the facts the inventory parsed from the same XML instead of parsing it again."""
    from providers.libvirt import domains
    from providers.libvirt import driver as driver_module

    driver_module._parsed.pop(node.uri)
    driver = node.driver()
    driver.inventory()
    parsed = []
    real = domains.parse_domain
    from providers.libvirt import stats as stats_module

    for module in (driver_module, stats_module):
        monkeypatch.setattr(module, "parse_domain", lambda xml: parsed.append(xml) or real(xml))
    samples = driver.samples()
    assert samples and parsed == []
    assert all(s.disk_read_bytes is not None for s in samples)
