"""A resource's provider properties as an operator reads them: disks and NICs as table rows, the
host it runs on, its addresses, and the remaining properties as words, never as Python literals.

Drivers keep what they found in ``Resource.properties`` in their own shape (libvirt ``disks`` with
``target``/``capacity_bytes``, Proxmox ``disks`` with ``key``/``size_gb``, libvirt ``nics`` with
``mac``/``source``/``model``); this module is the one place that reads those shapes for the
resource page and the inventory columns.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from portal import units

#: properties shown elsewhere on the page (tables, columns) and not repeated in the list
SHOWN_ELSEWHERE = {"disks", "nics", "macs", "addresses", "ip", "ips", "internal_ip", "host",
                   "hypervisor_hostname", "node", "metadata"}
ADDRESS_KEYS = ("addresses", "ips", "ip", "internal_ip", "ip_address")
HOST_KEYS = ("hypervisor_hostname", "host", "node")


def disks(properties: Mapping) -> list[dict]:
    rows = []
    for d in properties.get("disks") or []:
        if not isinstance(d, Mapping):
            continue
        if d.get("capacity_bytes") is not None:
            size = units.gib_from_bytes(d["capacity_bytes"])
        else:
            size = units.number(d.get("size_gb")) if d.get("size_gb") not in (None, "") else ""
        allocation = units.gib_from_bytes(d["allocation_bytes"]) if d.get("allocation_bytes") is not None else ""
        rows.append({"device": d.get("target") or d.get("key") or d.get("name") or "",
                     "kind": d.get("device") or d.get("type") or "",
                     "size": size, "allocation": allocation,
                     "path": d.get("source") or d.get("volume") or d.get("path") or ""})
    return rows


def nics(properties: Mapping) -> list[dict]:
    rows = []
    for n in properties.get("nics") or []:
        if not isinstance(n, Mapping):
            continue
        rows.append({"device": n.get("target") or n.get("name") or "", "mac": n.get("mac") or "",
                     "network": n.get("source") or n.get("network") or "", "kind": n.get("type") or "",
                     "model": n.get("model") or "", "addresses": ", ".join(_as_list(n.get("addresses")))})
    return rows


def addresses(properties: Mapping) -> list[str]:
    found: list[str] = []
    for key in ADDRESS_KEYS:
        for a in _as_list(properties.get(key)):
            if a not in found:
                found.append(a)
    for n in properties.get("nics") or []:
        if isinstance(n, Mapping):
            found += [a for a in _as_list(n.get("addresses")) if a not in found]
    return found


def host_name(resource, parent_visible: bool = True) -> str:
    """The host a guest runs on: its parent resource, else what the provider named. Hosts are
    staff-only: when the parent exists but the user may not see it, nothing is named."""
    if resource.parent_id:
        return resource.parent.name if parent_visible else ""
    for key in HOST_KEYS:
        if resource.properties.get(key):
            return str(resource.properties[key])
    return ""


def other_properties(properties: Mapping) -> list[tuple[str, str]]:
    """The rest as (label, text): ``max_memory_mb`` → ("Max memory MB", "2,048")."""
    out = []
    for key, value in properties.items():
        if key in SHOWN_ELSEWHERE or value in (None, "", [], {}):
            continue
        out.append((key.replace("_", " ").capitalize(), _text(value)))
    return out


def _as_list(value) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):  # OpenStack style {"net": [{"addr": ...}]}
        out = []
        for v in value.values():
            out += _as_list(v)
        return out
    if isinstance(value, (list, tuple)):
        out = []
        for v in value:
            if isinstance(v, Mapping):
                v = v.get("addr") or v.get("address") or v.get("ip")
            out += _as_list(v)
        return out
    return [str(value)]


def _text(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return units.number(value)
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, (str, int, float)) for v in value):
            return ", ".join(str(v) for v in value)
        return "; ".join(_text(v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_text(v)}" for k, v in value.items())
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)
