"""Fixtures: a fake Proxmox VE cluster (the test-only ``fakepve``, HTTPS on 127.0.0.1 with a
certificate the driver verifies) per test, and drivers aimed at it.

``fakepve`` is in the ``test`` extra, so ``make test`` has it. Without it these tests skip locally
and fail under ``GLASSPANE_CI=1``.
"""

from __future__ import annotations

import os

import pytest

from devsim import proxmox
from providers.proxmox.driver import ProxmoxDriver

ROOT = {"username": "root@pam", "password": "secret"}


@pytest.fixture(scope="session", autouse=True)
def _need_fakepve():
    if not proxmox.available():
        if os.environ.get("GLASSPANE_CI") == "1":
            pytest.fail("fakepve is not installed (pip install -e '.[test]'): the Proxmox tests cannot run")
        pytest.skip("fakepve is not installed: pip install -e '.[test]'")


@pytest.fixture
def make_cluster(tmp_path):
    """``make_cluster(seed)`` -> a started ``devsim.proxmox.Cluster``; stopped after the test."""
    started = []

    def start(seed=proxmox.demo, **kwargs):
        cluster = proxmox.start(tmp_path / f"pki{len(started)}", seed=seed, **kwargs)
        started.append(cluster)
        return cluster

    yield start
    for cluster in started:
        cluster.stop()


@pytest.fixture
def cluster(make_cluster):
    return make_cluster()


@pytest.fixture
def make_driver():
    drivers = []

    def build(cluster, credentials=None, **settings):
        driver = ProxmoxDriver({**cluster.provider_settings(), **settings}, dict(credentials or ROOT))
        drivers.append(driver)
        return driver

    yield build
    for driver in drivers:
        driver.close()


@pytest.fixture
def queued(monkeypatch):
    """Request ids admission hands to the provisioning task (run in the test, not by a worker)."""
    ids: list[int] = []
    monkeypatch.setattr("metering.quotas.admission.enqueue_provision", ids.append)
    return ids
