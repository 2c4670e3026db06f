"""Breach detection after refreshes with the fake driver: open, close, webhook, policies."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from metering import collector
from metering.choices import BreachPolicy, ChangeSource
from metering.models import QuotaBreach
from metering.quotas import QuotaExceeded, set_limits, submit
from providers.base import State
from tests.conftest import T0, vm

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook():
    """A local HTTP server on 127.0.0.1 that records the JSON bodies POSTed to it."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers["Content-Type"], json.loads(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.received = received
    server.url = f"http://127.0.0.1:{server.server_port}/breach"
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def refresh(fake_account, world, django_capture_on_commit_callbacks):
    """Refresh the fake account a minute later each time, running what commits trigger."""
    clock = {"at": T0}

    def run():
        world.now = clock["at"]
        clock["at"] += timedelta(minutes=1)
        with django_capture_on_commit_callbacks(execute=True):
            return collector.refresh(fake_account)

    return run


def test_a_resource_behind_glasspanes_back_opens_a_breach_and_removing_it_closes_it(
        world, project, refresh, hook, eager):
    project.breach_webhook = hook.url
    project.save()
    set_limits(project, {"vms": 1}, user=None, source=ChangeSource.CLI)
    world.put(vm("v1"))
    refresh()
    assert not QuotaBreach.objects.exists()
    world.put(vm("v2"))  # created straight on the platform
    refresh()
    breach = QuotaBreach.objects.get()
    assert (breach.key, breach.limit, breach.used, breach.over_by, breach.closed_at) == ("vms", 1, 2, 1, None)
    assert breach.opened_at is not None
    refresh()  # still over: the same breach stays open, nothing new is sent
    assert QuotaBreach.objects.count() == 1 and len(hook.received) == 1
    world.remove("v2")
    refresh()
    breach.refresh_from_db()
    assert breach.closed_at is not None and breach.closed_at >= breach.opened_at
    kinds = [body["event"] for _, body in hook.received]
    assert kinds == ["breach.opened", "breach.closed"]
    content_type, opened = hook.received[0]
    assert content_type == "application/json"
    assert opened == {**opened, "project": "alpha", "key": "vms", "limit": 1, "used": "2", "over_by": "1",
                      "policy": "alert", "breach": breach.pk}


def test_stop_newest_stops_the_most_recent_resources_over_the_limit_through_the_driver(
        world, project, refresh, eager):
    project.breach_policy = BreachPolicy.STOP_NEWEST
    project.save()
    set_limits(project, {"vcpus": 4}, user=None, source=ChangeSource.CLI)
    world.put(vm("old", vcpus="2", created_at=T0 - timedelta(days=3)))
    world.put(vm("mid", vcpus="2", created_at=T0 - timedelta(days=2)))
    world.put(vm("new", vcpus="1", created_at=T0 - timedelta(days=1)))
    world.put(vm("newest", vcpus="1", created_at=T0 - timedelta(hours=1)))
    refresh()  # 6 vCPUs of 4: the two newest (1 + 1) make up the excess
    assert {e: r.state for e, r in world.resources.items()} == {
        "old": State.RUNNING, "mid": State.RUNNING, "new": State.STOPPED, "newest": State.STOPPED}
    breach = QuotaBreach.objects.get()
    assert [(a["external_id"], a["action"], a["result"]) for a in breach.actions] == [
        ("newest", "stop", "stopped"), ("new", "stop", "stopped")]
    refresh()  # stopped VMs still hold their vCPUs: the breach stays open, nothing is stopped twice
    breach.refresh_from_db()
    assert breach.closed_at is None and len(breach.actions) == 2


def test_alert_policy_changes_nothing_on_the_platform(world, project, refresh, eager):
    set_limits(project, {"vms": 0}, user=None, source=ChangeSource.CLI)
    world.put(vm("v1"))
    refresh()
    assert QuotaBreach.objects.get().actions == [] and world.resources["v1"].state == State.RUNNING


def test_block_new_refuses_requests_until_the_project_is_back_under(fake_account, world, project, refresh, queued):
    project.breach_policy = BreachPolicy.BLOCK_NEW
    project.save()
    set_limits(project, {"vms": 1, "vcpus": 100}, user=None, source=ChangeSource.CLI)
    world.put(vm("v1"))
    world.put(vm("v2"))
    refresh()
    container = {"name": "c", "kind": "container", "vcpus": 1, "ram_mb": 64}  # vms limit is not even asked
    with pytest.raises(QuotaExceeded) as err:
        submit(project, fake_account, container, user=None, source=ChangeSource.API)
    assert "blocked" in err.value.message
    world.remove("v2")
    refresh()
    assert submit(project, fake_account, container, user=None, source=ChangeSource.API).pk


def test_lowering_a_limit_below_usage_opens_a_breach_at_the_next_refresh(world, project, refresh):
    world.put(vm("v1", ram_mb=4096))
    refresh()
    set_limits(project, {"ram_mb": 1024}, user=None, source=ChangeSource.PORTAL)
    refresh()
    breach = QuotaBreach.objects.get()
    assert (breach.key, breach.over_by) == ("ram_mb", 3072)
