"""A Proxmox VE cluster for tests, the demo and the benchmark, served by the test-only ``fakepve``.

``fakepve`` (PyPI, AGPL-3.0, installed by the ``test`` extra only, never vendored or shipped) serves
the PVE 9 API from its published schema: it validates every request's parameters and permissions
against that schema and answers with PVE's shapes, keeps guests, pools, storage volumes and tasks
(UPIDs) as state, and runs tasks to completion at once with ``time_scale = 0``. Nothing of it is
copied here: this module only starts it on loopback (HTTPS with a self-signed certificate the
clients verify) and fills it through its public Python API, as a test would.

Guests fakepve starts with ``add_vm``/``add_ct`` have a disk per config entry; the storage content it
lists is derived from those configs plus volumes allocated by create and clone. RRD data is empty
there (the schema's shape without rows).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
START_TIMEOUT = 30


def available() -> bool:
    """Whether the test-only ``fakepve`` package is installed."""
    try:
        import fakepve  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class Cluster:
    """A started fake cluster: ``pve`` (the ``fakepve.FakePve``), its ``url`` and ``cafile``."""

    pve: object
    cafile: str
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    settings: dict = field(default_factory=dict)

    @property
    def port(self) -> int:
        return self.pve.port

    @property
    def url(self) -> str:
        return self.pve.url

    def provider_settings(self) -> dict:
        return {"host": HOST, "port": self.port, "ca_bundle": self.cafile}

    def call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(START_TIMEOUT)

    def stop(self) -> None:
        if not self.loop.is_running():
            return
        try:
            self.call(self.pve.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(START_TIMEOUT)


def start(cert_dir: str | Path, *, port: int = 0, time_scale: float = 0.0, password: str = "secret",
          seed=None) -> Cluster:
    """Serve a fake cluster on ``127.0.0.1:port`` (0: a free port) over HTTPS, in a daemon thread.

    ``root@pam`` logs in with ``password``; ``seed(pve)`` fills it before it listens.
    """
    from fakepve import FakePve
    from fakepve.certs import make_cert

    Path(cert_dir).mkdir(parents=True, exist_ok=True)
    certfile, keyfile, _ = make_cert(str(cert_dir), hosts=(HOST,))
    pve = FakePve(user="root@pam", password=password, host=HOST, port=port)
    pve.time_scale = time_scale
    if seed is not None:
        seed(pve)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fakepve", daemon=True)
    thread.start()
    cluster = Cluster(pve, certfile, loop, thread)
    try:
        cluster.call(pve.start(certfile, keyfile))
    except BaseException:
        loop.call_soon_threadsafe(loop.stop)
        raise
    return cluster


@dataclass
class Spawned:
    """A fake cluster served by ``python -m devsim.proxmox`` in its own process (its own GIL: the
    benchmark measures the client, not a server sharing the client's interpreter)."""

    process: subprocess.Popen
    port: int
    cafile: str

    def provider_settings(self) -> dict:
        return {"host": HOST, "port": self.port, "ca_bundle": self.cafile}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=START_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def spawn(cert_dir: str | Path, seed: str = "demo", port: int = 0) -> Spawned:
    """Start ``python -m devsim.proxmox`` (``seed``: demo or gen:N) and wait until it listens."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen([sys.executable, "-m", "devsim.proxmox", "--port", str(port), "--cert-dir",
                                str(cert_dir), "--seed", seed], cwd=root, stdout=subprocess.PIPE, text=True, env=env)
    line = process.stdout.readline().strip()
    if not line.startswith("GLASSPANE_DEMO_PROXMOX="):
        process.kill()
        raise RuntimeError(f"devsim.proxmox did not start: {line!r}")
    _, port_text, cafile = line.split("=", 1)[1].split(":", 2)
    return Spawned(process, int(port_text), cafile)


# -- seeds ------------------------------------------------------------------------------------------

VM_TEMPLATE, CT_TEMPLATE = 9000, 9001


def templates(pve) -> None:
    """A VM template ``debian-12-vm`` and a container template ``debian-12-ct`` on ``pve1``."""
    pve.add_node("pve1")
    pve.add_vm(VM_TEMPLATE, "debian-12-vm", node="pve1", status="stopped", template=True,
               config={"cores": 1, "sockets": 1, "memory": 1024, "ostype": "l26",
                       "scsi0": f"local-lvm:base-{VM_TEMPLATE}-disk-0,size=10G",
                       "net0": "virtio=BC:24:11:00:90:00,bridge=vmbr0"})
    pve.add_ct(CT_TEMPLATE, "debian-12-ct", node="pve1", status="stopped", template=True,
               config={"cores": 1, "memory": 512, "ostype": "debian",
                       "rootfs": f"local-lvm:base-{CT_TEMPLATE}-disk-0,size=4G"})


def vm_config(cores: int, sockets: int, memory: int, disks: list[int], tags: str = "", vmid: int = 0) -> dict:
    config = {"cores": cores, "sockets": sockets, "memory": memory, "ostype": "l26",
              "ide2": "local:iso/debian-12.iso,media=cdrom",
              "net0": f"virtio=BC:24:11:{vmid // 256 % 256:02X}:{vmid % 256:02X}:01,bridge=vmbr0"}
    for n, size in enumerate(disks):
        config[f"{'scsi' if n == 0 else 'virtio'}{n}"] = f"local-lvm:vm-{vmid}-disk-{n},size={size}G"
    if tags:
        config["tags"] = tags
    return config


def ct_config(cores: int | None, memory: int, rootfs: int, mount: int | None = None, tags: str = "",
              vmid: int = 0) -> dict:
    config = {"memory": memory, "rootfs": f"local-lvm:vm-{vmid}-disk-0,size={rootfs}G"}
    if cores:
        config["cores"] = cores
    if mount:
        config["mp0"] = f"local-lvm:vm-{vmid}-disk-1,mp=/srv,size={mount}G"
    if tags:
        config["tags"] = tags
    return config


def demo(pve) -> None:
    """Two nodes, two pools (``webshop``, ``analytics``), a few VMs and containers, two templates."""
    templates(pve)
    pve.add_node("pve2")
    vms = [(101, "shop-web-1", "pve1", "webshop", "running", 2, 1, 4096, [32], "prod;web"),
           (102, "shop-db", "pve2", "webshop", "running", 2, 2, 8192, [64, 100], "prod;db"),
           (103, "bi-worker", "pve2", "analytics", "stopped", 4, 1, 16384, [120], "batch")]
    for vmid, name, node, pool, status, cores, sockets, memory, disks, tags in vms:
        vm = pve.add_vm(vmid, name, node=node, status=status, pool=pool,
                        config=vm_config(cores, sockets, memory, disks, tags, vmid))
        if status == "running":
            vm.started_at = time.time() - 3 * 3600
    cts = [(201, "shop-cache", "pve1", "webshop", "running", 1, 1024, 8, None, "prod"),
           (202, "etl-runner", "pve2", "analytics", "running", 2, 2048, 16, 50, "batch"),
           (203, "notebook", "pve1", "analytics", "stopped", None, 4096, 20, None, "")]
    for vmid, name, node, pool, status, cores, memory, rootfs, mount, tags in cts:
        pve.add_ct(vmid, name, node=node, status=status, pool=pool,
                   config=ct_config(cores, memory, rootfs, mount, tags, vmid))


def generated(count: int, nodes: int = 3, pools: tuple[str, ...] = ("webshop", "analytics", "ci"), seed: int = 7):
    """A seed of ``count`` guests (two VMs to one container) over ``nodes`` nodes and ``pools``."""
    def fill(pve) -> None:
        rng = random.Random(seed)
        templates(pve)
        for n in range(1, nodes + 1):
            pve.add_node(f"pve{n}")
        for i in range(count):
            vmid = 1000 + i
            node = f"pve{i % nodes + 1}"
            pool = pools[i % len(pools)]
            status = "running" if i % 5 else "stopped"
            if i % 3 == 2:
                ct = pve.add_ct(vmid, f"ct-{i:04d}", node=node, status=status,
                                config=ct_config(rng.choice([None, 1, 2, 4]), rng.choice([512, 1024, 2048]),
                                                 rng.choice([4, 8, 16]), rng.choice([None, 10]), "gen", vmid))
                # membership set directly (FakeCt.pool and FakePve.pools): add_ct(pool=) re-syncs every
                # guest's pool on each call, quadratic in the number of guests
                ct.pool = pool
                pve.pools.setdefault(pool, set()).add(vmid)
            else:
                disks = [rng.choice([16, 32, 64])] + ([rng.choice([50, 100])] if i % 4 == 0 else [])
                vm = pve.add_vm(vmid, f"vm-{i:04d}", node=node, status=status, pool=pool,
                                config=vm_config(rng.choice([1, 2, 4]), rng.choice([1, 1, 2]),
                                                 rng.choice([1024, 2048, 4096, 8192]), disks, "gen;web", vmid))
                if status == "running":
                    vm.started_at = time.time() - rng.randint(60, 86400)
    return fill
