"""A provision request is validated once, by ``ProvisionSpec.parse``: the API answers with the same
field errors admission would raise, and one list of kind aliases feeds the serializer, the schema
and admission."""

from __future__ import annotations

import pytest

from metering.choices import ChangeSource
from metering.models import ProvisionRequest
from metering.quotas import SpecError, submit
from providers.base import KIND_ALIASES, ProvisionSpec

pytestmark = pytest.mark.django_db

BAD = {"name": " ", "kind": "vm", "vcpus": "2"}  # no name, and a VM without its RAM


def test_the_api_and_admission_report_the_same_field_errors(api_world):
    with pytest.raises(SpecError) as direct:
        ProvisionSpec.parse(BAD)
    body = {"project": "alpha", "provider": api_world.account.name, **BAD}
    response = api_world.client("staff").post("/api/v1/provision-requests/", body, format="json")
    assert response.status_code == 400
    assert response.json() == {k: [v] for k, v in direct.value.errors.items()}
    with pytest.raises(SpecError) as admitted:
        submit(api_world.a, api_world.account, BAD, user=None, source=ChangeSource.API)
    assert admitted.value.errors == direct.value.errors
    assert not ProvisionRequest.objects.filter(spec__name=" ").exists()


def test_one_list_of_kind_aliases_feeds_serializer_schema_and_admission(api_world):
    schema = api_world.client("staff").get("/api/schema/", {"format": "json"}).json()
    kinds = schema["components"]["schemas"]["ProvisionKindEnum"]["enum"]
    assert kinds == list(KIND_ALIASES)
    for alias, kind in KIND_ALIASES.items():
        assert ProvisionSpec.parse({"name": "x", "kind": alias, "vcpus": 1, "ram_mb": 1, "disk_gb": 1}).kind == kind


def test_the_api_hands_admission_a_parsed_spec(api_world, monkeypatch, django_capture_on_commit_callbacks):
    seen = []
    monkeypatch.setattr("metering.quotas.admission.enqueue_provision", seen.append)
    body = {"project": "alpha", "provider": api_world.account.name, "name": "web", "kind": "server",
            "vcpus": "1.5", "ram_mb": 512}
    with django_capture_on_commit_callbacks(execute=True):
        response = api_world.client("staff").post("/api/v1/provision-requests/", body, format="json")
    assert response.status_code == 202, response.content
    stored = ProvisionRequest.objects.get(pk=seen[0]).spec
    assert (stored["kind"], stored["vcpus"], stored["ram_mb"]) == ("vm", "1.500", 512)
