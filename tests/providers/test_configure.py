"""One service configures a provider account (``ProviderAccount.configure``): settings errors apart
from credentials errors, stored credentials kept on an edit, and dropped, and asked for again, when
the account would connect somewhere else. Also the ``provider`` command, which calls it."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from providers.configure import ConfigurationError
from providers.models import ProviderAccount

pytestmark = pytest.mark.django_db

OPENSTACK = {"auth_url": "https://keystone.example.org:5000/v3"}
SECRET = {"username": "admin", "password": "s3cret-pw", "project_name": "admin"}
ACCOUNTS = {
    "openstack": ("auth_url", OPENSTACK, SECRET, "https://evil.example.net/v3"),
    "docker": ("base_url", {"base_url": "tcp://engine.example.org:2376", "tls": True},
               {"tls_client_cert": "CERT", "tls_client_key": "KEY"}, "tcp://evil.example.net:2376"),
    "libvirt": ("uri", {"uri": "qemu+tls://kvm1.example.org/system"}, {"username": "u", "password": "p"},
                "qemu+tls://evil.example.net/system"),
}


def account(kind="openstack"):
    _, settings, credentials, _ = ACCOUNTS[kind]
    return ProviderAccount(name=f"{kind}1", kind=kind).configure(settings, credentials)


@pytest.mark.parametrize("kind", list(ACCOUNTS))
def test_a_changed_endpoint_drops_the_stored_credentials_and_asks_for_them_again(kind):
    endpoint, settings, credentials, elsewhere = ACCOUNTS[kind]
    stored = account(kind)
    with pytest.raises(ConfigurationError) as caught:
        ProviderAccount.objects.get(pk=stored.pk).configure({**settings, endpoint: elsewhere})
    assert set(caught.value.credentials) == set(credentials) and not caught.value.settings
    assert all(f"{endpoint} changed" in message for message in caught.value.credentials.values())
    fresh = ProviderAccount.objects.get(pk=stored.pk)
    assert fresh.settings[endpoint] == settings[endpoint] and fresh.credentials == stored.credentials
    fresh.configure({**settings, endpoint: elsewhere}, {k: f"new-{v}" for k, v in credentials.items()})
    fresh = ProviderAccount.objects.get(pk=stored.pk)
    assert fresh.settings[endpoint] == elsewhere
    assert {k: fresh.credentials[k] for k in credentials} == {k: f"new-{v}" for k, v in credentials.items()}


def test_an_edit_elsewhere_keeps_credentials_key_by_key():
    stored = account()
    stored.configure({**OPENSTACK, "region": "RegionTwo"}, {"password": "", "username": "operator"})
    fresh = ProviderAccount.objects.get(pk=stored.pk)
    assert fresh.settings["region"] == "RegionTwo"
    assert (fresh.credentials["username"], fresh.credentials["password"]) == ("operator", "s3cret-pw")
    fresh.configure(None, {"username": None, "password": None, "project_name": None,
                           "application_credential_id": "ac1", "application_credential_secret": "acs"})
    creds = ProviderAccount.objects.get(pk=stored.pk).credentials
    assert "password" not in creds and creds["application_credential_id"] == "ac1"


def test_settings_errors_and_credentials_errors_are_apart():
    with pytest.raises(ConfigurationError) as caught:
        ProviderAccount(name="x", kind="openstack").configure({"auth_url": "", "interface": "nowhere"}, {"tokn": "x"})
    assert set(caught.value.settings) == {"auth_url", "interface"}
    assert {"tokn", "username", "password", "project_name"} <= set(caught.value.credentials)
    assert not ProviderAccount.objects.exists()


def test_a_changed_kind_keeps_no_credentials():
    stored = account()
    with pytest.raises(ConfigurationError) as caught:
        stored.configure({"uri": "test:///default"}, kind="libvirt")
    assert "kind changed" in caught.value.credentials["password"]


def test_the_command_edits_through_the_same_service(capsys):
    call_command("provider", "add", "os1", "--kind", "openstack", "--setting", f"auth_url={OPENSTACK['auth_url']}",
                 *[f"--credential={k}={v}" for k, v in SECRET.items()])
    with pytest.raises(CommandError) as caught:
        call_command("provider", "edit", "os1", "--setting", "auth_url=https://evil.example.net/v3")
    assert caught.value.returncode == 2 and "--credential" in str(caught.value) and "auth_url changed" in str(
        caught.value)
    stored = ProviderAccount.objects.get(name="os1")
    assert stored.settings["auth_url"] == OPENSTACK["auth_url"] and stored.credentials["password"] == "s3cret-pw"
    call_command("provider", "edit", "os1", "--setting", "region=RegionTwo", "--interval", "60", "--disabled")
    stored = ProviderAccount.objects.get(name="os1")
    assert (stored.settings["region"], stored.refresh_interval, stored.enabled) == ("RegionTwo", 60, False)
    assert stored.credentials["password"] == "s3cret-pw"
    call_command("provider", "edit", "os1", "--setting", "auth_url=https://new.example.net/v3",
                 *[f"--credential={k}=new-{v}" for k, v in SECRET.items()])
    stored = ProviderAccount.objects.get(name="os1")
    assert stored.settings["auth_url"] == "https://new.example.net/v3" and stored.credentials["password"] == "new-s3cret-pw"
    with pytest.raises(CommandError) as missing:
        call_command("provider", "edit", "nope")
    assert missing.value.returncode == 2 and "no such provider account" in str(missing.value)
