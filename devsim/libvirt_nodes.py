"""Write a node XML for libvirt's test driver, holding many generated domains, and say what is in it.

``libvirt.open("test:///ABS/PATH/node.xml")`` serves the file as a whole hypervisor: host CPUs and
memory (``<cpu>``, ``<memory>``), networks, storage pools with volumes, SASL-like users
(``<auth><user password=..>``) and domains, whose run state comes from the test namespace element
``<test:runstate>`` (a ``VIR_DOMAIN_*`` number). Tests, the demo seeding and the benchmarks use it.

Disk sizes: the test driver cannot open image files, so every generated disk is a volume of the
pool ``glasspane`` (declared in the same file with its ``<capacity>``). Most disks point at the
volume's path (``<disk type='file'>``, as on a typical KVM host), some name it by pool and volume
(``<disk type='volume'>``); a few domains also have a CD-ROM, which is not allocated storage.

``write_node_xml()`` returns one dict per domain with the facts the driver should report, so a
test can compare the whole inventory exactly. Generation is deterministic for a given ``seed``.
"""

from __future__ import annotations

import random
import uuid as uuidlib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from providers.base import Kind, State

GLASSPANE_NS = "https://glasspane.dev/xmlns/1"
TEST_NS = "http://libvirt.org/schemas/domain/test/1.0"
APP_NS = "https://example.com/app/1"
POOL = "glasspane"
POOL_PATH = "/var/lib/glasspane/images"
NETWORK = "default"
ROLES = ("web", "db", "cache", "batch", "ci")
#: name pattern of every generated domain; the project is the part before the role
NAME_PATTERN = r"^(?P<project>.+)-(web|db|cache|batch|ci)\d+$"

# (VIR_DOMAIN_* run state, State, weight)
_STATES = (
    (1, State.RUNNING, 55),
    (3, State.PAUSED, 10),
    (5, State.STOPPED, 30),
    (6, State.CRASHED, 3),
    (7, State.SUSPENDED, 2),
)
_GIB = 1024**3
_DISK_SIZES = (10 * _GIB, 20 * _GIB, 40 * _GIB, 80 * _GIB, 160 * _GIB, 5 * _GIB // 2)


def write_node_xml(
    path: str | Path,
    domains: int,
    projects: list[str],
    seed: int = 0,
    *,
    unlabeled_share: float = 0.1,
    container_share: float = 0.05,
    bad_metadata: int = 0,
    auth: Mapping[str, str] | None = None,
    host_cpus: int = 64,
    host_memory_mb: int = 256 * 1024,
) -> list[dict]:
    """Write the node XML to ``path``; return the expected facts of each domain, in file order.

    Each fact dict has ``uuid``, ``name``, ``kind``, ``domain_type``, ``state`` (a ``State``),
    ``runstate`` (libvirt's number), ``vcpus``/``max_vcpus`` (int), ``ram_mb``/``max_ram_mb``,
    ``disk_gb`` (Decimal GiB, 3 places), ``disks`` (target -> capacity bytes), ``macs``,
    ``project`` (the metadata hint or None), ``name_project`` (the project the name starts with),
    ``labels`` and ``bad_metadata`` (True for the first ``bad_metadata`` labelled domains, whose
    hint is not a slug, so the driver reports an issue and no hint).
    ``host_cpus`` must be a multiple of 4 (2 sockets x 2 threads).
    """
    if not projects:
        raise ValueError("give at least one project slug")
    if host_cpus % 4:
        raise ValueError("host_cpus must be a multiple of 4")
    rng = random.Random(seed)
    facts: list[dict] = []
    domain_xml: list[str] = []
    volume_xml: list[str] = []
    bad_left = bad_metadata
    for i in range(domains):
        fact, dom, volumes = _domain(rng, i, projects, unlabeled_share, container_share, bad_left > 0)
        if fact["bad_metadata"]:
            bad_left -= 1
        facts.append(fact)
        domain_xml.append(dom)
        volume_xml.extend(volumes)

    parts = ["<node>"]
    parts.append(
        f"<cpu><mhz>2600</mhz><model>x86_64</model><nodes>1</nodes><sockets>2</sockets>"
        f"<cores>{host_cpus // 4}</cores><threads>2</threads></cpu>"
    )
    parts.append(f"<memory>{host_memory_mb * 1024}</memory>")
    if auth:
        parts.append("<auth>")
        parts.extend(f"<user password={quoteattr(pw)}>{escape(user)}</user>" for user, pw in auth.items())
        parts.append("</auth>")
    parts.append(
        f"<network><name>{NETWORK}</name><bridge name='virbr0'/><forward/>"
        "<ip address='192.168.122.1' netmask='255.255.255.0'/></network>"
    )
    parts.append(f"<pool type='dir'><name>{POOL}</name><target><path>{POOL_PATH}</path></target>")
    parts.extend(volume_xml)
    parts.append("</pool>")
    parts.extend(domain_xml)
    parts.append("</node>\n")
    Path(path).write_text("\n".join(parts), encoding="utf-8")
    return facts


def _domain(rng, i, projects, unlabeled_share, container_share, make_bad):
    project = projects[i % len(projects)]
    role = ROLES[rng.randrange(len(ROLES))]
    name = f"{project}-{role}{i:05d}"
    uuid = str(uuidlib.UUID(int=rng.getrandbits(128), version=4))
    container = rng.random() < container_share
    labelled = rng.random() >= unlabeled_share
    runstate, state = _pick_state(rng)
    vcpus = rng.choice((1, 2, 4, 8))
    max_vcpus = vcpus * 2 if rng.random() < 0.2 else vcpus
    max_ram = rng.choice((512, 1024, 2048, 4096, 8192))
    ram = max_ram // 2 if rng.random() < 0.2 else max_ram
    bad = labelled and make_bad

    metadata = []
    if labelled:
        hint = "Not a slug!" if bad else project
        metadata.append(
            f"<glasspane:project xmlns:glasspane='{GLASSPANE_NS}'>{escape(hint)}</glasspane:project>"
        )
    labels = {}
    if rng.random() < 0.3:
        labels = {"tags.env": rng.choice(("prod", "staging", "dev")), "tags.tier": role}
        metadata.append(
            f"<app:tags xmlns:app='{APP_NS}'><app:env>{labels['tags.env']}</app:env>"
            f"<app:tier>{role}</app:tier></app:tags>"
        )

    devices, volumes, disks = [], [], {}
    if not container:
        for n in range(rng.choice((1, 1, 2, 3))):
            target = f"vd{'abc'[n]}"
            capacity = rng.choice(_DISK_SIZES)
            vol = f"{name}-disk{n}.qcow2"
            disks[target] = capacity
            volumes.append(
                f"<volume type='file'><name>{vol}</name><capacity unit='bytes'>{capacity}</capacity>"
                "<allocation unit='bytes'>0</allocation></volume>"
            )
            if rng.random() < 0.2:
                source = f"<disk type='volume' device='disk'><source pool='{POOL}' volume='{vol}'/>"
            else:
                source = f"<disk type='file' device='disk'><source file='{POOL_PATH}/{vol}'/>"
            devices.append(f"{source}<target dev='{target}' bus='virtio'/></disk>")
        if rng.random() < 0.1:
            devices.append(
                "<disk type='file' device='cdrom'><source file='/var/lib/glasspane/iso/install.iso'/>"
                "<target dev='hdc' bus='ide'/><readonly/></disk>"
            )
        devices.append("<memballoon model='virtio'/>")
    macs = []
    for n in range(rng.choice((1, 1, 2)) if not container else 1):
        mac = f"52:54:00:{(i >> 8) & 0xFF:02x}:{i & 0xFF:02x}:{n:02x}"
        macs.append(mac)
        model = "" if container else "<model type='virtio'/>"
        devices.append(
            f"<interface type='network'><mac address='{mac}'/><source network='{NETWORK}'/>{model}</interface>"
        )

    memory_unit, divisor = ("MiB", 1) if rng.random() < 0.5 else ("KiB", 1 / 1024)
    os_xml = "<type>exe</type><init>/sbin/init</init>" if container else "<type>hvm</type>"
    domain_type = "lxc" if container else "test"
    current = f" current='{vcpus}'" if max_vcpus != vcpus else ""
    dom = (
        f"<domain type='{domain_type}' xmlns:test='{TEST_NS}'><name>{name}</name><uuid>{uuid}</uuid>"
        f"<metadata>{''.join(metadata)}</metadata>"
        f"<memory unit='{memory_unit}'>{int(max_ram / divisor)}</memory>"
        f"<currentMemory unit='{memory_unit}'>{int(ram / divisor)}</currentMemory>"
        f"<vcpu{current}>{max_vcpus}</vcpu><os>{os_xml}</os>"
        f"<devices>{''.join(devices)}</devices><test:runstate>{runstate}</test:runstate></domain>"
    )
    fact = {
        "uuid": uuid,
        "name": name,
        "kind": Kind.CONTAINER if container else Kind.VM,
        "domain_type": domain_type,
        "state": state,
        "runstate": runstate,
        "vcpus": vcpus,
        "max_vcpus": max_vcpus,
        "ram_mb": ram,
        "max_ram_mb": max_ram,
        "disk_gb": (Decimal(sum(disks.values())) / _GIB).quantize(Decimal("0.001")),
        "disks": disks,
        "macs": macs,
        "project": project if labelled and not bad else None,
        "name_project": project,
        "labels": labels,
        "bad_metadata": bad,
    }
    return fact, dom, volumes


def _pick_state(rng) -> tuple[int, str]:
    roll = rng.randrange(sum(w for _, _, w in _STATES))
    for runstate, state, weight in _STATES:
        if roll < weight:
            return runstate, state
        roll -= weight
    raise AssertionError("unreachable")
