"""Domain XML parsing, state mapping and memory arithmetic: pure functions, no hypervisor."""

from __future__ import annotations

from decimal import Decimal

import libvirt
import pytest

from providers.base import Kind, ProviderDataError, State
from providers.libvirt.domains import kind_of, map_state, parse_domain, to_kib
from providers.libvirt.stats import memory_mb

NOVA_DOMAIN = """
<domain type='kvm' id='7'>
  <name>instance-0000002a</name>
  <uuid>0D3F2C6E-1111-4222-8333-944455556666</uuid>
  <title>web server</title>
  <metadata>
    <nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
      <nova:name>web-1</nova:name>
      <nova:owner>
        <nova:user uuid="u-1">alice</nova:user>
        <nova:project uuid="p-1">demo</nova:project>
      </nova:owner>
      <nova:port uuid="a"/>
      <nova:port uuid="b"/>
    </nova:instance>
    <glasspane:project xmlns:glasspane="https://glasspane.dev/xmlns/1">demo-team</glasspane:project>
    <l:labels xmlns:l="https://glasspane.dev/xmlns/labels/1"><l:label key="env">prod</l:label></l:labels>
  </metadata>
  <memory unit='GiB'>4</memory>
  <currentMemory unit='MiB'>3072</currentMemory>
  <vcpu placement='static' current='2'>4</vcpu>
  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><source file='/var/lib/libvirt/images/a.qcow2'/><target dev='vda'/></disk>
    <disk type='volume' device='disk'><source pool='default' volume='b.qcow2'/><target dev='vdb'/></disk>
    <disk type='file' device='cdrom'><target dev='sda'/></disk>
    <interface type='bridge'><mac address='52:54:00:AA:BB:CC'/><source bridge='br0'/><model type='virtio'/>
      <target dev='vnet3'/></interface>
  </devices>
</domain>
"""


def test_parse_reads_sizes_devices_and_metadata():
    facts = parse_domain(NOVA_DOMAIN)
    assert (facts.uuid, facts.name, facts.domain_type, facts.kind) == (
        "0D3F2C6E-1111-4222-8333-944455556666",
        "instance-0000002a",
        "kvm",
        Kind.VM,
    )
    assert (facts.vcpus, facts.max_vcpus) == (2, 4)
    assert (facts.memory_kib, facts.max_memory_kib) == (3072 * 1024, 4 * 1024 * 1024)
    assert [(d.target, d.device, d.path, d.pool, d.volume, d.counts) for d in facts.disks] == [
        ("vda", "disk", "/var/lib/libvirt/images/a.qcow2", None, None, True),
        ("vdb", "disk", None, "default", "b.qcow2", True),
        ("sda", "cdrom", None, None, None, False),
    ]
    assert [(n.mac, n.type, n.source, n.model, n.target) for n in facts.nics] == [
        ("52:54:00:aa:bb:cc", "bridge", "br0", "virtio", "vnet3")
    ]
    assert facts.project_hint == "demo-team" and facts.metadata_problem is None
    assert facts.labels == {
        "instance.name": "web-1",
        "instance.owner.user": "alice",
        "instance.owner.user@uuid": "u-1",
        "instance.owner.project": "demo",
        "instance.owner.project@uuid": "p-1",
        "instance.port@uuid": "a",
        "instance.port#2@uuid": "b",
        "env": "prod",
    }
    assert facts.title == "web server" and facts.domain_id == 7 and facts.arch == "x86_64"


def test_defaults_when_optional_elements_are_missing():
    facts = parse_domain("<domain type='lxc'><name>c</name><uuid>u</uuid><memory>1024</memory></domain>")
    assert (facts.vcpus, facts.max_vcpus, facts.memory_kib, facts.kind) == (1, 1, 1024, Kind.CONTAINER)
    assert facts.project_hint is None and facts.labels == {} and facts.domain_id is None


@pytest.mark.parametrize(
    "xml, message",
    [
        ("<domain><name>a", "not well-formed"),
        ("<network><name>a</name></network>", "expected a <domain> document"),
        ("<domain><name>a</name><memory>1</memory></domain>", "no <uuid>"),
        ("<domain><name>a</name><uuid>u</uuid></domain>", "has no <memory>"),
        ("<domain><name>a</name><uuid>u</uuid><memory unit='parsecs'>1</memory></domain>", "not a size"),
        (
            "<domain><name>a</name><uuid>u</uuid><memory>1</memory><vcpu>two</vcpu></domain>",
            "not a whole number",
        ),
    ],
)
def test_malformed_domain_xml_is_a_data_error(xml, message):
    with pytest.raises(ProviderDataError, match=message):
        parse_domain(xml)


@pytest.mark.parametrize(
    "inner, found",
    [("Acme Corp", "'Acme Corp'"), ("", "''"), ("<x>acme</x>", "nested elements")],
)
def test_a_project_hint_that_is_not_a_slug_is_a_problem_not_a_hint(inner, found):
    xml = (
        "<domain><name>a</name><uuid>u</uuid><memory>1</memory><metadata>"
        f"<g:project xmlns:g='https://glasspane.dev/xmlns/1'>{inner}</g:project></metadata></domain>"
    )
    facts = parse_domain(xml)
    assert facts.project_hint is None
    assert f"found {found}" in facts.metadata_problem and "domain a:" in facts.metadata_problem


def test_states_map_as_documented():
    assert [
        map_state(getattr(libvirt, f"VIR_DOMAIN_{name}"))
        for name in (
            "NOSTATE",
            "RUNNING",
            "BLOCKED",
            "PAUSED",
            "SHUTDOWN",
            "SHUTOFF",
            "CRASHED",
            "PMSUSPENDED",
        )
    ] == [
        State.UNKNOWN,
        State.RUNNING,
        State.RUNNING,
        State.PAUSED,
        State.STOPPED,
        State.STOPPED,
        State.CRASHED,
        State.SUSPENDED,
    ]
    assert map_state(99) == State.UNKNOWN
    assert (kind_of("lxc"), kind_of("kvm"), kind_of("qemu")) == (Kind.CONTAINER, Kind.VM, Kind.VM)


def test_sizes_in_every_unit():
    assert to_kib("2", "GiB", "x") == 2 * 1024 * 1024
    assert to_kib("1", "G", "x") == 1024 * 1024
    assert to_kib("1000", "KB", "x") == 976
    assert to_kib("2048", "bytes", "x") == 2
    assert to_kib("5", None, "x") == 5


def test_memory_prefers_guest_figures_net_of_cache():
    assert memory_mb(
        {"actual": 2048 * 1024, "available": 2000 * 1024, "usable": 1500 * 1024, "unused": 100}
    ) == (Decimal(500), Decimal(2048))
    assert memory_mb({"actual": 2048 * 1024, "unused": 1024 * 1024}) == (Decimal(1024), Decimal(2048))
    assert memory_mb({"actual": 1024 * 1024, "rss": 300 * 1024}) == (Decimal(300), Decimal(1024))
    assert memory_mb({}) == (None, None)


def _path_oracle(xml: str) -> tuple:
    """What ElementTree's path lookups (``find("os/type")``, ``iterfind("devices/disk")``...) read:
    the one-pass reading of ``parse_domain`` must pick exactly the same elements."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(xml)

    def text(element):
        return (element.text or "").strip() if element is not None else ""

    def attrs(element):
        return dict(element.attrib) if element is not None else {}

    os_type = root.find("os/type")
    return (
        [text(root.find(tag)) for tag in ("uuid", "name", "title", "description", "vcpu")],
        [(root.find(tag).text, attrs(root.find(tag))) for tag in ("memory", "currentMemory") if root.find(tag) is not None],
        text(os_type), attrs(os_type).get("arch", ""),
        [(attrs(d), attrs(d.find("source")), attrs(d.find("target"))) for d in root.iterfind("devices/disk")],
        [tuple(attrs(n.find(t)) for t in ("mac", "source", "model", "target")) + (attrs(n),)
         for n in root.iterfind("devices/interface")],
    )


#: repeated and misplaced elements: the first of each counts, as ``find`` has it, and only where
#: the path says (a <disk> outside <devices>, a <type> outside <os> are not read)
REPEATS = """
<domain type='kvm'>
  <name> first </name><name>second</name>
  <uuid>u-1</uuid><uuid>u-2</uuid>
  <title>t1<b>bold</b>tail</title><title>t2</title>
  <memory unit='MiB'>512</memory><memory unit='MiB'>1024</memory>
  <vcpu>2</vcpu><vcpu>4</vcpu>
  <type>not-os</type>
  <os><boot dev='hd'/></os>
  <os><type arch='aarch64'>hvm</type><type arch='x86_64'>other</type></os>
  <disk type='file' device='disk'><source file='/not/in/devices'/><target dev='zz'/></disk>
  <devices>
    <disk type='file' device='disk'>
      <source file='/a'/><source file='/b'/><target dev='vda'/><target dev='vdz'/>
      <driver><source file='/nested'/></driver>
    </disk>
    <controller type='usb'/>
    <interface type='network'><mac address='52:54:00:00:00:AA'/><mac address='52:54:00:00:00:bb'/>
      <source network='n1'/><target dev='vnet0'/></interface>
  </devices>
  <devices>
    <interface type='bridge'><source bridge='br0'/></interface>
    <disk type='volume' device='cdrom'><source pool='p' volume='v'/></disk>
    <disk device='disk'/>
  </devices>
</domain>
"""


@pytest.mark.parametrize("xml", [NOVA_DOMAIN, REPEATS], ids=["nova", "repeats"])
def test_the_one_pass_reading_picks_what_path_lookups_pick(xml):
    """Issue 21 made ``parse_domain`` read each level once instead of by path expressions."""
    facts = parse_domain(xml)
    texts, memories, os_type, arch, disks, nics = _path_oracle(xml)
    assert [facts.uuid, facts.name, facts.title, facts.description, str(facts.max_vcpus)] == texts
    assert facts.max_memory_kib == to_kib(memories[0][0], memories[0][1].get("unit"), "x")
    assert (facts.os_type, facts.arch) == (os_type, arch)
    assert [(d.device, d.source_type, d.path or d.pool, d.target) for d in facts.disks] == [
        (a.get("device", "disk"), a.get("type", "file"), s.get("file") or s.get("pool"), t.get("dev", ""))
        for a, s, t in disks
    ]
    assert [(n.mac, n.source, n.target) for n in facts.nics] == [
        (m.get("address", "").lower(), s.get("network") or s.get("bridge") or "", t.get("dev", ""))
        for m, s, _model, t, _attrs in nics
    ]


def test_repeated_elements_read_as_find_reads_them():
    facts = parse_domain(REPEATS)
    assert (facts.name, facts.uuid, facts.title) == ("first", "u-1", "t1")
    assert (facts.max_memory_kib, facts.max_vcpus, facts.os_type, facts.arch) == (512 * 1024, 2, "hvm", "aarch64")
    assert [(d.target, d.path, d.pool) for d in facts.disks] == [("vda", "/a", None), ("", None, "p"), ("", None, None)]
    assert [(n.mac, n.source, n.target) for n in facts.nics] == [
        ("52:54:00:00:00:aa", "n1", "vnet0"), ("", "br0", "")
    ]
    assert (facts.block_targets, facts.nic_targets) == (("vda", ""), ("vnet0", ""))
