"""Fixtures shared by every test: users, projects, fake-driver accounts."""

from __future__ import annotations

import gc
import os
import subprocess
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from devsim.fake import FakeDriver, FakeWorld
from providers.base import Kind, ObservedResource, State

T0 = datetime(2026, 11, 1, tzinfo=UTC)
ENGINE_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "docker-engine.sh"


def _engine(command: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(ENGINE_SCRIPT), command], capture_output=True, text=True, timeout=180)


@pytest.fixture
def gc_on():
    """A test that pauses the cyclic garbage collector starts with the collector on, and leaves it as it was, whatever it did."""
    was = gc.isenabled()
    gc.enable()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


@pytest.fixture(scope="session")
def docker_host():
    """A Docker-API engine: ``$DOCKER_HOST`` when set (``make test`` starts one), otherwise the
    repository's podman service, started here and stopped again if this session started it."""
    if os.environ.get("DOCKER_HOST"):
        yield os.environ["DOCKER_HOST"]
        return
    already_running = _engine("status").returncode == 0
    started = _engine("start")
    assert started.returncode == 0, f"docker-engine.sh start failed:\n{started.stderr}"
    line = [text for text in started.stdout.splitlines() if text.startswith("DOCKER_HOST=")][-1]
    yield line.split("=", 1)[1]
    if not already_running:
        _engine("stop")


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


@pytest.fixture(autouse=True)
def _empty_cache():
    """Django's cache (the month-to-date figures) starts empty in every test."""
    from django.core.cache import cache

    cache.clear()
    yield


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


@pytest.fixture
def eager():
    """Run Celery tasks in-process (webhook, stop-newest, push-down) and re-raise their errors."""
    from portal.celery import app

    names = ("task_always_eager", "task_eager_propagates")
    before = {name: app.conf[name] for name in names}
    app.conf.update(dict.fromkeys(names, True))
    yield
    app.conf.update(before)
