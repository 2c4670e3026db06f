"""A real Celery worker process on Redis refreshes real accounts; a worker killed mid-refresh has
its task delivered again and the ledger ends exactly as one clean refresh leaves it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from celery import Celery
from django.conf import settings
from django.db import connection

from devsim.libvirt_nodes import write_node_xml
from metering.choices import RunStatus
from metering.models import CollectionState, Project, RefreshRun, Resource, UsageSegment
from providers.models import ProviderAccount
from tests.hostile.invariants import violations

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = settings.CELERY_BROKER_URL if settings.CELERY_BROKER_URL.startswith("redis") else "redis://127.0.0.1:6379/7"
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def redis_broker():
    """A Celery client of its own on Redis, so the suite's app and its broker stay untouched."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(f"these tests need Redis at {REDIS_URL} (scripts/test.sh starts redis-server): {exc}")
    client = Celery("it", broker=REDIS_URL, backend=REDIS_URL, set_as_current=False)
    client.conf.broker_transport_options = {"visibility_timeout": 4}
    client.conf.task_serializer = client.conf.result_serializer = "json"
    yield client
    client.close()


class Workers:
    def __init__(self, queue: str, client: Celery):
        self.queue, self.procs, self.client = queue, [], client

    def send(self, *args):
        return self.client.send_task("metering.refresh_account", args=args, queue=self.queue)

    def start(self) -> subprocess.Popen:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.test", "DATABASE_URL": database_url(),
               "CELERY_BROKER_URL": REDIS_URL, "CELERY_RESULT_BACKEND": REDIS_URL,
               "GLASSPANE_VISIBILITY_TIMEOUT": "4"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool", "solo", "-Q", self.queue,
             "-n", f"{self.queue}-{len(self.procs)}@%h", "--without-heartbeat", "--without-gossip",
             "--without-mingle", "--loglevel", "WARNING"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.procs.append(proc)
        return proc

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()


@pytest.fixture
def workers(redis_broker):
    w = Workers(f"it-{uuid.uuid4().hex[:8]}", redis_broker)
    yield w
    w.stop()


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_killed_worker_redelivers_and_nothing_is_counted_twice(workers, tmp_path):
    for slug in ("alpha", "beta"):
        Project.objects.create(slug=slug, name=slug)
    path = tmp_path / "node.xml"
    facts = write_node_xml(path, 1500, ["alpha", "beta"], seed=3)
    account = ProviderAccount.objects.create(name="lab", kind="libvirt", settings={"uri": f"test://{path}"})
    run = RefreshRun.objects.create(account=account, trigger="test")
    first = workers.start()
    workers.send(account.pk, run.pk, "test")
    wait_for(lambda: RefreshRun.objects.get(pk=run.pk).status == RunStatus.RUNNING, 90, "the refresh to start")
    first.send_signal(signal.SIGKILL)  # mid-refresh: opening and reading 1,500 domains takes seconds
    first.wait(10)
    assert RefreshRun.objects.get(pk=run.pk).status == RunStatus.RUNNING
    workers.start()
    wait_for(lambda: RefreshRun.objects.get(pk=run.pk).status in (RunStatus.OK, RunStatus.PARTIAL), 120,
             "the redelivered refresh to finish")
    assert Resource.objects.filter(account=account, kind__in=["vm", "container"]).count() == len(facts)
    per_resource = UsageSegment.objects.filter(account=account).values("resource").distinct().count()
    assert UsageSegment.objects.filter(account=account).count() == per_resource == len(facts) + 1
    assert UsageSegment.objects.filter(account=account, open=True).count() == len(facts) + 1
    assert violations() == []  # the ledger invariants of the fault suite (tests/hostile/invariants.py)


def test_worker_refreshes_a_docker_account(workers, docker_host):
    account = ProviderAccount.objects.create(name="engine", kind="docker", settings={"base_url": docker_host})
    workers.start()
    result = workers.send(account.pk, None, "test")
    outcome = result.get(timeout=120)
    assert outcome["status"] in (RunStatus.OK, RunStatus.PARTIAL)
    assert Resource.objects.filter(account=account, kind="host").count() == 1
    assert CollectionState.objects.get(account=account).health == "ok"
