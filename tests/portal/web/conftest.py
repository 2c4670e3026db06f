"""A small world for the page tests: two projects, four users (staff, viewer and member of alpha,
an outsider), one fake-driver account with a host, VMs, a container and a volume refreshed every
5 minutes for two hours (with utilization samples, so there are rollups)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from devsim.fake import FakeDriver, FakeWorld
from metering import collector
from providers.base import Kind, ObservedResource, State, UtilizationSample
from tests.conftest import T0, vm

PASSWORD = "pw-for-tests-1"


def build_dashboard(make_account, world_name: str = "dashboard") -> dict:
    from django.contrib.auth import get_user_model

    from metering.models import Membership, Project

    User = get_user_model()
    alpha = Project.objects.create(slug="alpha", name="Alpha", description="The alpha team")
    beta = Project.objects.create(slug="beta", name="Beta")
    users = {
        "staff": User.objects.create_user("admin", password=PASSWORD, is_staff=True),
        "viewer": User.objects.create_user("vera", password=PASSWORD),
        "member": User.objects.create_user("mia", password=PASSWORD),
        "outsider": User.objects.create_user("otto", password=PASSWORD),
    }
    Membership.objects.create(user=users["viewer"], project=alpha, role="viewer")
    Membership.objects.create(user=users["member"], project=alpha, role="member")

    world = FakeWorld(now=T0)
    FakeDriver.worlds[world_name] = world
    account = make_account(name="fake1", world_name=world_name)
    world.put(ObservedResource("h1", Kind.HOST, "host-1", State.RUNNING, vcpus=Decimal(32), ram_mb=131072))
    world.put(vm("va1", name="alpha-web", parent_external_id="h1", labels={"env": "prod"}))
    world.put(vm("va2", name="alpha-db", vcpus="4", ram_mb=8192, parent_external_id="h1"))
    world.put(vm("ca1", name="alpha-worker", kind=Kind.CONTAINER, vcpus="0.5", ram_mb=512, disk_gb=None,
                 parent_external_id="va1"))
    world.put(vm("vola1", name="alpha-data", kind=Kind.VOLUME, vcpus=None, ram_mb=None, disk_gb="100",
                 state=State.IN_USE))
    world.put(vm("vb1", name="beta-batch", project="beta", parent_external_id="h1"))
    for step in range(25):  # T0 .. T0+2h every 5 minutes
        at = T0 + timedelta(minutes=5 * step)
        if step == 12:
            world.put(vm("va2", name="alpha-db", vcpus="4", ram_mb=8192, parent_external_id="h1",
                         state=State.STOPPED))
        world.samples = [UtilizationSample("va1", at, cpu_time_ns=step * 150 * 10**9,
                                           memory_used_mb=Decimal(1024 + 10 * step))]
        world.now = at
        collector.refresh(account)
    return {"alpha": alpha, "beta": beta, "users": users, "account": account, "world": world,
            "world_name": world_name}


@pytest.fixture
def dashboard(make_account, request):
    name = f"dashboard-{request.node.name}"
    data = build_dashboard(make_account, name)
    yield data
    FakeDriver.worlds.pop(name, None)


@pytest.fixture
def as_user(client, dashboard):
    """``as_user("viewer")`` logs the client in as one of the dashboard's users."""

    def login(role: str):
        client.force_login(dashboard["users"][role])
        return client

    return login


@pytest.fixture
def eager_tasks():
    from portal.celery import app

    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = before
