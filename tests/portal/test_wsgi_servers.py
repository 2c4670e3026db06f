"""The API answers the same under every WSGI server: an admitted provision request is 202 with a
plain-string ``Location`` under wsgiref's strict header check (Django's live server) and under
gunicorn; ``/healthz`` is liveness, ``/readyz`` readiness."""

from __future__ import annotations

import pytest
import requests

from metering.models import Membership, Project, ProvisionRequest
from portal.models import PersonalAccessToken, TokenScope
from tests.servers import Gunicorn

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def member_token(django_user_model, make_account):
    project = Project.objects.create(slug="alpha", name="Alpha")
    make_account(name="fake1")
    user = django_user_model.objects.create_user("member", password="pw-member")
    Membership.objects.create(user=user, project=project, role="member")
    return PersonalAccessToken.issue(user, scope=TokenScope.WRITE)[1]


def provision(base_url: str, token: str) -> requests.Response:
    body = {"project": "alpha", "provider": "fake1", "name": "web-1", "kind": "vm", "vcpus": 1, "ram_mb": 512}
    return requests.post(f"{base_url}/api/v1/provision-requests/", json=body, timeout=30,
                         headers={"Authorization": f"Bearer {token}"})


def assert_admitted(response: requests.Response) -> None:
    assert response.status_code == 202, response.text[:500]
    assert response.headers["Location"] == response.json()["url"]
    assert response.headers["Location"].endswith(f"/api/v1/provision-requests/{response.json()['id']}/")
    assert ProvisionRequest.objects.get(pk=response.json()["id"]).state == "pending"


def test_admitted_request_is_202_with_location_under_wsgiref(live_server, member_token, settings, monkeypatch):
    monkeypatch.setattr("metering.quotas.admission.enqueue_provision", lambda request_id: None)
    assert_admitted(provision(live_server.url, member_token))


def test_admitted_request_is_202_with_location_under_gunicorn(member_token, tmp_path):
    with Gunicorn(tmp_path, workers=2) as web:
        assert_admitted(provision(web.url, member_token))
        assert requests.get(f"{web.url}/healthz", timeout=5).json() == {"status": "ok"}
        ready = requests.get(f"{web.url}/readyz", timeout=10)
        assert ready.status_code == 200 and ready.json()["database"] == "ok" and ready.json()["broker"] == "ok"


def test_readyz_is_503_naming_the_broker_when_it_is_down(client, monkeypatch):
    assert client.get("/readyz").status_code == 200
    # Celery reads this variable before its settings; nothing listens on port 1
    monkeypatch.setenv("CELERY_BROKER_WRITE_URL", "redis://127.0.0.1:1/0")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ok", "broker": "unreachable"}
    assert client.get("/healthz").status_code == 200  # liveness does not depend on either


def test_readyz_is_503_when_the_database_is_down_and_healthz_stays_200(tmp_path):
    down = {"DATABASE_URL": "postgres://postgres@127.0.0.1:1/nowhere", "CELERY_BROKER_URL": "redis://127.0.0.1:1/0"}
    with Gunicorn(tmp_path, workers=1, env=down) as web:
        response = requests.get(f"{web.url}/readyz", timeout=30)
        assert response.status_code == 503
        assert response.json() == {"status": "unavailable", "database": "unreachable", "broker": "unreachable"}
        assert requests.get(f"{web.url}/healthz", timeout=5).status_code == 200
