"""Every field the driver reports, pinned: the full inventory (resources, deletions, issues, projects,
facts, quotas, skipped) and the samples of a varied simulated cluster, on a first refresh and on a
second one dated by watches, must equal ``golden_inventory.json`` exactly (types included: Decimal
vs int vs float, which timestamp, which tuple). The file was written by the driver before its
speed-ups, so a faster mapping that changes any reported value fails here.

Regenerate (only for an intended change of what the driver reports) with
``GOLDEN_WRITE=1 .venv/bin/pytest tests/providers/kubernetes/test_inventory_golden.py``.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import types
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from devsim.kubernetes import seed
from devsim.kubernetes import state as state_module
from devsim.kubernetes.server import start_in_thread
from devsim.kubernetes.state import ClusterState
from devsim.openstack.clock import SimClock
from providers.kubernetes.driver import KubernetesDriver

pytestmark = pytest.mark.integration

GOLDEN = Path(__file__).with_name("golden_inventory.json")
START = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)

INIT_HEAVY = {  # an init container asking more than the app containers, and a pod overhead
    "metadata": {"name": "init-heavy", "labels": {"app": "init"}},
    "spec": {"initContainers": [{"name": "warm", "image": "busybox:1.36",
                                 "resources": {"requests": {"cpu": "1500m", "memory": "1.5Gi"}}}],
             "containers": [{"name": "a", "image": "registry.example/a:1",
                             "resources": {"requests": {"cpu": "0.25", "memory": "129e6"},
                                           "limits": {"cpu": "1", "memory": "256M"}}},
                            {"name": "b", "image": "registry.example/b:2",
                             "resources": {"requests": {"cpu": "100m", "memory": "100Mi"}}}],
             "overhead": {"cpu": "250m", "memory": "120Mi"}},
}
CLAIMED = {  # a pod that mounts a claim
    "metadata": {"name": "db", "labels": {"app": "db"}, "ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "uid": "owner-uid", "controller": True}]},
    "spec": {"containers": [{"name": "postgres", "image": "postgres:16",
                             "resources": {"requests": {"cpu": "2", "memory": "4Gi"}}}],
             "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]},
}


def _varied(state: ClusterState) -> None:
    """The demo, a generated spread, and the cases the mapping branches on."""
    seed.demo(state)
    seed.generate(state, pods=24, vms=5, namespaces=3)
    with state.lock:
        seed.add_pod(state, "webshop", INIT_HEAVY)
        seed.add_pvc(state, "webshop", seed.MYCLAIM, name="data", storage="20Gi")
        seed.add_pod(state, "webshop", CLAIMED)
        seed.add_pvc(state, "analytics", seed.MYCLAIM, name="unused", storage="512Mi")
        crashing = seed.add_pod(state, "analytics", seed.NGINX, name="crashing")
        crashing["status"]["containerStatuses"][0].update(
            state={"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}}, restartCount=7)
        state.put("pods", crashing)
        done = seed.add_pod(state, "analytics", seed.FRONTEND, name="batch-done")
        state_module._terminate(done, state.now())
        done["status"]["phase"] = "Succeeded"
        state.put("pods", done)
        seed.add_pod(state, "analytics", seed.NGINX, name="leaving")
        state.delete_pod("analytics", "leaving", grace=300)  # terminating, deletionTimestamp ahead
        seed.add_vm(state, "analytics", seed.TESTVM, name="halted", run_strategy="Halted")
        disked = {**seed.FEDORA, "metadata": {"name": "disked", "labels": {"kubevirt.io/os": "fedora"}}}
        vm = seed.add_vm(state, "webshop", disked)
        vm["spec"]["template"]["spec"]["volumes"].append({"name": "root", "dataVolume": {"name": "root-disk"}})
        state.put("virtualmachines", vm)
        seed.add_pvc(state, "webshop", seed.MYCLAIM, name="root-disk", storage="30Gi")
        broken = seed.add_pod(state, "team-00", seed.NGINX, name="broken")  # (no quota there to count it)
        broken["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "a lot"}}
        broken["status"]["phase"] = "Pending"  # (not running: the metrics server does not read it)
        state.put("pods", broken)
        nostorage = seed.add_pvc(state, "team-00", seed.MYCLAIM, name="nostorage")
        nostorage["spec"]["resources"]["requests"] = {}
        state.put("persistentvolumeclaims", nostorage)
        seed.add_quota(state, "webshop", seed.COMPUTE_RESOURCES)  # last: it would refuse the pods above


def _between(state: ClusterState) -> None:
    """Changes a second refresh's watches date: deletions, a stop, a new pod."""
    state.clock.advance(minutes=2)
    with state.lock:
        state.delete_pod("team-01", "pod-00001", grace=0)
        state.delete_pod("webshop", "frontend")  # 30 s grace: dated by its deletionTimestamp
        state.delete_vm("team-00", "vm-0000")
        vm = state.find("virtualmachines", "team-01", "vm-0001")
        vm["spec"]["runStrategy"] = "Halted"
        state.reconcile_vm(vm)
        seed.add_pod(state, "team-02", seed.FRONTEND, name="late")
    state.clock.advance(minutes=3)


def canonical(value):
    """JSON that keeps what equality should see: Decimal, datetime (with its zone), tuple and
    dataclass types are tagged, dict keys kept in order."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"@" + type(value).__name__: {f.name: canonical(getattr(value, f.name))
                                             for f in dataclasses.fields(value)}}
    if isinstance(value, Decimal):
        return {"@Decimal": str(value)}
    if isinstance(value, datetime):
        return {"@datetime": value.isoformat(), "tz": str(value.tzinfo)}
    if isinstance(value, tuple):
        return {"@tuple": [canonical(v) for v in value]}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    if isinstance(value, dict):
        assert all(isinstance(k, str) for k in value), value
        return {"@dict": [[k, canonical(v)] for k, v in value.items()]}
    if isinstance(value, float):
        return {"@float": repr(value)}
    assert value is None or isinstance(value, bool | int | str), type(value)
    return value


@pytest.fixture
def varied_cluster(monkeypatch):
    """The varied cluster on a frozen clock with uids from a counter, so two runs serve equal bytes."""
    counter = itertools.count(1)
    monkeypatch.setattr(state_module, "uuid",
                        types.SimpleNamespace(uuid4=lambda: uuid.UUID(int=next(counter)), UUID=uuid.UUID))
    state = ClusterState(clock=SimClock(START, frozen=True))
    state.bookmark_interval = 0.2
    _varied(state)
    server = start_in_thread(state)
    yield server
    server.stop()


def _observe(server, page_size: int) -> dict:
    settings = {"server": server.url, "page_size": page_size, "watch_seconds": 2}
    with KubernetesDriver(settings, {"token": seed.ADMIN_TOKEN}) as driver:
        first, first_samples = driver.inventory(), driver.samples()
    _between(server.state)
    with KubernetesDriver(settings, {"token": seed.ADMIN_TOKEN}) as driver:
        second, second_samples = driver.inventory(), driver.samples()
    return {"first": canonical(first), "first_samples": canonical(first_samples),
            "second": canonical(second), "second_samples": canonical(second_samples)}


def test_the_full_inventory_and_samples_equal_the_pinned_ones(varied_cluster):
    text = json.dumps(_observe(varied_cluster, page_size=7), indent=0) + "\n"
    if os.environ.get("GOLDEN_WRITE"):
        GOLDEN.write_text(text)
    expected = GOLDEN.read_text()
    assert text.splitlines() == expected.splitlines()
