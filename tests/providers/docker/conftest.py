"""Fixtures for the Docker driver tests: a real Docker-API engine and containers on it.

``docker_base_url`` is the session's engine (``docker_host`` in ``tests/conftest.py``).
Every container a test creates carries the label ``glasspane.test=<session id>`` and is removed at
the end of the test that made it, and again at the end of the session as a safety net.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import docker
import docker.errors
import pytest

from providers.docker.driver import DockerDriver

REPO = Path(__file__).resolve().parents[3]
TEST_LABEL = "glasspane.test"
SESSION = uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def docker_base_url(docker_host):
    return docker_host


@pytest.fixture(scope="session")
def docker_client(docker_base_url):
    client = docker.DockerClient(base_url=docker_base_url, version="auto", timeout=60)
    yield client
    for container in client.containers.list(all=True, filters={"label": f"{TEST_LABEL}={SESSION}"}):
        container.remove(force=True)
    client.close()


@pytest.fixture(scope="session")
def busybox_image(docker_client):
    """The image the engine script imports; override with GLASSPANE_TEST_IMAGE for another engine."""
    name = os.environ.get("GLASSPANE_TEST_IMAGE", "localhost/busybox:latest")
    docker_client.images.get(name)  # fails loudly if the engine lacks it
    return name


@pytest.fixture
def make_container(docker_client, busybox_image):
    """Run a labelled busybox container (network ``none`` unless told); removed after the test."""
    made = []

    def make(command=("sleep", "3600"), *, labels=None, network_mode="none", start=True, **kwargs):
        all_labels = {TEST_LABEL: SESSION, **(labels or {})}
        if start:
            container = docker_client.containers.run(
                busybox_image,
                list(command),
                detach=True,
                labels=all_labels,
                network_mode=network_mode,
                **kwargs,
            )
        else:
            container = docker_client.containers.create(
                busybox_image, list(command), labels=all_labels, network_mode=network_mode, **kwargs
            )
        made.append(container)
        return container

    yield make
    for container in made:
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass


@pytest.fixture
def docker_driver(docker_base_url):
    """A factory for drivers on the test engine; every driver made is closed after the test."""
    drivers = []

    def make(**settings):
        settings.setdefault("base_url", docker_base_url)
        cleaned, credentials = DockerDriver.validate(settings)
        driver = DockerDriver(cleaned, credentials)
        drivers.append(driver)
        return driver

    yield make
    for driver in drivers:
        driver.close()
