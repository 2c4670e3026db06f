"""``POST /api/v1/providers/test-connection/`` and ``/providers/{name}/test/``: the portal's Test
connection for scripts. Bad settings are a 400 like a create; the provider's answer is a 200 with
``ok``; nothing is saved; stored credentials are never sent to a changed endpoint."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from metering.models import CollectionState
from providers.models import ProviderAccount

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    client = APIClient()
    client.force_authenticate(get_user_model().objects.create_user("ops", is_staff=True))
    return client


def test_an_unsaved_account_is_checked_against_its_provider(staff, world, request):
    response = staff.post("/api/v1/providers/test-connection/",
                          {"kind": "fake", "settings": {"world": request.node.name}, "credentials": {"token": "t"}},
                          format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ok"] is True and body["problem"] is None and body["kind"] == "fake"
    assert body["message"] == f"Connected to fake 1.0 at world {request.node.name}: 0 resources, 0 projects"
    assert body["probe"]["counts"] == {"resources": 0, "projects": 0} and body["probe"]["version"] == "1.0"
    assert not ProviderAccount.objects.exists()


def test_libvirt_test_driver_through_the_api(staff):
    body = staff.post("/api/v1/providers/test-connection/", {"kind": "libvirt", "settings": {"uri": "test:///default"}},
                      format="json").json()
    assert body["ok"] is True and body["probe"]["product"] == "libvirt" and body["probe"]["counts"]["domains"] == 1


def test_the_providers_refusal_is_a_200_saying_why(staff):
    body = staff.post("/api/v1/providers/test-connection/",
                      {"kind": "libvirt", "settings": {"uri": "qemu+tcp://127.0.0.1:1/system"}}, format="json")
    assert body.status_code == 200
    assert body.json()["ok"] is False and body.json()["problem"] == "unreachable"
    assert "Connection refused" in body.json()["message"]


def test_bad_settings_are_a_400_with_field_errors_as_for_a_create(staff):
    response = staff.post("/api/v1/providers/test-connection/",
                          {"kind": "openstack", "settings": {"auth_url": "http://127.0.0.1:99999/v3", "timeout": "x"},
                           "credentials": {"username": "admin"}}, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert "the port must be a whole number" in errors["settings"]["auth_url"][0]
    assert "must be a whole number" in errors["settings"]["timeout"][0]
    assert errors["credentials"]["password"] == ["is required (or give application_credential_id and "
                                                  "application_credential_secret)"]
    assert staff.post("/api/v1/providers/test-connection/", {"kind": "nope"}, format="json").status_code == 400
    assert staff.post("/api/v1/providers/test-connection/", {"kind": "fake", "settings": "x"},
                      format="json").status_code == 400


def test_a_saved_account_is_checked_with_its_stored_credentials(staff, make_account, world, request):
    account = make_account(name="acc", world_name=request.node.name)
    before = ProviderAccount.objects.filter(pk=account.pk).values().get()
    states = CollectionState.objects.count()
    body = staff.post("/api/v1/providers/acc/test/", {}, format="json").json()
    assert body["ok"] is True and body["message"].startswith("Connected to fake 1.0")
    world.fail = __import__("providers.base", fromlist=["ProviderAuthError"]).ProviderAuthError("token refused")
    body = staff.post("/api/v1/providers/acc/test/", {}, format="json").json()
    assert (body["ok"], body["problem"], body["message"]) == (False, "credentials", "token refused")
    assert ProviderAccount.objects.filter(pk=account.pk).values().get() == before
    assert CollectionState.objects.count() == states  # a test records no health


def test_stored_credentials_never_follow_a_changed_endpoint(staff, make_account, world, request):
    make_account(name="acc", world_name=request.node.name)
    response = staff.post("/api/v1/providers/acc/test/", {"settings": {"world": "elsewhere"}}, format="json")
    assert response.status_code == 400
    assert "enter it again" in response.json()["credentials"]["token"][0]
    given = staff.post("/api/v1/providers/acc/test/", {"settings": {"world": "elsewhere"},
                                                       "credentials": {"token": "t2"}}, format="json")
    assert given.status_code == 200 and given.json()["problem"] == "unreachable"
    assert staff.post("/api/v1/providers/acc/test/", {"kind": "libvirt"}, format="json").status_code == 400


def test_only_staff_may_test(world, make_account, request):
    make_account(name="acc", world_name=request.node.name)
    client = APIClient()
    assert client.post("/api/v1/providers/test-connection/", {"kind": "fake"}, format="json").status_code == 401
    client.force_authenticate(get_user_model().objects.create_user("vera"))
    assert client.post("/api/v1/providers/test-connection/", {"kind": "fake"}, format="json").status_code == 403
    assert client.post("/api/v1/providers/acc/test/", {}, format="json").status_code == 403


def test_the_schema_documents_both_operations(staff):
    schema = staff.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "post" in schema["paths"]["/api/v1/providers/test-connection/"]
    assert "post" in schema["paths"]["/api/v1/providers/{name}/test/"]
    assert "ConnectionCheck" in schema["components"]["schemas"]
