"""How far the Docker driver is from the floor: the bare SDK calls it cannot avoid.

``floor(base_url)`` makes, one after the other, the calls an inventory and a sampling round need
(``/info``, list all, inspect each; list running, one-shot stats each) with the SDK alone.
``driver_round(base_url)`` times ``DockerDriver.inventory()`` + ``samples()`` on the same engine.
``run(base_url, containers=100)`` starts that many idle busybox containers, times both, and
removes them again. ``python bench/docker_floor.py [--containers N]`` prints the result as JSON
(engine: ``$DOCKER_HOST``, else ``scripts/docker-engine.sh start``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker

REPO = Path(__file__).resolve().parents[1]
IMAGE = "localhost/busybox:latest"


def floor(base_url: str) -> dict:
    """Seconds spent by the unavoidable calls, made sequentially with the bare SDK."""
    api = docker.APIClient(base_url=base_url, version="auto")
    try:
        started = time.perf_counter()
        api.info()
        listing = api.containers(all=True)
        for entry in listing:
            api.inspect_container(entry["Id"])
        inventory_s = time.perf_counter() - started
        started = time.perf_counter()
        running = api.containers(filters={"status": "running"})
        for entry in running:
            api.stats(entry["Id"], stream=False, one_shot=True)
        samples_s = time.perf_counter() - started
    finally:
        api.close()
    return {"containers": len(listing), "inventory_s": inventory_s, "samples_s": samples_s}


def driver_round(base_url: str, **settings) -> dict:
    """Seconds spent by one ``inventory()`` and one ``samples()`` of a fresh driver."""
    sys.path.insert(0, str(REPO))
    from providers.docker.driver import DockerDriver

    with DockerDriver({"base_url": base_url, **settings}) as driver:
        started = time.perf_counter()
        inventory = driver.inventory()
        inventory_s = time.perf_counter() - started
        started = time.perf_counter()
        samples = driver.samples()
        samples_s = time.perf_counter() - started
    return {
        "containers": len(inventory.resources) - 1,
        "samples": len(samples),
        "inventory_s": inventory_s,
        "samples_s": samples_s,
    }


def populate(base_url: str, count: int, label: str, image: str = IMAGE) -> list[str]:
    """Start ``count`` idle containers labelled ``glasspane.bench=<label>``; their ids."""
    client = docker.DockerClient(base_url=base_url, version="auto", max_pool_size=8)

    def one(_):
        return client.containers.run(
            image, ["sleep", "3600"], detach=True, network_mode="none", labels={"glasspane.bench": label}
        ).id

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(one, range(count)))


def clear(base_url: str, label: str) -> None:
    client = docker.DockerClient(base_url=base_url, version="auto", max_pool_size=8)
    doomed = client.containers.list(all=True, filters={"label": f"glasspane.bench={label}"})
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda c: c.remove(force=True), doomed))


def run(base_url: str, containers: int = 100) -> dict:
    label = uuid.uuid4().hex[:8]
    try:
        populate(base_url, containers, label)
        return {"floor": floor(base_url), "driver": driver_round(base_url)}
    finally:
        clear(base_url, label)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=100)
    args = parser.parse_args()
    base_url = os.environ.get("DOCKER_HOST")
    if not base_url:
        out = subprocess.run(
            [str(REPO / "scripts" / "docker-engine.sh"), "start"], check=True, capture_output=True, text=True
        ).stdout
        base_url = out.strip().splitlines()[-1].split("=", 1)[1]
    print(json.dumps(run(base_url, args.containers), indent=2))


if __name__ == "__main__":
    main()
