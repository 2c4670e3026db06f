"""The connection-check service and the probe contract: one service for the form, admin, API and
command; it validates like a save, keeps the stored credentials an edit would keep, classifies the
driver's errors, bounds the wait, and never writes anything."""

from __future__ import annotations

import pytest

from providers import connection_check, registry
from providers.base import (
    Driver,
    Health,
    Probe,
    ProviderAuthError,
    ProviderDataError,
    ProviderError,
    Setting,
    count_phrase,
    humanize,
    network_reason,
    url_problem,
)
from providers.configure import ConfigurationError
from providers.models import ProviderAccount

pytestmark = pytest.mark.django_db


def test_summary_says_what_answered_where_and_how_much():
    probe = Probe(product="nova", version="2.96", where="http://k:5000/v3", counts={"servers": 3, "projects": 1})
    assert probe.summary() == "Connected to nova 2.96 at http://k:5000/v3: 3 servers, 1 project"
    capped = Probe(product="Kubernetes", version="v1.31.0", where="https://k8s:6443", host="k8s",
                   counts={"pods": 500, "nodes": 1234}, capped=frozenset({"pods"}), note="KubeVirt not installed")
    assert capped.summary() == "Connected to Kubernetes v1.31.0 at https://k8s:6443 (host k8s): 500+ pods, " \
                               "1,234 nodes; KubeVirt not installed"
    assert count_phrase("active", 1) == "1 active" and count_phrase("VMs", 1) == "1 VM"


@pytest.mark.parametrize("name,words", [("auth_url", "Auth URL"), ("project_domain", "Project domain"),
                                        ("application_credential_id", "Application credential ID"),
                                        ("ca_bundle", "CA bundle"), ("uri", "URI")])
def test_setting_keys_become_words(name, words):
    assert humanize(name) == words == Setting(name).title
    assert Setting(name, label="Something else").title == "Something else"


def test_every_built_in_setting_has_a_label_in_words():
    for kind in registry.kinds():
        driver = registry.driver_class(kind)
        for spec in (*driver.settings_schema, *driver.credentials_schema):
            assert "_" not in spec.title and spec.title != spec.name and spec.title[0].isupper(), (kind, spec.name)


@pytest.mark.parametrize("url,problem", [
    ("https://keystone.example.org:5000/v3", None), ("http://[::1]:5000/v3", None),
    ("http://127.0.0.1:0/", "the port must be a whole number from 1 to 65535"),
    ("http://host:port/", "the port must be a whole number from 1 to 65535"),
    ("keystone:5000", "must start with http:// or https://"),
])
def test_url_problem(url, problem):
    found = url_problem(url, ("http", "https"))
    assert (found is None) if problem is None else (problem in found)


def test_network_reason_looks_through_wrappers():
    inner = ConnectionRefusedError(111, "Connection refused")
    try:
        try:
            raise inner
        except OSError as exc:
            raise RuntimeError("HTTPConnectionPool(...): Max retries exceeded") from exc
    except RuntimeError as outer:
        assert network_reason(outer) == "connection refused"
    assert network_reason(ValueError("something else\nsecond line")) == "something else …"


def test_fake_world_answers_and_a_missing_one_is_unreachable(world):
    world.projects = []
    result = connection_check.check("fake", {"world": "test_fake_world_answers_and_a_missing_one_is_unreachable"},
                                    {"token": "t"})
    assert result.ok and result.problem == "" and result.message.startswith("Connected to fake 1.0")
    assert result.as_json()["probe"]["counts"] == {"resources": 0, "projects": 0}
    missing = connection_check.check("fake", {"world": "nowhere"}, {})
    assert not missing.ok and missing.problem == "unreachable"
    assert missing.message == "fake world 'nowhere' does not exist"
    assert missing.as_json() == {"ok": False, "kind": "fake", "problem": "unreachable",
                                 "message": "fake world 'nowhere' does not exist", "probe": None,
                                 "seconds": missing.as_json()["seconds"]}


@pytest.mark.parametrize("error,problem,label", [
    (ProviderAuthError("token refused"), "credentials", "Credentials refused"),
    (ProviderDataError("nonsense answer"), "answer", "Unexpected answer"),
    (ProviderError("refused for another reason"), "error", "Refused"),
])
def test_the_drivers_error_classes_decide_the_problem(world, request, error, problem, label):
    world.fail = error
    result = connection_check.check("fake", {"world": request.node.name}, {})
    assert (result.ok, result.problem, result.problem_label, result.message) == (False, problem, label, str(error))


def test_bad_settings_raise_like_a_save_and_unknown_kinds_too():
    with pytest.raises(ConfigurationError) as caught:
        connection_check.check("openstack", {"auth_url": ""}, {})
    assert caught.value.settings["auth_url"] == "is required" and "password" in caught.value.credentials
    with pytest.raises(ConfigurationError) as caught:
        connection_check.check("nope", {}, {})
    assert "unknown provider kind 'nope'" in caught.value.kind


def test_an_edit_keeps_the_stored_credentials_and_nothing_is_saved(make_account, world, request):
    account = make_account(name="edited", world_name=request.node.name)
    stored = ProviderAccount.objects.filter(pk=account.pk).values().get()
    result = connection_check.check(None, {"world": request.node.name}, {"token": ""}, account=account)
    assert result.ok
    draft = connection_check.build(None, {"world": request.node.name}, {"token": ""}, account=account)
    assert draft.credentials == {"token": "s3cret"}  # blank keeps the stored one, as a save would
    moved = connection_check.build(None, {"world": "elsewhere"}, {"token": "new"}, account=account)
    assert moved.settings == {"world": "elsewhere"} and moved.credentials == {"token": "new"}
    with pytest.raises(ConfigurationError) as caught:  # a new endpoint drops the stored token, as a save does
        connection_check.check(None, {"world": "elsewhere"}, {}, account=account)
    assert "enter it again" in caught.value.credentials["token"]
    assert ProviderAccount.objects.filter(pk=account.pk).values().get() == stored
    assert ProviderAccount.objects.count() == 1


class _Slow(Driver):
    """A driver whose probe outlasts the check's limit (the time a dead host takes to time out)."""

    kind = "slow"

    def health(self):
        return Health(True, "fine")

    def inventory(self, since=None):
        raise NotImplementedError

    def probe(self):
        import time

        time.sleep(3)
        return Probe(product="slow", version="1", where="")


class _Old(Driver):
    """A third-party driver written before ``probe()`` existed: the fallback reports its health."""

    kind = "old"
    label = "Old platform"

    def health(self):
        return Health(True, "2 things answer")

    def inventory(self, since=None):
        raise NotImplementedError


def test_a_slow_probe_is_cut_at_the_limit(settings):
    account = ProviderAccount(kind="slow")
    account.driver = lambda: _Slow({})
    result = connection_check.probe_account(account, timeout=0.5)
    assert not result.ok and result.problem == "unreachable" and result.seconds < 2
    assert result.message.startswith("no answer within 0.5 s")


def test_a_driver_without_its_own_probe_reports_its_health():
    account = ProviderAccount(kind="old")
    account.driver = lambda: _Old({})
    result = connection_check.probe_account(account)
    assert result.ok and result.message == "Connected to Old platform; 2 things answer"


def test_a_driver_that_cannot_be_built_is_a_settings_problem():
    account = ProviderAccount(kind="broken")

    def build():
        raise ValueError("Port out of range 0-65535")

    account.driver = build
    result = connection_check.probe_account(account)
    assert (result.ok, result.problem) == (False, "settings")
    assert result.message == "the settings cannot be used: Port out of range 0-65535"


def test_a_driver_bug_is_said_in_words_not_raised(caplog):
    class _Buggy(_Old):
        def probe(self):
            raise KeyError("oops")

    account = ProviderAccount(kind="old")
    account.driver = lambda: _Buggy({})
    result = connection_check.probe_account(account)
    assert (result.ok, result.problem) == (False, "error")
    assert result.message == "the old driver failed unexpectedly: KeyError: 'oops'"
    assert "failed unexpectedly" in caplog.text

