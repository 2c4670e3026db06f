"""Credentials never follow a changed endpoint through the API: a PATCH of only ``auth_url`` (or
``base_url``, or a libvirt ``uri``) is refused until the credentials are given again (issue 17,
item 3)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from providers.models import ProviderAccount

pytestmark = pytest.mark.django_db

CASES = {
    "openstack": ({"auth_url": "https://keystone.example.org:5000/v3"},
                  {"username": "admin", "password": "s3cret-pw", "project_name": "admin"},
                  {"auth_url": "https://evil.example.net/v3"}),
    "docker": ({"base_url": "tcp://engine.example.org:2376", "tls": True},
               {"tls_client_cert": "CERT", "tls_client_key": "KEY"},
               {"base_url": "tcp://evil.example.net:2376", "tls": True}),
    "libvirt": ({"uri": "qemu+tls://kvm1.example.org/system"}, {"username": "u", "password": "p"},
                {"uri": "qemu+tls://evil.example.net/system"}),
}


def stored(kind, settings, credentials) -> ProviderAccount:
    """An account saved as a migration or an older release left it (no service involved)."""
    account = ProviderAccount(name="acc", kind=kind, settings=settings)
    account.credentials = credentials
    account.save()
    return account


@pytest.fixture
def staff():
    client = APIClient()
    client.force_authenticate(get_user_model().objects.create_user("ops", is_staff=True))
    return client


@pytest.mark.parametrize("kind", list(CASES))
def test_patching_the_endpoint_alone_is_refused_and_keeps_everything(staff, kind):
    settings, credentials, elsewhere = CASES[kind]
    before = stored(kind, settings, credentials)
    response = staff.patch("/api/v1/providers/acc/", {"settings": elsewhere}, format="json")
    assert response.status_code == 400
    errors = response.json()["credentials"]
    assert set(errors) == set(credentials) and all("changed" in m[0] for m in errors.values())
    after = ProviderAccount.objects.get(name="acc")
    assert after.settings == before.settings and after.credentials == before.credentials


@pytest.mark.parametrize("kind", list(CASES))
def test_the_endpoint_changes_with_credentials_given_again(staff, kind):
    settings, credentials, elsewhere = CASES[kind]
    stored(kind, settings, credentials)
    again = {k: f"new-{v}" for k, v in credentials.items()}
    response = staff.patch("/api/v1/providers/acc/", {"settings": elsewhere, "credentials": again}, format="json")
    assert response.status_code == 200, response.content
    after = ProviderAccount.objects.get(name="acc")
    assert all(after.settings[k] == v for k, v in elsewhere.items())
    assert all(after.credentials[k] == v for k, v in again.items())


def test_credentials_are_kept_key_by_key_and_removed_with_null(staff):
    settings, credentials, _ = CASES["libvirt"]
    stored("libvirt", settings, credentials)
    response = staff.patch("/api/v1/providers/acc/", {"credentials": {"password": "p2"}}, format="json")
    assert response.status_code == 200 and ProviderAccount.objects.get(name="acc").credentials == {
        "username": "u", "password": "p2"}
    response = staff.patch("/api/v1/providers/acc/", {"credentials": {"username": None, "password": None}},
                           format="json")
    assert response.status_code == 200 and ProviderAccount.objects.get(name="acc").credentials == {}
