"""Production shape under load: gunicorn with 4 workers on the production settings, PostgreSQL
(with its connection pool) and Redis (broker and shared cache); 32 API clients at once ask for VMs
against one quota. Not one admission over the limit, not one response >= 500."""

from __future__ import annotations

import os
import threading
from collections import Counter
from urllib.parse import urlsplit

import pytest
import redis
import requests
from django.conf import settings
from django.db import connection

from metering.choices import ChangeSource, RequestState
from metering.models import Membership, Project, ProvisionRequest, Reservation
from metering.quotas import set_limits
from portal.models import PersonalAccessToken, TokenScope
from providers.models import ProviderAccount
from tests.servers import Gunicorn

pytestmark = [pytest.mark.integration, pytest.mark.smoke, pytest.mark.django_db(transaction=True)]

CLIENTS, REQUESTS_EACH, LIMIT = 32, 3, 20


def redis_server() -> str:
    url = settings.CELERY_BROKER_URL if settings.CELERY_BROKER_URL.startswith("redis") else "redis://127.0.0.1:6379/7"
    parts = urlsplit(url)
    return f"redis://{parts.netloc}"


@pytest.fixture
def production_servers():
    ci = os.environ.get("GLASSPANE_CI") == "1"
    if connection.vendor != "postgresql":
        if ci:
            pytest.fail("CI runs on PostgreSQL (DATABASE_URL); this test needs it")
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://... (CI does)")
    server = redis_server()
    try:
        redis.Redis.from_url(server, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(f"needs Redis at {server} (scripts/test.sh starts one): {exc}")
    broker = redis.Redis.from_url(f"{server}/7")
    yield {"CELERY_BROKER_URL": f"{server}/7", "CELERY_RESULT_BACKEND": f"{server}/7",
           "GLASSPANE_CACHE_URL": f"{server}/6"}
    broker.delete("provisioning")  # the admitted requests' tasks: no worker runs in this test
    broker.close()


def test_32_clients_against_one_quota_through_gunicorn(production_servers, django_user_model, tmp_path):
    project = Project.objects.create(slug="alpha", name="Alpha")
    ProviderAccount.objects.create(name="cloud", kind="openstack", settings={"auth_url": "http://127.0.0.1:1/v3"})
    set_limits(project, {"vms": LIMIT}, user=None, source=ChangeSource.CLI)
    tokens = []
    for i in range(CLIENTS):
        user = django_user_model.objects.create_user(f"member{i}")
        Membership.objects.create(user=user, project=project, role="member")
        tokens.append(PersonalAccessToken.issue(user, scope=TokenScope.WRITE)[1])
    env = {**production_servers, "DJANGO_SETTINGS_MODULE": "portal.settings.production",
           "GLASSPANE_ALLOWED_HOSTS": "127.0.0.1", "GLASSPANE_SSL_REDIRECT": "0", "GLASSPANE_DB_POOL": "4"}
    statuses: Counter = Counter()
    lock = threading.Lock()
    with Gunicorn(tmp_path, workers=4, env=env) as web:
        start = threading.Barrier(CLIENTS)

        def client(i: int, token: str) -> None:
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {token}"
            start.wait()
            for j in range(REQUESTS_EACH):
                body = {"project": "alpha", "provider": "cloud", "name": f"vm-{i}-{j}", "kind": "vm",
                        "vcpus": 1, "ram_mb": 512}
                response = session.post(f"{web.url}/api/v1/provision-requests/", json=body, timeout=120)
                with lock:
                    statuses[response.status_code] += 1
                if response.status_code == 202:
                    assert response.headers["Location"] == response.json()["url"]

        threads = [threading.Thread(target=client, args=(i, t)) for i, t in enumerate(tokens)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ready = requests.get(f"{web.url}/readyz", timeout=30)
        log = web.log.read_text()

    assert sum(n for code, n in statuses.items() if code >= 500) == 0, (statuses, log[-3000:])
    assert statuses == {202: LIMIT, 403: CLIENTS * REQUESTS_EACH - LIMIT}, statuses
    assert ProvisionRequest.objects.filter(state=RequestState.PENDING).count() == LIMIT
    assert Reservation.objects.filter(active=True, project=project).count() == LIMIT
    assert ready.status_code == 200, ready.text
    assert "Traceback" not in log, log[-3000:]
