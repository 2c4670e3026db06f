"""Every field of a whole inventory, compared with what the driver reported before issue 21's speed-ups.

``golden_inventory.txt`` holds one ``repr()`` per observed domain (types, key order, Decimals and
all), recorded from the driver as it was before its parsing and observation were made faster, on
a generated node plus hand-made domains that reach the corners the generator does not (title and
description, labels, nested and repeated metadata, disks outside every pool, block and network
disks, bridge NICs, a transient and an autostarted domain). A speed-up must not change one byte
of it. Regenerate only for a deliberate change of what is reported:
``GOLDEN_WRITE=1 pytest tests/providers/libvirt/test_inventory_golden.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from providers.libvirt import connection
from providers.libvirt import driver as driver_module

from .conftest import make_node

pytestmark = pytest.mark.integration

GOLDEN = Path(__file__).with_name("golden_inventory.txt")

EXTRA_DOMAINS = (
    # title, description, the labels namespace, a foreign namespace nested and repeated, a comment
    "<domain type='test'><name>odd-one</name><uuid>00000000-0000-4000-8000-000000000001</uuid>"
    "<title> A title </title><description>Line one\nline two</description>"
    "<metadata><!-- a comment -->"
    "<l:labels xmlns:l='https://glasspane.dev/xmlns/labels/1'><l:label key='env'> prod </l:label>"
    "<l:label key='team'>core</l:label><l:label>no key</l:label></l:labels>"
    "<nova:instance xmlns:nova='http://openstack.org/xmlns/libvirt/nova/1.1'><nova:name>vm1</nova:name>"
    "<nova:owner><nova:user uuid='u1'>alice</nova:user><nova:project uuid='p1'>demo</nova:project>"
    "</nova:owner><nova:port uuid='a'/><nova:port uuid='b'/><nova:port uuid='c'>x</nova:port>"
    "<nova:flavor name='m1.small'><nova:memory>2048</nova:memory><nova:empty/></nova:flavor>"
    "</nova:instance>"
    "<glasspane:project xmlns:glasspane='https://glasspane.dev/xmlns/1'>acme</glasspane:project>"
    "</metadata>"
    "<memory unit='GiB'>2</memory><currentMemory unit='MiB'>1536</currentMemory>"
    "<vcpu placement='static' current='2'>4</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>"
    "<devices>"
    "<disk type='file' device='disk'><source file='/elsewhere/loose.img'/><target dev='vda'/></disk>"
    "<disk type='block' device='disk'><source dev='/dev/sdz'/><target dev='vdb'/></disk>"
    "<disk type='network' device='disk'><source protocol='rbd' name='pool/img'/><target dev='vdc'/></disk>"
    "<disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>"
    "<disk type='file' device='floppy'><source file='/floppy.img'/><target dev='fda'/></disk>"
    "<disk type='block' device='lun'><source dev='/dev/sdy'/><target dev='sda'/></disk>"
    "<interface type='bridge'><mac address='52:54:00:AA:BB:CC'/><source bridge='br0'/>"
    "<model type='e1000'/></interface>"
    "<interface type='direct'><mac address='52:54:00:00:00:01'/><source dev='eth0' mode='vepa'/></interface>"
    "<interface type='user'><mac address='52:54:00:00:00:02'/></interface>"
    "</devices></domain>",
    # no currentMemory, no vcpu, no os type arch, no metadata: every default
    "<domain type='test'><name>bare-one</name><uuid>00000000-0000-4000-8000-000000000002</uuid>"
    "<memory>524288</memory><os><type>hvm</type></os></domain>",
    # a bad hint with nested elements
    "<domain type='test'><name>nested-hint</name><uuid>00000000-0000-4000-8000-000000000003</uuid>"
    "<metadata><glasspane:project xmlns:glasspane='https://glasspane.dev/xmlns/1'>a<b/></glasspane:project>"
    "</metadata><memory unit='M'>1000</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>",
)


def snapshot(node) -> list[str]:
    """The node's inventory as text: one line per domain (sorted), then issues and completeness."""
    inventory = node.driver().inventory()
    lines = sorted(repr(r) for r in inventory.resources if r.kind != "host")
    lines += sorted(repr(i) for i in inventory.issues)
    lines.append(f"complete={inventory.complete}")
    return lines


@pytest.fixture
def golden_node(tmp_path):
    node = make_node(tmp_path / "node.xml", 90, seed=21, bad_metadata=2)
    conn = node.driver().connection()
    for xml in EXTRA_DOMAINS:
        conn.defineXML(xml)
    conn.lookupByName("odd-one").create()
    conn.lookupByName("bare-one").setAutostart(1)
    conn.createXML(  # transient, running
        "<domain type='test'><name>transient-one</name><uuid>00000000-0000-4000-8000-000000000004</uuid>"
        "<memory unit='MiB'>256</memory><vcpu>1</vcpu><os><type>hvm</type></os>"
        "<devices><disk type='volume' device='disk'><source pool='glasspane' volume='nope'/>"
        "<target dev='vda'/></disk></devices></domain>", 0)
    yield node
    connection.forget(node.uri)


@pytest.mark.parametrize("cache", ["cold", "warm"])
def test_the_inventory_is_what_it_was_before_the_speed_ups(golden_node, cache):
    driver_module._parsed.pop(golden_node.uri)
    if cache == "warm":
        snapshot(golden_node)  # the second inventory reuses what the first one parsed
    got = snapshot(golden_node)
    if os.environ.get("GOLDEN_WRITE"):
        GOLDEN.write_text("\n".join(got) + "\n", encoding="utf-8")
    want = GOLDEN.read_text(encoding="utf-8").splitlines()
    assert len(got) == len(want)
    for got_line, want_line in zip(got, want, strict=True):
        assert got_line == want_line
