"""An admitted provision request through the API costs a fixed, small number of queries besides the
admission itself (one round trip on PostgreSQL, ``metering.quotas.roundtrip``): the token with its
user, the project with the caller's role, the account with whether it maps tenants. Nothing grows
back one ORM query at a time (issue #21: each was a round trip before every decision)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from metering import quotas
from metering.models import ProvisionRequest
from portal.models import PersonalAccessToken, TokenScope

pytestmark = pytest.mark.django_db

BODY = {"project": "alpha", "name": "web", "kind": "vm", "vcpus": 1, "ram_mb": 512}


def test_an_admitted_post_by_token_costs_three_queries_besides_the_admission(
        api_world, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr("metering.quotas.admission.enqueue_provision", lambda request_id: None)
    member = api_world.users["member"]
    _, token = PersonalAccessToken.issue(member, scope=TokenScope.WRITE)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    body = {**BODY, "provider": api_world.account.name}
    client.post("/api/v1/provision-requests/", body, format="json")  # the token's last use is written once
    real_submit, inside = quotas.submit, []

    def submit(*args, **kwargs):  # the real admission; its own queries are told apart
        start = len(queries)
        try:
            return real_submit(*args, **kwargs)
        finally:
            inside.extend(q["sql"] for q in queries.captured_queries[start:])

    monkeypatch.setattr(quotas, "submit", submit)
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/provision-requests/", body, format="json")
    assert response.status_code == 202, response.content
    assert ProvisionRequest.objects.filter(requested_by=member).count() == 2
    around = [q["sql"] for q in queries.captured_queries if q["sql"] not in inside]
    tables = [sql.split('"', 2)[1] for sql in around]  # the table of the first column selected
    assert tables == ["portal_personalaccesstoken", "metering_project", "providers_provideraccount"], around
    assert not [sql for sql in inside if "metering_externalproject" in sql]  # the account said it maps none


def test_the_serializer_built_once_gives_each_request_fields_of_its_own(api_world):
    from portal.api.serializers import ProvisionRequestSerializer

    request = type("R", (), {"user": api_world.users["member"]})()
    bad = ProvisionRequestSerializer(data={**BODY, "provider": "nope"}, context={"request": request})
    assert not bad.is_valid()
    assert bad.errors == {"provider": ["Object with name=nope does not exist."]}
    good = ProvisionRequestSerializer(data={**BODY, "provider": api_world.account.name}, context={"request": request})
    assert good.is_valid(), good.errors
    assert good.validated_data["project"] == api_world.a
    assert good.fields["project"] is not bad.fields["project"]
    assert good.fields["project"].parent is good and bad.fields["project"].parent is bad
