"""Fixtures: a simulator on an ephemeral 127.0.0.1 port with a frozen clock, and drivers aimed at it.

The clock is frozen at the current hour (real time, rounded down) so usage arithmetic is exact and
keystoneauth, which judges token expiry by the real clock, still sees fresh tokens.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from devsim.openstack import seed
from devsim.openstack.clock import SimClock
from devsim.openstack.server import start_in_thread
from devsim.openstack.state import CloudState
from providers.openstack.driver import OpenStackDriver

ADMIN = {"username": "admin", "password": "admin", "project_name": "admin"}
MEMBER = {"username": "member", "password": "member", "project_name": "webshop"}


def frozen_clock() -> SimClock:
    """The cloud's clock, stopped at the current minute. Not at the hour: keystoneauth renews a
    token that expires within two minutes of its own (real) clock, so a clock stopped at the hour
    start made every request re-authenticate when a test ran in an hour's last two minutes."""
    return SimClock(datetime.now(UTC).replace(second=0, microsecond=0), frozen=True)


@pytest.fixture
def make_sim():
    """Start simulators: ``make_sim(seed_fn)`` -> server (``server.state``, ``server.auth_url``)."""
    started = []

    def start(seeder=seed.demo):
        state = CloudState(clock=frozen_clock())
        seeder(state)
        server, _ = start_in_thread(state=state)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def sim(make_sim):
    return make_sim()


@pytest.fixture
def make_driver():
    drivers = []

    def build(server, credentials=None, **settings):
        driver = OpenStackDriver({"auth_url": server.auth_url, **settings}, dict(credentials or ADMIN))
        drivers.append(driver)
        return driver

    yield build
    for driver in drivers:
        driver.close()
