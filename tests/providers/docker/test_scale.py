"""A hundred containers: all of them are seen and sampled, in time close to the bare SDK floor."""

from __future__ import annotations

import importlib.util

import pytest

from tests.providers.docker.conftest import REPO

pytestmark = pytest.mark.integration


def _bench():
    spec = importlib.util.spec_from_file_location("docker_floor", REPO / "bench" / "docker_floor.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hundred_containers_inventory_and_samples(docker_base_url, busybox_image):
    bench = _bench()
    result = bench.run(docker_base_url, containers=100)
    floor, driver = result["floor"], result["driver"]
    print(f"\n100 containers: floor {floor}\n                driver {driver}")
    assert floor["containers"] >= 100 and driver["containers"] == floor["containers"]
    assert driver["samples"] >= 100
    # The driver also opens its client (one /version) and maps every document; sequential bare
    # calls are the floor. Parallel inspect/stats must keep it within a small factor of that.
    assert driver["inventory_s"] + driver["samples_s"] < 2 * (floor["inventory_s"] + floor["samples_s"]) + 1
