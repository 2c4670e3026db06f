"""Fixtures shared by every test: users, projects, fake-driver accounts."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from providers.base import Kind, ObservedResource, State
from providers.fake import FakeDriver, FakeWorld

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def world(request):
    """A fresh FakeWorld registered under the test's name."""
    name = request.node.name
    FakeDriver.worlds[name] = FakeWorld(now=T0)
    yield FakeDriver.worlds[name]
    FakeDriver.worlds.pop(name, None)


@pytest.fixture
def make_account(db):
    from providers.models import ProviderAccount

    def make(name="fake1", world_name="w", kind="fake", interval=300, **kw):
        account = ProviderAccount(name=name, kind=kind, settings={"world": world_name}, refresh_interval=interval, **kw)
        account.credentials = {"token": "s3cret"}
        account.save()
        return account

    return make


@pytest.fixture
def fake_account(make_account, world, request):
    return make_account(world_name=request.node.name)


@pytest.fixture
def project(db):
    from metering.models import Project

    return Project.objects.create(slug="alpha", name="Alpha")


def vm(ext, name=None, state=State.RUNNING, vcpus="2", ram_mb=2048, disk_gb="20", project="alpha", **kw):
    """An ObservedResource for a VM, with sizes given as text for exact Decimals."""
    return ObservedResource(
        external_id=ext, kind=kw.pop("kind", Kind.VM), name=name or ext, state=state,
        vcpus=Decimal(vcpus) if vcpus is not None else None, ram_mb=ram_mb,
        disk_gb=Decimal(disk_gb) if disk_gb is not None else None, project_hint=project, **kw,
    )
