"""The add/edit provider form (issue 19 item 1): never a 500 whatever is typed, for every kind;
labels in words; Test connection answers from the provider without saving anything."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from metering.models import CollectionState
from providers.models import ProviderAccount

pytestmark = pytest.mark.django_db

KINDS = ("libvirt", "docker", "openstack", "lxd", "kubernetes", "proxmox")


@pytest.fixture
def staff(client):
    client.force_login(get_user_model().objects.create_user("admin", is_staff=True))
    return client


def post(client, kind, url=None, **fields):
    return client.post(url or f"/providers/add/?kind={kind}", {"kind": kind, **fields})


# what a person may type, per kind: (case, fields, {field: expected message part})
CASES = {
    "libvirt": [
        ("empty", {}, {"name": "required", "setting_uri": "is required"}),
        ("half", {"name": "kvm1", "credential_username": "sasl-user"},
         {"setting_uri": "is required", "credential_password": "give both username and password"}),
        ("bad url", {"name": "kvm1", "setting_uri": "qemu//host/system"}, {"setting_uri": "must look like"}),
        ("bad port", {"name": "kvm1", "setting_uri": "qemu+tcp://host:99999/system"},
         {"setting_uri": "the port must be a whole number from 1 to 65535"}),
        ("not a number", {"name": "kvm1", "setting_uri": "test:///default", "setting_connect_timeout": "ten",
                          "refresh_interval": "often"},
         {"setting_connect_timeout": "must be a whole number, got 'ten'", "refresh_interval": "whole number"}),
    ],
    "docker": [
        ("empty", {}, {"setting_base_url": "is required"}),
        ("half", {"name": "d1", "setting_base_url": "tcp://10.0.0.5:2376", "setting_tls": "on",
                  "credential_tls_client_cert": "PEM"}, {"credential_tls_client_key": "go together"}),
        ("bad url", {"name": "d1", "setting_base_url": "docker.example.org"}, {"setting_base_url": "must start with"}),
        ("bad port", {"name": "d1", "setting_base_url": "tcp://127.0.0.1:99999"},
         {"setting_base_url": "the port must be a whole number from 1 to 65535"}),
        ("not a number", {"name": "d1", "setting_base_url": "tcp://127.0.0.1:2375", "setting_timeout": "1e3x",
                          "setting_stats_workers": "eight"},
         {"setting_timeout": "must be a whole number", "setting_stats_workers": "must be a whole number"}),
    ],
    "openstack": [
        ("empty", {}, {"setting_auth_url": "is required", "credential_password": "is required"}),
        ("half", {"name": "os1", "setting_auth_url": "http://127.0.0.1:5000/v3", "credential_username": "admin"},
         {"credential_password": "is required", "credential_project_name": "is required"}),
        ("bad url", {"name": "os1", "setting_auth_url": "keystone:5000/v3"},
         {"setting_auth_url": "must start with http:// or https://"}),
        ("bad port", {"name": "os1", "setting_auth_url": "http://127.0.0.1:99999/v3"},
         {"setting_auth_url": "the port must be a whole number from 1 to 65535"}),
        ("not a number", {"name": "os1", "setting_auth_url": "http://k:5000/v3", "setting_page_size": "lots",
                          "setting_timeout": "30s"},
         {"setting_page_size": "must be a whole number", "setting_timeout": "must be a whole number"}),
    ],
    "lxd": [
        ("empty", {}, {"setting_endpoint": "is required"}),
        ("half", {"name": "l1", "setting_endpoint": "https://lxd.example.org:8443"},
         {"credential_client_cert": "authenticates clients by certificate"}),
        ("bad url", {"name": "l1", "setting_endpoint": "lxd.example.org"}, {"setting_endpoint": "must be unix://"}),
        ("bad port", {"name": "l1", "setting_endpoint": "https://lxd.example.org:0",
                      "credential_client_cert": "c", "credential_client_key": "k"},
         {"setting_endpoint": "the port must be a whole number from 1 to 65535"}),
        ("not a number", {"name": "l1", "setting_endpoint": "/var/lib/lxd/unix.socket", "setting_timeout": "soon"},
         {"setting_timeout": "must be a whole number"}),
    ],
    "kubernetes": [
        ("empty", {}, {"credential_token": "exactly one", "setting_server": "is required"}),
        ("half", {"name": "k1", "setting_server": "https://k8s.example.org:6443"},
         {"credential_token": "exactly one"}),
        ("bad url", {"name": "k1", "setting_server": "k8s.example.org:6443", "credential_token": "t"},
         {"setting_server": "must start with https:// or http://"}),
        ("bad port", {"name": "k1", "setting_server": "https://k8s.example.org:65536", "credential_token": "t"},
         {"setting_server": "the port must be a whole number from 1 to 65535"}),
        ("not a number", {"name": "k1", "setting_server": "https://k8s:6443", "credential_token": "t",
                          "setting_page_size": "many", "setting_watch_seconds": "inf"},
         {"setting_page_size": "must be a whole number", "setting_watch_seconds": "must be a finite number"}),
    ],
    "proxmox": [
        ("empty", {}, {"setting_host": "is required", "credential_username": "is required"}),
        ("half", {"name": "p1", "setting_host": "pve.example.org", "credential_username": "root"},
         {"credential_username": "must name its realm", "credential_password": "is required"}),
        ("bad url", {"name": "p1", "setting_host": "https://pve one"}, {"setting_host": "is not a host name"}),
        ("bad port", {"name": "p1", "setting_host": "pve.example.org", "setting_port": "70000"},
         {"setting_port": "must be a whole number from 1 to 65535, got 70000"}),
        ("not a number", {"name": "p1", "setting_host": "pve.example.org", "setting_port": "eighty",
                          "setting_workers": "4.5"},
         {"setting_port": "must be a whole number, got 'eighty'", "setting_workers": "must be a whole number"}),
    ],
}


@pytest.mark.parametrize("kind,case,fields,expected",
                         [(kind, *case) for kind in KINDS for case in CASES[kind]],
                         ids=[f"{kind}-{case[0]}" for kind in KINDS for case in CASES[kind]])
def test_whatever_is_typed_the_form_answers_with_field_errors_never_500(staff, kind, case, fields, expected):
    for action in ("save", "test"):
        page = post(staff, kind, action=action, **fields)
        assert page.status_code == 200, (action, page.status_code)
        errors = page.context["form"].errors
        for field, message in expected.items():
            if action == "test" and field in ("name", "refresh_interval"):
                continue  # a connection test does not need the account's name
            assert field in errors and message in " ".join(errors[field]), (action, field, errors)
    assert not ProviderAccount.objects.exists()


def test_an_edit_emptied_or_half_filled_answers_with_field_errors(staff):
    account = ProviderAccount(name="os1")
    account.configure({"auth_url": "http://127.0.0.1:5000/v3"},
                      {"username": "admin", "password": "pw", "project_name": "admin"}, kind="openstack")
    url = f"/providers/{account.pk}/edit/"
    for fields in ({}, {"name": "os1", "setting_auth_url": "http://elsewhere:5000/v3"},
                   {"name": "os1", "setting_auth_url": "http://127.0.0.1:5000/v3", "setting_timeout": "x"}):
        page = post(staff, "openstack", url, **fields)
        assert page.status_code == 200 and page.context["form"].errors
    # a new endpoint drops the stored password: it must be typed again
    errors = post(staff, "openstack", url, name="os1", refresh_interval="300",
                  setting_auth_url="http://elsewhere:5000/v3").context["form"].errors
    assert "enter it again" in errors["credential_password"][0]
    account.refresh_from_db()
    assert account.settings["auth_url"] == "http://127.0.0.1:5000/v3" and account.credentials["password"] == "pw"


def test_the_edit_page_of_a_kind_no_longer_installed_explains_instead_of_500(staff):
    """Before: the form looked the driver up and the page answered 500 (UnknownKind)."""
    gone = ProviderAccount.objects.create(name="legacy", kind="vsphere", settings={"host": "vc"})
    page = staff.get(f"/providers/{gone.pk}/edit/")
    assert page.status_code == 200
    assert "No installed driver handles the kind" in page.content.decode() and "vsphere" in page.content.decode()
    assert staff.post(f"/providers/{gone.pk}/edit/", {"name": "legacy"}).status_code == 200


@pytest.mark.parametrize("kind", KINDS)
def test_labels_are_words_not_setting_keys(staff, kind):
    import re

    page = staff.get(f"/providers/add/?kind={kind}").content.decode()
    labels = re.findall(r"<label for=\"id_[^\"]+\">([^<*]+)", page)
    assert len(labels) >= 4 and all("_" not in label for label in labels), labels
    if kind == "openstack":
        assert {"Auth URL", "Project domain", "User domain", "Project name", "Password"} <= \
               {label.strip() for label in labels}
    assert "Test connection" in page


def test_test_connection_answers_json_and_saves_nothing(staff, world, request):
    name = request.node.name
    before = CollectionState.objects.count()
    answer = staff.post("/providers/add/?kind=fake", {"kind": "fake", "action": "test", "setting_world": name,
                                                       "credential_token": "t"}, HTTP_ACCEPT="application/json")
    assert answer.status_code == 200 and answer["Content-Type"] == "application/json"
    body = answer.json()
    assert body["ok"] is True and body["message"] == "Connected to fake 1.0 at world " + name + ": 0 resources, 0 projects"
    assert body["problem_label"] == "" and body["errors"] == {}
    failed = staff.post("/providers/add/?kind=fake", {"kind": "fake", "action": "test", "setting_world": "gone"},
                        HTTP_ACCEPT="application/json").json()
    assert failed["ok"] is False and failed["problem"] == "unreachable"
    assert failed["problem_label"] == "Cannot reach the provider" and failed["message"] == "fake world 'gone' does not exist"
    invalid = staff.post("/providers/add/?kind=fake", {"kind": "fake", "action": "test"},
                         HTTP_ACCEPT="application/json").json()
    assert invalid["ok"] is False and invalid["problem"] == "fields"
    assert invalid["errors"] == {"setting_world": ["This field is required."]}  # said once
    assert not ProviderAccount.objects.exists() and CollectionState.objects.count() == before


def test_test_connection_without_the_script_renders_the_answer_and_keeps_what_was_typed(staff, world, request):
    page = staff.post("/providers/add/?kind=fake", {"kind": "fake", "action": "test", "name": "fake9",
                                                    "setting_world": request.node.name, "credential_token": "secret-t"})
    content = page.content.decode()
    assert page.status_code == 200 and "Connection works" in content and "Connected to fake 1.0" in content
    assert 'value="fake9"' in content and "secret-t" not in content  # a typed secret is not sent back
    assert "enter them again before saving" in content and not ProviderAccount.objects.exists()


def test_test_connection_on_edit_uses_the_stored_credential_when_left_empty(staff, make_account, world, request):
    account = make_account(name="fake2", world_name=request.node.name)
    seen = []
    from devsim.fake import FakeDriver

    original = FakeDriver.probe

    def probe(self):
        seen.append(dict(self.credentials))
        return original(self)

    FakeDriver.probe = probe
    try:
        body = staff.post(f"/providers/{account.pk}/edit/", {"kind": "fake", "action": "test", "name": "fake2",
                                                             "setting_world": request.node.name,
                                                             "credential_token": ""},
                          HTTP_ACCEPT="application/json").json()
    finally:
        FakeDriver.probe = original
    assert body["ok"] is True and seen == [{"token": "s3cret"}]
    account.refresh_from_db()
    assert account.name == "fake2" and account.credentials == {"token": "s3cret"}


def test_messages_name_other_settings_by_their_labels(staff):
    errors = post(staff, "lxd", name="l1", refresh_interval="300", setting_endpoint="https://lxd.example.org:8443",
                  credential_trust_password="pw").context["form"].errors
    assert errors["credential_trust_password"] == [
        "a trust password adds a client certificate: give Client certificate and Client key too"]
    errors = post(staff, "openstack", name="o1", refresh_interval="300",
                  setting_auth_url="http://k:5000/v3").context["form"].errors
    assert errors["credential_password"] == [
        "is required (or give Application credential ID and Application credential secret)"]
