"""The broker is down (issue 17, items 1 and 6): a provision request or a refresh answers 503 with
Retry-After within a few seconds, nothing stays reserved or queued, and all works again when the
broker is back. A private Redis (port 8679) is stopped and started by the test."""

from __future__ import annotations

import time

import kombu.pools
import pytest
import redis
from rest_framework.test import APIClient

from metering.choices import RequestState, RunStatus
from metering.models import CollectionState, ProvisionRequest, RefreshRun, Reservation
from metering.tasks import dispatch_refreshes
from portal.celery import app
from tests.hostile.invariants import violations
from tests.hostile.redis_server import private_redis

pytestmark = pytest.mark.django_db(transaction=True)
PORT = 8679


def reset_pools():
    """Forget the app's broker connections and producers (as Celery does after a fork)."""
    if app._pool is not None:
        app._pool.force_close_all()
    kombu.pools.reset()
    app._pool = None
    app.__dict__.get("amqp") and setattr(app.amqp, "_producer_pool", None)


@pytest.fixture
def broker(monkeypatch):
    """The Celery app pointed at a private Redis for the test; restored afterwards."""
    server = private_redis(PORT)
    monkeypatch.setenv("CELERY_BROKER_URL", server.url)  # Celery prefers it to the setting (CI sets it)
    names = ("broker_url", "result_backend", "task_always_eager")
    before = {name: app.conf[name] for name in names}
    app.conf.update(broker_url=server.url, result_backend=server.url, task_always_eager=False)
    reset_pools()
    yield server
    server.stop()
    app.conf.update(before)
    reset_pools()


def staff(api_world):
    client = APIClient()
    client.force_authenticate(api_world.users["staff"])
    return client


BODY = {"project": "alpha", "name": "vm-1", "kind": "vm", "vcpus": "1", "ram_mb": 512}


def test_provision_request_with_the_broker_down_is_a_quick_503_and_holds_nothing(api_world, broker):
    broker.stop()
    started = time.monotonic()
    response = staff(api_world).post("/api/v1/provision-requests/", {**BODY, "provider": api_world.account.name},
                                     format="json")
    took = time.monotonic() - started
    assert response.status_code == 503, response.content
    assert int(response["Retry-After"]) > 0 and took < 5, took
    request = ProvisionRequest.objects.get(spec__name="vm-1")
    assert request.state == RequestState.FAILED and "queue" in request.message
    assert not Reservation.objects.filter(request=request, active=True).exists()
    # the broker is back: the same request is accepted and its task is waiting in the queue
    broker.start()
    reset_pools()
    again = staff(api_world).post("/api/v1/provision-requests/", {**BODY, "provider": api_world.account.name},
                                  format="json")
    assert again.status_code == 202, again.content
    assert redis.Redis.from_url(broker.url).llen("provisioning") == 1
    assert violations() == []


def test_refresh_with_the_broker_down_is_a_quick_503_and_blocks_no_later_refresh(api_world, broker):
    broker.stop()
    started = time.monotonic()
    response = staff(api_world).post("/api/v1/refresh-runs/", {"provider": api_world.account.name}, format="json")
    assert response.status_code == 503 and int(response["Retry-After"]) > 0, response.content
    assert time.monotonic() - started < 5
    run = RefreshRun.objects.filter(account=api_world.account).order_by("-pk").first()
    assert run.status == RunStatus.FAILED and "queue" in run.error
    broker.start()
    reset_pools()
    CollectionState.objects.filter(account=api_world.account).update(last_refresh_started=None)
    assert dispatch_refreshes() == [api_world.account.pk]  # not held back by the failed run
    assert violations() == []


def test_the_refresh_page_and_command_say_so_without_a_500(api_world, broker):
    from django.test import Client

    from tests.hostile.test_bad_input import run_command

    broker.stop()
    client = Client()
    client.force_login(api_world.users["staff"])
    response = client.post(f"/providers/{api_world.account.pk}/refresh/", follow=True)
    assert response.status_code == 200 and "queue" in response.content.decode()
    code, err = run_command("refresh", "--provider", api_world.account.name)
    assert code == 1 and "queue" in err and "Traceback" not in err
