"""Reading libvirt domain XML and domain states into plain facts.

Everything here is pure (no connection): ``parse_domain()`` turns the XML of ``virDomain.XMLDesc()``
into ``DomainFacts``; ``map_state()`` maps ``VIR_DOMAIN_*`` states onto ``providers.base.State``.
Kept apart from the driver so the rules can be tested with strings and reused by the benchmark.

Metadata (libvirt's ``<metadata>`` holds one top-level element per XML namespace):

* ``<glasspane:project xmlns:glasspane="https://glasspane.dev/xmlns/1">SLUG</glasspane:project>``
  is the project hint. A hint that is not a plain slug (letters, digits, ``-``, ``_``, ``.``) is
  not used; ``DomainFacts.metadata_problem`` says why, and the driver reports it as a ``DataIssue``.
* ``<l:labels xmlns:l="https://glasspane.dev/xmlns/labels/1"><l:label key="env">prod</l:label>``
  gives labels as written (``{"env": "prod"}``); ``provision()`` writes its labels this way.
* Any other namespace's element is flattened into labels by element path below ``<metadata>``:
  ``<nova:instance><nova:owner><nova:project uuid="u">demo</nova:project>`` becomes
  ``{"instance.owner.project": "demo", "instance.owner.project@uuid": "u"}``; a repeated sibling
  gets ``#2``, ``#3``... appended.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import cached_property

import libvirt

from providers.base import Kind, ProviderDataError, State

GLASSPANE_NS = "https://glasspane.dev/xmlns/1"
LABELS_NS = "https://glasspane.dev/xmlns/labels/1"
SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")

STATES = {
    libvirt.VIR_DOMAIN_NOSTATE: State.UNKNOWN,
    libvirt.VIR_DOMAIN_RUNNING: State.RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: State.RUNNING,
    libvirt.VIR_DOMAIN_PAUSED: State.PAUSED,
    libvirt.VIR_DOMAIN_SHUTDOWN: State.STOPPED,
    libvirt.VIR_DOMAIN_SHUTOFF: State.STOPPED,
    libvirt.VIR_DOMAIN_CRASHED: State.CRASHED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: State.SUSPENDED,
}

#: multiples of one KiB for every unit libvirt accepts in <memory unit=...>
_KIB = {
    "b": 1 / 1024,
    "bytes": 1 / 1024,
    "kb": 1000 / 1024,
    "k": 1,
    "kib": 1,
    "mb": 1000**2 / 1024,
    "m": 1024,
    "mib": 1024,
    "gb": 1000**3 / 1024,
    "g": 1024**2,
    "gib": 1024**2,
    "tb": 1000**4 / 1024,
    "t": 1024**3,
    "tib": 1024**3,
}


def map_state(code: int) -> str:
    """``VIR_DOMAIN_*`` state code -> ``State``; codes this libvirt does not know are ``unknown``."""
    return STATES.get(code, State.UNKNOWN)


def kind_of(domain_type: str) -> str:
    """``lxc`` domains are containers, every other type (kvm, qemu, xen, test...) a VM."""
    return Kind.CONTAINER if domain_type == "lxc" else Kind.VM


@dataclass(frozen=True)
class Disk:
    target: str
    device: str  # disk | cdrom | floppy | lun
    source_type: str  # file | block | volume | network | ...
    path: str | None = None  # file or block device path
    pool: str | None = None  # storage pool and volume, for type='volume'
    volume: str | None = None

    @property
    def counts(self) -> bool:
        """Whether the disk is allocated storage (CD-ROMs and floppies are not)."""
        return self.device in ("disk", "lun")


@dataclass(frozen=True)
class Nic:
    mac: str
    type: str
    source: str = ""
    model: str = ""
    target: str = ""  # host-side device name, what interfaceStats() wants


@dataclass(frozen=True)
class DomainFacts:
    uuid: str
    name: str
    domain_type: str
    os_type: str
    arch: str
    vcpus: int
    max_vcpus: int
    memory_kib: int
    max_memory_kib: int
    disks: tuple[Disk, ...] = ()
    nics: tuple[Nic, ...] = ()
    project_hint: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    metadata_problem: str | None = None
    title: str = ""
    description: str = ""
    domain_id: int | None = None  # only while running

    @property
    def kind(self) -> str:
        return kind_of(self.domain_type)

    @cached_property
    def block_targets(self) -> tuple[str, ...]:
        """Targets of the disks that are allocated storage, for ``blockStats`` (asked every sample)."""
        return tuple(d.target for d in self.disks if d.counts)

    @cached_property
    def nic_targets(self) -> tuple[str, ...]:
        """Host-side NIC device names, for ``interfaceStats``."""
        return tuple(n.target for n in self.nics)


def to_kib(value: str | None, unit: str | None, what: str) -> int:
    """A libvirt memory size in KiB (unit defaults to KiB, as in libvirt)."""
    try:
        number = int((value or "").strip())
        factor = _KIB[(unit or "KiB").strip().lower()]
    except (ValueError, KeyError):
        raise ProviderDataError(f"{what} is not a size: {value!r} {unit or ''}".strip()) from None
    return int(number * factor)


def _text(element: ET.Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ProviderDataError(f"{what} is not a whole number: {text!r}") from None


def _children(element: ET.Element) -> dict[str, ET.Element]:
    """The first child of each tag, as ``element.find(tag)`` would give it, in one pass."""
    first: dict[str, ET.Element] = {}
    for child in element:
        if child.tag not in first:
            first[child.tag] = child
    return first


def parse_domain(xml: str) -> DomainFacts:
    """The facts of one domain; ``ProviderDataError`` when the XML cannot be read.

    Reads only the elements used here, each tree level in one pass (no path expressions): after the
    parse itself this was most of an inventory's cost per domain (issue 21)."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise ProviderDataError(f"domain XML is not well-formed: {exc}") from None
    if root.tag != "domain":
        raise ProviderDataError(f"expected a <domain> document, got <{root.tag}>")
    first: dict[str, ET.Element] = {}
    devices: list[ET.Element] = []  # every <disk> and <interface> of every <devices>, in order
    os_type = None  # the first <type> of an <os>, as root.find("os/type")
    for child in root:
        tag = child.tag
        if tag == "devices":
            devices.extend(child)
        elif tag == "os" and os_type is None:
            os_type = child.find("type")
        if tag not in first:
            first[tag] = child
    uuid = _text(first.get("uuid"))
    name = _text(first.get("name"))
    if not uuid or not name:
        raise ProviderDataError("domain XML has no <uuid> or no <name>")

    memory = first.get("memory")
    if memory is None:
        raise ProviderDataError(f"domain {name} has no <memory>")
    max_memory_kib = to_kib(memory.text, memory.get("unit"), f"domain {name} <memory>")
    current = first.get("currentMemory")
    memory_kib = (
        to_kib(current.text, current.get("unit"), f"domain {name} <currentMemory>")
        if current is not None
        else max_memory_kib
    )

    vcpu = first.get("vcpu")
    max_vcpus = _int(_text(vcpu), f"domain {name} <vcpu>") if vcpu is not None else 1
    vcpus = (
        _int(vcpu.get("current"), f"domain {name} <vcpu current>")
        if vcpu is not None and vcpu.get("current")
        else max_vcpus
    )

    hint, labels, problem = read_metadata(first.get("metadata"), name)
    raw_id = root.get("id")
    return DomainFacts(
        uuid=uuid,
        name=name,
        domain_type=root.get("type", ""),
        os_type=_text(os_type),
        arch=os_type.get("arch", "") if os_type is not None else "",
        vcpus=vcpus,
        max_vcpus=max_vcpus,
        memory_kib=memory_kib,
        max_memory_kib=max_memory_kib,
        disks=tuple(_disk(d) for d in devices if d.tag == "disk"),
        nics=tuple(_nic(n) for n in devices if n.tag == "interface"),
        project_hint=hint,
        labels=labels,
        metadata_problem=problem,
        title=_text(first.get("title")),
        description=_text(first.get("description")),
        domain_id=_int(raw_id, f"domain {name} id") if raw_id and raw_id != "-1" else None,
    )


_NO_ATTRS: dict[str, str] = {}


def _disk(disk: ET.Element) -> Disk:
    parts = _children(disk)
    source = parts.get("source")
    target = parts.get("target")
    attrs = source.attrib if source is not None else _NO_ATTRS
    return Disk(
        target=target.get("dev", "") if target is not None else "",
        device=disk.get("device", "disk"),
        source_type=disk.get("type", "file"),
        path=attrs.get("file") or attrs.get("dev"),
        pool=attrs.get("pool"),
        volume=attrs.get("volume"),
    )


def _nic(nic: ET.Element) -> Nic:
    parts = _children(nic)
    mac, source = parts.get("mac"), parts.get("source")
    model, target = parts.get("model"), parts.get("target")
    src = source.attrib if source is not None else _NO_ATTRS
    return Nic(
        mac=(mac.get("address", "") if mac is not None else "").lower(),
        type=nic.get("type", ""),
        source=src.get("network") or src.get("bridge") or src.get("dev") or "",
        model=model.get("type", "") if model is not None else "",
        target=target.get("dev", "") if target is not None else "",
    )


def _split(tag: str) -> tuple[str, str]:
    """``{namespace}local`` -> (namespace, local)."""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def read_metadata(metadata: ET.Element | None, name: str) -> tuple[str | None, dict[str, str], str | None]:
    """(project hint, labels, problem) from a domain's ``<metadata>`` element."""
    hint: str | None = None
    problem: str | None = None
    labels: dict[str, str] = {}
    if metadata is None:
        return hint, labels, problem
    for element in metadata:
        if not isinstance(element.tag, str):
            continue  # comments
        namespace, local = _split(element.tag)
        if namespace == GLASSPANE_NS and local == "project":
            text = (element.text or "").strip()
            if len(element) or not SLUG.match(text):
                found = "nested elements" if len(element) else repr(text)
                problem = (
                    f"domain {name}: the glasspane:project metadata must hold a project slug "
                    f"(letters, digits, '-', '_', '.'), found {found}; the domain is reported without "
                    f"a project hint until it is fixed (virsh metadata {name} {GLASSPANE_NS} ...)"
                )
            else:
                hint = text
        elif namespace == LABELS_NS:
            for label in element:
                key = label.get("key")
                if key:
                    labels[key] = (label.text or "").strip()
        else:
            _flatten(element, local, labels)
    return hint, labels, problem


def _flatten(element: ET.Element, path: str, labels: dict[str, str]) -> None:
    for attr, value in element.attrib.items():
        labels[f"{path}@{_split(attr)[1]}"] = value
    children = [c for c in element if isinstance(c.tag, str)]
    if not children:
        text = (element.text or "").strip()
        if text or not element.attrib:
            labels[path] = text
        return
    seen: dict[str, int] = {}
    for child in children:
        local = _split(child.tag)[1]
        seen[local] = seen.get(local, 0) + 1
        suffix = f"#{seen[local]}" if seen[local] > 1 else ""
        _flatten(child, f"{path}.{local}{suffix}", labels)
