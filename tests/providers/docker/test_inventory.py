"""Inventory against a real engine: containers with labels and limits, stopped and removed ones."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from providers.base import Kind, State

pytestmark = pytest.mark.integration


def by_id(inventory):
    return {resource.external_id: resource for resource in inventory.resources}


def test_running_containers_appear_with_project_limits_and_engine_parent(make_container, docker_driver):
    limited = make_container(
        labels={"glasspane.project": "alpha", "tier": "web"}, nano_cpus=500_000_000, mem_limit="64m"
    )
    quota = make_container(cpu_quota=25_000, cpu_period=100_000)
    pinned = make_container(cpuset_cpus="0")
    free = make_container(labels={"com.docker.compose.project": "shop"})

    inventory = docker_driver().inventory()
    found = by_id(inventory)
    hosts = [r for r in inventory.resources if r.kind == Kind.HOST]
    assert len(hosts) == 1
    engine = hosts[0]
    assert engine.vcpus >= 1 and engine.ram_mb > 0
    assert engine.parent_match == {"name": engine.name}
    assert engine.properties["engine"] in ("Podman Engine", "Docker Engine")
    assert engine.properties["server_version"]

    first = found[limited.id]
    assert first.kind == Kind.CONTAINER and first.state == State.RUNNING
    assert first.project_hint == "alpha" and first.labels["tier"] == "web"
    assert (first.vcpus, first.ram_mb) == (Decimal("0.500"), 64)
    assert first.parent_external_id == engine.external_id
    assert first.image.endswith("busybox:latest") and first.properties["image_id"]
    assert first.started_at is not None and first.created_at <= first.started_at
    assert first.started_at.utcoffset().total_seconds() == 0

    assert found[quota.id].vcpus == Decimal("0.250")
    assert found[pinned.id].vcpus == Decimal("1.000")
    unlimited = found[free.id]
    assert (unlimited.vcpus, unlimited.ram_mb, unlimited.project_hint) == (None, None, None)
    assert unlimited.properties["cpu_limit"] == "unlimited"
    assert unlimited.properties["memory_limit"] == "unlimited"
    assert unlimited.labels["com.docker.compose.project"] == "shop"
    assert inventory.complete and not inventory.issues


def test_engine_id_is_stable_and_host_resource_links_the_engine_to_a_vm(docker_driver):
    first = docker_driver().inventory()
    second = docker_driver(host_resource="web-01").inventory()
    engine_first = next(r for r in first.resources if r.kind == Kind.HOST)
    engine_second = next(r for r in second.resources if r.kind == Kind.HOST)
    assert engine_first.external_id == engine_second.external_id
    assert engine_second.parent_match == {"name": "web-01"}


def test_stopped_created_paused_and_removed_containers(make_container, docker_driver):
    stopped = make_container(["sh", "-c", "exit 3"])
    created = make_container(start=False)
    paused = make_container()
    removed = make_container()
    paused.pause()
    removed.remove(force=True)
    deadline = time.monotonic() + 10
    while stopped.reload() or stopped.status != "exited":
        assert time.monotonic() < deadline, "the 'exit 3' container never exited"
        time.sleep(0.1)

    found = by_id(docker_driver().inventory())
    gone = found[stopped.id]
    assert gone.state == State.STOPPED
    assert gone.finished_at is not None and gone.properties["exit_code"] == 3
    assert found[created.id].state == State.STOPPED
    assert found[created.id].started_at is None and found[created.id].finished_at is None
    assert found[paused.id].state == State.PAUSED
    assert removed.id not in found


def test_published_ports_are_reported(make_container, docker_driver):
    container = make_container(network_mode="slirp4netns", ports={"80/tcp": 18089})
    found = by_id(docker_driver().inventory())
    assert "0.0.0.0:18089->80/tcp" in found[container.id].properties["ports"]


def test_a_container_removed_mid_enumeration_is_skipped_not_an_issue(make_container, docker_driver):
    container = make_container()
    driver = docker_driver()
    container.remove(force=True)
    from providers.docker.parallel import Skip

    with pytest.raises(Skip) as caught:
        driver._inspect(container.id)  # the per-container call the inventory fans out
    assert caught.value.vanished
