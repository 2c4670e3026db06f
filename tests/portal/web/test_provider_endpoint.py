"""Credentials never follow a changed endpoint, in the portal's provider form and in Django admin:
pointing an account somewhere else needs its credentials entered again (issue 17, item 3)."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model

from providers.models import ProviderAccount

pytestmark = pytest.mark.django_db

AUTH_URL = "https://keystone.example.org:5000/v3"
EVIL = "https://evil.example.net/v3"
SECRET = {"username": "admin", "password": "s3cret-pw", "project_name": "admin"}


@pytest.fixture
def openstack():
    account = ProviderAccount(name="os1", kind="openstack", settings={"auth_url": AUTH_URL})
    account.credentials = SECRET
    account.save()
    return account


@pytest.fixture
def staff(client):
    client.force_login(get_user_model().objects.create_superuser("root", password="pw-for-tests-1"))
    return client


def _portal_form(auth_url: str, **credentials) -> dict:
    data = {"kind": "openstack", "name": "os1", "refresh_interval": "300", "enabled": "on",
            "setting_auth_url": auth_url, "setting_interface": "public", "setting_verify": "on",
            "setting_page_size": "1000", "setting_user_domain": "Default"}
    data.update({f"credential_{k}": v for k, v in credentials.items()})
    return data


def test_portal_form_asks_for_credentials_again_when_the_endpoint_changes(staff, openstack):
    url = f"/providers/{openstack.pk}/edit/"
    response = staff.post(url, _portal_form(EVIL))
    assert response.status_code == 200  # the form again, with errors
    errors = response.context["form"].errors
    assert "Auth URL changed" in errors["credential_password"][0] and "credential_username" in errors  # in words
    assert ProviderAccount.objects.get(pk=openstack.pk).settings["auth_url"] == AUTH_URL
    response = staff.post(url, _portal_form(EVIL, **{k: f"new-{v}" for k, v in SECRET.items()}))
    assert response.status_code == 302
    stored = ProviderAccount.objects.get(pk=openstack.pk)
    assert stored.settings["auth_url"] == EVIL and stored.credentials["password"] == "new-s3cret-pw"


def test_portal_form_keeps_credentials_when_the_endpoint_stays(staff, openstack):
    response = staff.post(f"/providers/{openstack.pk}/edit/", {**_portal_form(AUTH_URL), "setting_region": "Two"})
    assert response.status_code == 302
    stored = ProviderAccount.objects.get(pk=openstack.pk)
    assert stored.settings["region"] == "Two" and stored.credentials["password"] == "s3cret-pw"


def _admin_form(settings: dict, credentials: str = "") -> dict:
    return {"name": "os1", "kind": "openstack", "settings": json.dumps(settings), "credentials": credentials,
            "refresh_interval": "300", "enabled": "on"}


def test_admin_asks_for_credentials_again_when_the_endpoint_changes(staff, openstack):
    url = f"/admin/providers/provideraccount/{openstack.pk}/change/"
    response = staff.post(url, _admin_form({"auth_url": EVIL}))
    assert response.status_code == 200
    assert "auth_url changed" in str(response.context["adminform"].form.errors["credentials"])
    assert ProviderAccount.objects.get(pk=openstack.pk).settings["auth_url"] == AUTH_URL
    response = staff.post(url, _admin_form({"auth_url": EVIL}, json.dumps({**SECRET, "password": "new-pw"})))
    assert response.status_code == 302
    stored = ProviderAccount.objects.get(pk=openstack.pk)
    assert stored.settings["auth_url"] == EVIL and stored.credentials["password"] == "new-pw"


def test_admin_keeps_credentials_when_the_endpoint_stays(staff, openstack):
    response = staff.post(f"/admin/providers/provideraccount/{openstack.pk}/change/",
                          _admin_form({"auth_url": AUTH_URL, "region": "Two"}))
    assert response.status_code == 302
    stored = ProviderAccount.objects.get(pk=openstack.pk)
    assert stored.settings["region"] == "Two" and stored.credentials["password"] == "s3cret-pw"
