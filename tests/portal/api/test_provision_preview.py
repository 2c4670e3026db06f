"""``POST /api/v1/provision-requests/preview/``: the launch form's quota impact, from the same
service, for scripts. Validates like creating a request, records nothing, answers 200 with the
refusal a submission would get."""

from __future__ import annotations

import pytest

from metering.choices import ChangeSource
from metering.models import ProvisionRequest
from metering.quotas import set_limits

pytestmark = pytest.mark.django_db

URL = "/api/v1/provision-requests/preview/"


def body(api_world, **fields):
    return {"project": "alpha", "provider": api_world.account.name, "name": "new-vm", "kind": "vm",
            "vcpus": "4", "ram_mb": 2048, **fields}


def test_preview_answers_the_impact_per_key_and_the_nova_refusal(api_world):
    set_limits(api_world.a, {"vcpus": 5, "vms": 2}, user=None, source=ChangeSource.CLI)  # web-a has 2 vCPUs
    before = ProvisionRequest.objects.count()
    response = api_world.client("member").post(URL, body(api_world), format="json")
    assert response.status_code == 200, response.content
    answer = response.json()
    impacts = {i["key"]: i for i in answer["impacts"] if i["account"] is None}
    assert impacts["vcpus"] == {"key": "vcpus", "account": None, "limit": 5, "unlimited": False, "in_use": "2",
                                "reserved": "0", "requested": "4", "after": "6", "state": "over"}
    assert (impacts["vms"]["after"], impacts["vms"]["state"]) == ("2", "at")
    assert impacts["budget"]["unlimited"] and impacts["budget"]["state"] == "ok"
    assert answer["fits"] is False
    assert answer["refusal"]["detail"] == "Quota exceeded for vcpus: Requested 4, but already used 2 of 5 vcpus"
    assert answer["spec"]["vcpus"] == "4.000" and answer["spec"]["kind"] == "vm"  # as the request stores it
    assert ProvisionRequest.objects.count() == before  # nothing recorded
    # the same body, created: refused with the very words of the preview
    created = api_world.client("member").post("/api/v1/provision-requests/", body(api_world), format="json")
    assert created.status_code == 403 and created.json()["detail"] == answer["refusal"]["detail"]


def test_preview_of_a_fitting_request_and_bad_input(api_world):
    response = api_world.client("member").post(URL, body(api_world, vcpus="1"), format="json")
    assert response.status_code == 200 and response.json()["fits"] is True and response.json()["refusal"] is None
    bad = api_world.client("member").post(URL, body(api_world, ram_mb=None, name=" "), format="json")
    assert bad.status_code == 400
    assert set(bad.json()) == {"name", "ram_mb"}


def test_viewers_may_not_preview(api_world):
    response = api_world.client("viewer").post(URL, body(api_world), format="json")
    assert response.status_code == 403


def test_the_schema_describes_the_preview(api_world):
    schema = api_world.client("staff").get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/provision-requests/preview/"]["post"]
    assert "200" in operation["responses"]
    assert "ProvisionPreview" in schema["components"]["schemas"]
