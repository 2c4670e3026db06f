"""The real OpenStack control plane of ``scripts/openstack-real.sh``, shared by every test here.

Locally the tests skip when it is not running; with ``GLASSPANE_CI=1`` they fail instead. Each
test works in Keystone projects of its own (``tenant``), so tests never see each other's servers
in the figures they compare; the Glasspane account they add sees the whole cloud, as an operator's.
"""

from __future__ import annotations

import os
import time
import uuid
from io import StringIO

import openstack
import pytest
import requests
from django.core.management import call_command

from providers.models import ProviderAccount

AUTH_URL = os.environ.get("GLASSPANE_OPENSTACK_AUTH_URL", "http://127.0.0.1:5000/v3")
ADMIN = {"username": "admin", "password": "admin", "project_name": "admin"}


def _absent() -> str:
    """Why the control plane cannot be used, or '' when Keystone and Nova answer."""
    try:
        requests.get(AUTH_URL, timeout=5).raise_for_status()
        conn = connect()
        try:
            conn.compute.get("/", microversion=None).raise_for_status()
            if not list(conn.compute.hypervisors()):
                return "Nova has no compute node"
        finally:
            conn.close()
    except Exception as exc:  # noqa: BLE001 - any failure means "not up", said in the message
        return f"{type(exc).__name__}: {exc}"
    return ""


def connect(project_id: str | None = None, username: str = "admin", password: str = "admin"):
    """An openstacksdk connection that ignores clouds.yaml and OS_* variables."""
    scope = {"project_id": project_id} if project_id else {"project_name": "admin", "project_domain_name": "Default"}
    return openstack.connect(auth_url=AUTH_URL, username=username, password=password, user_domain_name="Default",
                             load_yaml_config=False, load_envvars=False, api_timeout=60, **scope)


@pytest.fixture(scope="session")
def real_cloud():
    """An admin connection to the real cloud (skip or, under CI, fail when it is not up)."""
    problem = _absent()
    if problem:
        message = f"the real OpenStack at {AUTH_URL} is not up (scripts/openstack-real.sh start): {problem}"
        if os.environ.get("GLASSPANE_CI") == "1":
            pytest.fail(message)
        pytest.skip(message)
    conn = connect()
    yield conn
    conn.close()


class Tenant:
    """A Keystone project of one test, with admin holding the member and admin roles in it."""

    def __init__(self, admin, name: str):
        self.admin = admin
        self.project = admin.identity.create_project(name=name, domain_id="default")
        user = admin.identity.find_user("admin")
        for role in ("admin", "member"):
            admin.identity.assign_project_role_to_user(self.project, user, admin.identity.find_role(role))
        self.conn = connect(self.project.id)
        self.id, self.name = self.project.id, name

    def boot(self, name: str, flavor: str = "m1.tiny", wait: bool = True):
        image = self.admin.image.find_image("tiny-raw")
        server = self.conn.compute.create_server(name=name, image_id=image.id,
                                                 flavor_id=self.admin.compute.find_flavor(flavor).id,
                                                 networks="none")
        return self.conn.compute.wait_for_server(server, wait=120) if wait else server

    def boot_many(self, *specs: tuple[str, str]) -> list:
        """Boot ``(name, flavor)`` servers together, then wait for all of them."""
        started = [self.boot(name, flavor, wait=False) for name, flavor in specs]
        return [self.conn.compute.wait_for_server(server, wait=120) for server in started]

    def delete(self, server) -> None:
        self.conn.compute.delete_server(server)
        self.conn.compute.wait_for_delete(server, wait=120)

    def cleanup(self) -> None:
        """Delete its servers and the project, so later refreshes read fewer projects."""
        for server in self.admin.compute.servers(all_projects=True, project_id=self.id):
            self.admin.compute.delete_server(server)
        self.conn.close()
        self.admin.identity.delete_project(self.project)


@pytest.fixture
def tenant(real_cloud):
    """``tenant(label)`` -> a fresh ``Tenant``; its servers are deleted after the test."""
    made = []

    def make(label: str = "t") -> Tenant:
        made.append(Tenant(real_cloud, f"gp-{label}-{uuid.uuid4().hex[:8]}"))
        return made[-1]

    yield make
    for t in made:
        t.cleanup()


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def add_account(name: str = "real", **settings) -> ProviderAccount:
    args = ["provider", "add", name, "--kind", "openstack", "--setting", f"auth_url={AUTH_URL}",
            "--setting", "auto_create_projects=true", "--credential", "username=admin", "--credential",
            "password=admin", "--credential", "project_name=admin", "--interval", "300"]
    for key, value in settings.items():
        args += ["--setting", f"{key}={value}"]
    run(*args)
    return ProviderAccount.objects.get(name=name)


def wait_until(check, timeout: float = 60, step: float = 1):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)
