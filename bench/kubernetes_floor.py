"""How fast can a 2,000-pod, 200-VM cluster be read? ``KubernetesDriver.inventory()`` vs bare paging.

Run: ``.venv/bin/python bench/kubernetes_floor.py [PODS] [VMS]``. Starts the simulated API server in
a thread and prints the timings. ``client_floor`` is the floor: the official client paging the same
lists a refresh reads (nodes, namespaces, pods, PVCs, resource quotas, VMs, VM instances, and node and
pod metrics for the samples) with the
client's fastest path (``_preload_content=False`` and ``json.loads``), nothing else.
``typed_floor`` is the same with the client's model classes, for comparison (much slower).
"""

from __future__ import annotations

import json
import sys
import time

from kubernetes import client

from devsim.kubernetes import seed
from devsim.kubernetes.server import start_in_thread
from devsim.kubernetes.state import ClusterState
from providers.kubernetes.driver import KubernetesDriver

PAGE = 500


def _api(url: str) -> client.ApiClient:
    return client.ApiClient(client.Configuration(host=url, api_key={"authorization": f"Bearer {seed.ADMIN_TOKEN}"}))


def _lists(api: client.ApiClient):
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    return [(core.list_node, ()), (core.list_namespace, ()), (core.list_pod_for_all_namespaces, ()),
            (core.list_persistent_volume_claim_for_all_namespaces, ()),
            (core.list_resource_quota_for_all_namespaces, ()),
            (custom.list_cluster_custom_object, ("kubevirt.io", "v1", "virtualmachines")),
            (custom.list_cluster_custom_object, ("kubevirt.io", "v1", "virtualmachineinstances")),
            (custom.list_cluster_custom_object, ("metrics.k8s.io", "v1beta1", "nodes")),
            (custom.list_cluster_custom_object, ("metrics.k8s.io", "v1beta1", "pods"))]


def client_floor(url: str) -> int:
    """Page every list a refresh reads as raw JSON; return how many objects."""
    api = _api(url)
    total = 0
    try:
        for function, args in _lists(api):
            token = None
            while True:
                body = json.loads(function(*args, limit=PAGE, _continue=token, _preload_content=False).data)
                total += len(body["items"])
                token = body["metadata"].get("continue")
                if not token:
                    break
    finally:
        api.close()
    return total


def typed_floor(url: str) -> int:
    """The same core lists through the client's model classes (custom objects are dicts anyway)."""
    api = _api(url)
    total = 0
    try:
        for function, args in _lists(api):
            token = None
            while True:
                page = function(*args, limit=PAGE, _continue=token)
                items, meta = (page["items"], page["metadata"]) if isinstance(page, dict) else (page.items, None)
                total += len(items)
                token = meta.get("continue") if meta is not None else page.metadata._continue
                if not token:
                    break
    finally:
        api.close()
    return total


def driver_inventory(url: str) -> int:
    with KubernetesDriver({"server": url, "page_size": PAGE, "watch_seconds": 0}, {"token": seed.ADMIN_TOKEN}) as driver:
        return len(driver.inventory().resources)


def compare(url: str, repeat: int = 3) -> dict:
    """Best-of-``repeat`` seconds of ``client_floor`` and of the driver's ``inventory()`` and
    ``samples()`` (one driver per round, as a refresh makes), taken in turns; ``*_cpu`` is the
    process's CPU time (the simulator's thread included, as on both sides), steadier than wall
    time on a shared machine. Reporting only."""
    rounds: dict[str, list[float]] = {k: [] for k in ("floor", "floor_cpu", "inventory", "samples", "driver",
                                                      "driver_cpu")}
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        client_floor(url)
        rounds["floor"].append(time.perf_counter() - started)
        rounds["floor_cpu"].append(time.process_time() - cpu)
        with KubernetesDriver({"server": url, "page_size": PAGE, "watch_seconds": 0},
                              {"token": seed.ADMIN_TOKEN}) as driver:
            started, cpu = time.perf_counter(), time.process_time()
            found = driver.inventory()
            inventoried = time.perf_counter()
            sampled = driver.samples()
            rounds["inventory"].append(inventoried - started)
            rounds["samples"].append(time.perf_counter() - inventoried)
            rounds["driver"].append(time.perf_counter() - started)
            rounds["driver_cpu"].append(time.process_time() - cpu)
    return {**{k: min(v) for k, v in rounds.items()}, "resources": len(found.resources), "sampled": len(sampled)}


def make_cluster(pods: int, vms: int) -> ClusterState:
    state = ClusterState()
    seed.generate(state, pods, vms)
    return state


def main(pods: int = 2000, vms: int = 200) -> None:
    started = time.perf_counter()
    server = start_in_thread(make_cluster(pods, vms))
    print(f"seeded {pods} pods and {vms} VMs in {time.perf_counter() - started:.2f}s")
    try:
        result = compare(server.url)
        print(f"client_floor {result['floor']:.3f}s (CPU {result['floor_cpu']:.3f}s); driver inventory "
              f"{result['inventory']:.3f}s + samples {result['samples']:.3f}s, together {result['driver']:.3f}s "
              f"(CPU {result['driver_cpu']:.3f}s): {result['driver'] / result['floor']:.2f}x "
              f"(CPU {result['driver_cpu'] / result['floor_cpu']:.2f}x); {result['resources']} resources, "
              f"{result['sampled']} samples")
        for name, run in (("client paging (raw JSON)", client_floor), ("client paging (models)", typed_floor),
                          ("KubernetesDriver.inventory()", driver_inventory)):
            started = time.perf_counter()
            seen = run(server.url)
            print(f"{name:30s} {seen} objects in {time.perf_counter() - started:.2f}s")
    finally:
        server.stop()


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
