"""A real libvirtd with QEMU (and LXC) for the ``real_libvirt`` tests.

``scripts/libvirt-host.sh up`` brings the daemon up (``.ci/run`` does it before ``make test``).
Here: skip when it does not answer, except under ``GLASSPANE_CI=1`` where that is a failure.
Every guest a test defines is named ``gp-t-...``, lives in the script's ``glasspane`` pool, and
is destroyed, undefined and its volume deleted when the test ends, whatever happened.
"""

from __future__ import annotations

import os
import uuid

import pytest

QEMU_URI = "qemu:///system"
LXC_URI = "lxc:///system"
POOL = "glasspane"
GLASSPANE_NS = "https://glasspane.dev/xmlns/1"
LABELS_NS = "https://glasspane.dev/xmlns/labels/1"


def _open(uri: str):
    import libvirt

    from providers.libvirt import connection  # noqa: F401 - silences libvirt's stderr handler

    try:
        return libvirt.open(uri)
    except libvirt.libvirtError as exc:
        message = f"no libvirt daemon at {uri} ({exc.get_error_message()}); run scripts/libvirt-host.sh up"
        if os.environ.get("GLASSPANE_CI") == "1":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def qemu_conn():
    conn = _open(QEMU_URI)
    try:
        conn.storagePoolLookupByName(POOL)
    except Exception:
        pytest.fail(f"libvirt at {QEMU_URI} has no pool {POOL!r}: start it with scripts/libvirt-host.sh up")
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def lxc_conn():
    conn = _open(LXC_URI)
    yield conn
    conn.close()


def guest_xml(name: str, *, project: str = "alpha", labels: dict | None = None, volume: str = "") -> str:
    label_xml = "".join(f'<l:label key="{k}">{v}</l:label>' for k, v in (labels or {}).items())
    return f"""
<domain type='qemu'>
  <name>{name}</name>
  <metadata>
    <glasspane:project xmlns:glasspane="{GLASSPANE_NS}">{project}</glasspane:project>
    <l:labels xmlns:l="{LABELS_NS}">{label_xml}</l:labels>
  </metadata>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <devices>
    <disk type='volume' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source pool='{POOL}' volume='{volume}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='ethernet'><model type='virtio'/></interface>
    <memballoon model='virtio'><stats period='1'/></memballoon>
  </devices>
</domain>"""


class Guests:
    """Defines (and starts) tiny QEMU guests; removes every one of them at teardown."""

    def __init__(self, conn):
        self.conn = conn
        self.names: list[str] = []

    def make(self, *, start: bool = True, project: str = "alpha", labels: dict | None = None):
        name = f"gp-t-{uuid.uuid4().hex[:8]}"
        pool = self.conn.storagePoolLookupByName(POOL)
        pool.createXML(
            f"<volume><name>{name}.qcow2</name><capacity unit='MiB'>64</capacity>"
            "<target><format type='qcow2'/></target></volume>",
            0,
        )
        self.names.append(name)
        dom = self.conn.defineXML(guest_xml(name, project=project, labels=labels, volume=f"{name}.qcow2"))
        if start:
            dom.create()
        return dom

    def cleanup(self) -> None:
        import libvirt

        pool = self.conn.storagePoolLookupByName(POOL)
        for name in self.names:
            try:
                dom = self.conn.lookupByName(name)
                if dom.isActive():
                    dom.destroy()
                dom.undefine()
            except libvirt.libvirtError:
                pass
            for vol in (f"{name}.qcow2", f"{name}-disk0.qcow2"):
                try:
                    pool.storageVolLookupByName(vol).delete(0)
                except libvirt.libvirtError:
                    pass


@pytest.fixture
def guests(qemu_conn):
    made = Guests(qemu_conn)
    yield made
    made.cleanup()
