"""Fixtures: a simulated API server on an ephemeral 127.0.0.1 port with a frozen clock, the official
client aimed at it, and drivers aimed at it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from kubernetes import client

from devsim.kubernetes import seed
from devsim.kubernetes.server import start_in_thread
from devsim.kubernetes.state import ClusterState
from devsim.openstack.clock import SimClock
from providers.kubernetes.driver import KubernetesDriver


def frozen_clock() -> SimClock:
    return SimClock(datetime.now(UTC).replace(second=0, microsecond=0), frozen=True)


@pytest.fixture
def make_cluster():
    """Start simulators: ``make_cluster(seed_fn, kubevirt=True)`` -> server (``.state``, ``.url``)."""
    started = []

    def start(seeder=seed.demo, kubevirt: bool = True, metrics: bool = True):
        state = ClusterState(clock=frozen_clock(), kubevirt=kubevirt, metrics=metrics)
        state.bookmark_interval = 0.2
        seeder(state)
        server = start_in_thread(state)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def cluster(make_cluster):
    return make_cluster()


@pytest.fixture
def api_client():
    """``api_client(server, token)``: an official-client ``ApiClient`` with a bearer token."""
    made = []

    def build(server, token=seed.ADMIN_TOKEN):
        configuration = client.Configuration(host=server.url, api_key={"authorization": f"Bearer {token}"})
        made.append(client.ApiClient(configuration))
        return made[-1]

    yield build
    for api in made:
        api.close()


@pytest.fixture
def make_driver():
    drivers = []

    def build(server, token=seed.ADMIN_TOKEN, **settings):
        driver = KubernetesDriver({"server": server.url, **settings}, {"token": token})
        drivers.append(driver)
        return driver

    yield build
    for driver in drivers:
        driver.close()
