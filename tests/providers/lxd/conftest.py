"""Fixtures for the real-LXD tests: the daemon ``scripts/lxd-host.sh`` runs, and a private project.

The daemon is found through ``GLASSPANE_LXD_SOCKET`` (``.ci/run`` exports it after starting the
host) or at ``var/lxd/unix.socket``. Absent: the ``real_lxd`` tests skip, except under
``GLASSPANE_CI=1``, where they fail. Every test works in LXD projects named ``gp-<session>-...``
that are deleted, with their instances, at the end of the session.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pylxd
import pylxd.exceptions
import pytest

from providers.lxd.driver import LXDDriver

REPO = Path(__file__).resolve().parents[3]
SESSION = uuid.uuid4().hex[:6]
IMAGE = "busybox"


def _socket() -> str | None:
    path = os.environ.get("GLASSPANE_LXD_SOCKET") or str(REPO / "var" / "lxd" / "unix.socket")
    if not os.path.exists(path):
        return None
    try:
        pylxd.Client(endpoint=path, timeout=5)
    except (pylxd.exceptions.ClientConnectionFailed, OSError):
        return None
    return path


@pytest.fixture(scope="session")
def lxd_socket():
    path = _socket()
    if path is None:
        message = ("no LXD daemon answers (start one with scripts/lxd-host.sh start, or set "
                   "GLASSPANE_LXD_SOCKET)")
        if os.environ.get("GLASSPANE_CI") == "1":
            pytest.fail(f"GLASSPANE_CI=1 but {message}")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def lxd_client(lxd_socket):
    client = pylxd.Client(endpoint=lxd_socket, timeout=60)
    yield client
    for project in client.api.projects.get(params={"recursion": 1}).json()["metadata"]:
        if project["name"].startswith(f"gp-{SESSION}-"):
            _drop_project(lxd_socket, client, project["name"])


def _drop_project(socket: str, client, name: str) -> None:
    scoped = pylxd.Client(endpoint=socket, project=name, timeout=60)
    for instance in scoped.instances.all():
        if instance.status != "Stopped":
            instance.stop(force=True, wait=True)
        instance.delete(wait=True)
    client.api.projects[name].delete()


@pytest.fixture
def lxd_project(lxd_client, lxd_socket):
    """A fresh LXD project sharing the default project's images and profiles (so the busybox image
    and the root disk are there), with optional limits; deleted after the test."""
    made = []

    def make(suffix: str = "p", **limits) -> str:
        name = f"gp-{SESSION}-{suffix}"
        config = {"features.images": "false", "features.profiles": "false", **limits}
        lxd_client.api.projects.post(json={"name": name, "config": config})
        made.append(name)
        return name

    yield make
    for name in made:
        _drop_project(lxd_socket, lxd_client, name)


@pytest.fixture
def launch(lxd_client, lxd_socket):
    """Create (and start, unless told) a busybox instance in a project with the given config."""

    def run(project: str, name: str, *, config=None, size: str | None = None, start: bool = True):
        scoped = pylxd.Client(endpoint=lxd_socket, project=project, timeout=60)
        devices = {"root": {"type": "disk", "path": "/", "pool": "default", "size": size}} if size else {}
        instance = scoped.instances.create({"name": name, "source": {"type": "image", "alias": IMAGE},
                                            "config": config or {}, "devices": devices}, wait=True)
        if start:
            instance.start(wait=True)
        return instance

    return run


@pytest.fixture
def lxd_driver(lxd_socket):
    driver = LXDDriver({"endpoint": f"unix://{lxd_socket}", "default_image": IMAGE})
    yield driver
    driver.close()


@pytest.fixture
def queued(monkeypatch):
    """Request ids admission hands to the provisioning task (run by the test itself)."""
    ids: list[int] = []
    monkeypatch.setattr("metering.quotas.admission.enqueue_provision", ids.append)
    return ids
