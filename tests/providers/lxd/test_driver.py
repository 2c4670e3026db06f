"""The LXD driver without a daemon: settings validation, bad records, an unreachable daemon."""

from __future__ import annotations

import pytest

from providers.base import ProviderUnavailable, SettingsError
from providers.lxd.driver import LXDDriver
from tests.providers.lxd import shapes


class _Node:
    """Stands in for pylxd's API tree: ``api.projects["x"].state`` is the path ``projects/x/state``."""

    def __init__(self, path=""):
        self.path = path

    def __getattr__(self, name):
        return _Node(f"{self.path}/{name}".lstrip("/"))

    def __getitem__(self, name):
        return _Node(f"{self.path}/{name}")


class _Client:
    host_info = shapes.SERVER
    api = _Node()


def driver_answering(documents, monkeypatch):
    """A driver whose API answers come from ``documents`` (path -> metadata)."""
    driver = LXDDriver({"endpoint": "unix:///nonexistent/unix.socket"})
    driver.connection._client = _Client()
    monkeypatch.setattr(driver, "_get", lambda node, what, **params: documents[node.path])
    return driver


def test_a_bad_record_is_reported_and_the_rest_still_collected(monkeypatch):
    bad_size = shapes.container(name="bad", config={"limits.memory": "lots"})
    broken = {"project": "team-a"}
    driver = driver_answering({
        "resources": shapes.RESOURCES,
        "instances": [shapes.container(), bad_size, broken, "garbage"],
        "projects": [shapes.PROJECT, {"description": "nameless"}],
        "projects/team-a/state": shapes.PROJECT_STATE,
    }, monkeypatch)
    inventory = driver.inventory()
    assert {r.external_id for r in inventory.resources} == {"lxd-807b7390db45ab52bcade1462ff56371", "team-a/a1"}
    messages = [issue.message for issue in inventory.issues]
    assert any("team-a/bad" in m and "limits.memory" in m for m in messages)
    assert any("without a name" in m for m in messages) and any("not an object" in m for m in messages)
    assert not inventory.complete  # unreadable instances are not deleted ones
    assert inventory.quotas["team-a"]["vcpus"].limit == 2


def test_unreadable_project_limits_cost_only_that_project(monkeypatch):
    driver = driver_answering({
        "resources": shapes.RESOURCES,
        "instances": [shapes.container()],
        "projects": [{**shapes.PROJECT, "config": {"limits.memory": "huge"}}],
        "projects/team-a/state": shapes.PROJECT_STATE,
    }, monkeypatch)
    inventory = driver.inventory()
    assert "team-a/a1" in {r.external_id for r in inventory.resources}
    assert inventory.complete and "team-a" not in inventory.quotas
    assert "limits of LXD project team-a" in inventory.issues[0].message


def test_an_unreachable_daemon_is_unhealthy_and_refreshing_says_why():
    driver = LXDDriver({"endpoint": "unix:///nonexistent/lxd/unix.socket"})
    health = driver.health()
    assert not health.ok and "the socket does not exist" in health.message
    with pytest.raises(ProviderUnavailable, match="cannot reach LXD at unix:///nonexistent"):
        driver.inventory()


@pytest.mark.django_db
def test_the_collector_marks_an_unreachable_lxd_account_unhealthy():
    from metering import collector
    from providers.models import ProviderAccount

    account = ProviderAccount(name="lxd-gone", kind="lxd", settings={"endpoint": "/nonexistent/lxd/unix.socket"})
    account.credentials = {}
    account.save()
    with pytest.raises(ProviderUnavailable):
        collector.refresh(account)
    account.refresh_from_db()
    assert account.health == "unhealthy" and "cannot reach LXD" in account.health_message


@pytest.mark.parametrize(("settings", "credentials", "field", "words"), [
    ({"endpoint": "tcp://host:8443"}, {}, "endpoint", "must be unix:///path"),
    ({"endpoint": "unix://relative.sock"}, {}, "endpoint", "must be absolute"),
    ({"endpoint": "https://lxd:8443"}, {}, "client_cert", "authenticates clients by certificate"),
    ({"endpoint": "https://lxd:8443"}, {"client_cert": "PEM"}, "client_key", "go together"),
    ({"endpoint": "/s", "timeout": 0}, {}, "timeout", "at least 1 second"),
    ({"endpoint": "/s"}, {"trust_password": "x"}, "trust_password", "give client_cert"),
    ({}, {}, "endpoint", "is required"),
])
def test_bad_settings_name_the_field(settings, credentials, field, words):
    with pytest.raises(SettingsError) as err:
        LXDDriver.validate(settings, credentials)
    assert words in err.value.errors[field]


def test_good_settings_get_their_defaults():
    settings, _ = LXDDriver.validate({"endpoint": "unix:///var/lib/lxd/unix.socket"})
    assert settings["project_key"] == "user.glasspane.project" and settings["verify"] is True
