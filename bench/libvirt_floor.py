"""The floor for a libvirt refresh: the bare libvirt calls that ``LibvirtDriver.inventory()`` and
``samples()`` make, with no parsing and no dataclasses, so the driver's overhead can be measured.

``bare_calls(uri)`` opens its own connection (timed apart), then makes the same calls as the
driver: host facts, the bulk domain listing with states, autostart and transient listings, every
storage volume's capacity, one ``XMLDesc`` per domain; then bulk stats of active domains and the
per-domain fallbacks the test driver needs (``info``, ``memoryStats``, ``blockStats`` and
``interfaceStats`` per device, found with a regex instead of an XML parser).

Run ``python -m bench.libvirt_floor [DOMAINS] [ROUNDS]`` to compare on a generated node (default
2000 domains); with ROUNDS, ``best_of()`` also reports the driver's steady state, best of ROUNDS.
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from pathlib import Path

import libvirt

from providers.libvirt import connection  # noqa: F401  (silences libvirt's stderr error handler)

_DISK = re.compile(r"<disk [^>]*device='disk'.*?<target dev='([^']+)'", re.S)
_NIC = re.compile(r"<interface .*?<target dev='([^']+)'", re.S)
_GROUPS = (
    libvirt.VIR_DOMAIN_STATS_STATE
    | libvirt.VIR_DOMAIN_STATS_CPU_TOTAL
    | libvirt.VIR_DOMAIN_STATS_BALLOON
    | libvirt.VIR_DOMAIN_STATS_BLOCK
    | libvirt.VIR_DOMAIN_STATS_INTERFACE
)


def bare_calls(uri: str) -> dict:
    """Seconds spent connecting, on the inventory calls and on the sample calls; domain count."""
    started = time.perf_counter()
    conn = libvirt.open(uri)
    connected = time.perf_counter()

    conn.getHostname(), conn.getInfo(), conn.getCapabilities(), conn.getType(), conn.getLibVersion()
    conn.getVersion()
    try:
        conn.getSysinfo(0)
    except libvirt.libvirtError:
        pass
    listing = conn.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_STATE, 0)
    conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_AUTOSTART)
    conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_TRANSIENT)
    for pool in conn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE):
        for volume in pool.listAllVolumes(0):
            volume.info(), volume.path()
    for dom, _ in listing:
        dom.XMLDesc(0)
    inventoried = time.perf_counter()

    for dom, record in conn.getAllDomainStats(_GROUPS, libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE):
        if "cpu.time" not in record:
            dom.info()
        if "balloon.current" not in record:
            dom.memoryStats()
        if "block.count" not in record or "net.count" not in record:
            xml = dom.XMLDesc(0)
            for target in _DISK.findall(xml):
                dom.blockStats(target)
            for target in _NIC.findall(xml):
                dom.interfaceStats(target)
    sampled = time.perf_counter()
    conn.close()
    return {
        "connect": connected - started,
        "inventory": inventoried - connected,
        "samples": sampled - inventoried,
        "domains": len(listing),
    }


def compare(domains: int = 2000) -> dict:
    """Generate a node, then time the bare calls and the driver on it (connections pre-opened)."""
    from devsim.libvirt_nodes import write_node_xml
    from providers.libvirt.driver import LibvirtDriver

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "node.xml"
        write_node_xml(path, domains, ["acme", "globex", "initech", "umbrella"], seed=1)
        uri = f"test://{path}"
        floor = bare_calls(uri)
        driver = LibvirtDriver({"uri": uri})
        driver.health()  # open the cached connection outside the timing, as bare_calls does
        started = time.perf_counter()
        inventory = driver.inventory()
        inventoried = time.perf_counter()
        samples = driver.samples()
        sampled = time.perf_counter()
        connection.forget(uri)
    return {
        "domains": floor["domains"],
        "floor": floor,
        "driver": {
            "inventory": inventoried - started,
            "samples": sampled - inventoried,
            "resources": len(inventory.resources),
            "sampled": len(samples),
        },
    }


def best_of(domains: int = 2000, rounds: int = 5) -> dict:
    """Reporting only (the floor is ``bare_calls`` as above): the best of ``rounds`` of the bare calls
    and of the driver's first inventory (nothing parsed yet), its next one (steady state: a worker
    refreshing the same host again) and its samples, all on one generated node."""
    from devsim.libvirt_nodes import write_node_xml
    from providers.libvirt.driver import LibvirtDriver, forget_parsed

    best = {"floor inventory": [], "floor samples": [], "first inventory": [], "steady inventory": [],
            "samples": []}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "node.xml"
        write_node_xml(path, domains, ["acme", "globex", "initech", "umbrella"], seed=1)
        uri = f"test://{path}"
        driver = LibvirtDriver({"uri": uri})
        driver.health()  # the driver's cached connection, opened outside the timing
        for _ in range(rounds):
            floor = bare_calls(uri)
            best["floor inventory"].append(floor["inventory"])
            best["floor samples"].append(floor["samples"])
            forget_parsed(uri)
            for label, call in (("first inventory", driver.inventory), ("steady inventory", driver.inventory),
                                ("samples", driver.samples)):
                started = time.perf_counter()
                call()
                best[label].append(time.perf_counter() - started)
        forget_parsed(uri)
        connection.forget(uri)
    return {label: min(seconds) for label, seconds in best.items()}


if __name__ == "__main__":
    domains = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    if len(sys.argv) > 2:
        best = best_of(domains, int(sys.argv[2]))
        bare_inventory, bare_samples = best["floor inventory"], best["floor samples"]
        print(f"{domains} domains, best of {sys.argv[2]} rounds (seconds; x the bare calls)")
        print(f"inventory: bare calls {bare_inventory:.3f}, driver first {best['first inventory']:.3f} "
              f"({best['first inventory'] / bare_inventory:.2f}x), steady {best['steady inventory']:.3f} "
              f"({best['steady inventory'] / bare_inventory:.2f}x)")
        print(f"samples:   bare calls {bare_samples:.3f}, driver {best['samples']:.3f} "
              f"({best['samples'] / bare_samples:.2f}x)")
        sys.exit()
    result = compare(domains)
    floor, driver = result["floor"], result["driver"]
    print(f"{result['domains']} domains; connect (parses the node XML) {floor['connect']:.3f} s")
    print(f"inventory: bare calls {floor['inventory']:.3f} s, driver {driver['inventory']:.3f} s")
    print(f"samples:   bare calls {floor['samples']:.3f} s, driver {driver['samples']:.3f} s")
