"""The driver's fast paths behave as the plain reading did: a record's errors are still named field
by field, and the catalog is read once per service yet every request reaches the same URL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from keystoneauth1 import session as ks_session

from providers.base import Kind, ProviderDataError, ProviderUnavailable
from providers.openstack import api, mapping

pytestmark = pytest.mark.integration

SERVER = {
    "id": "s-1", "name": "web", "status": "ACTIVE", "tenant_id": "p-1", "user_id": "u-1", "metadata": {},
    "flavor": {"vcpus": 2, "ram": 4096, "disk": 40, "ephemeral": 0, "original_name": "m1.medium"},
    "created": "2026-01-02T03:04:05Z", "updated": "2026-01-02T03:04:06Z",
    "OS-SRV-USG:launched_at": "2026-01-02T03:04:07.000000", "OS-SRV-USG:terminated_at": None,
    "OS-EXT-STS:power_state": 1, "OS-EXT-SRV-ATTR:host": "compute-01",
}


def test_timestamps_are_read_as_before_and_a_bad_one_is_named():
    server = mapping.server_resource(SERVER, {}, {})
    assert server.created_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert server.started_at == datetime(2026, 1, 2, 3, 4, 7, tzinfo=UTC)
    assert mapping.server_resource({**SERVER, "created": "", "OS-SRV-USG:launched_at": None}, {}, {}).created_at is None
    cases = {"updated": "yesterday", "created": 1700000000, "OS-SRV-USG:launched_at": "2026-13-01T00:00:00",
             "OS-SRV-USG:terminated_at": ["2026-01-01"]}
    names = {"OS-SRV-USG:launched_at": "launched_at", "OS-SRV-USG:terminated_at": "terminated_at"}
    for key, bad in cases.items():
        with pytest.raises(ProviderDataError) as error:
            mapping.server_resource({**SERVER, key: bad}, {}, {})
        assert str(error.value) == f"server s-1 {names.get(key, key)} is not a timestamp: {bad!r}"


def test_flavor_sizes_still_refuse_what_is_not_a_whole_number():
    assert mapping.flavor_size({"vcpus": 2, "ram": "4096", "disk": 40, "ephemeral": 0}) == (Decimal(2), 4096, Decimal(40))
    for bad in (True, 2.5, "two", None):
        with pytest.raises(ProviderDataError, match="flavor vcpus is not a whole number"):
            mapping.flavor_size({"vcpus": bad, "ram": 1, "disk": 1})


def test_labels_come_from_metadata_and_empty_metadata_gives_none():
    assert mapping.server_resource({**SERVER, "metadata": {"team": 7}}, {}, {}).labels == {"team": "7"}
    assert mapping.server_resource({**SERVER, "metadata": None}, {}, {}).labels == {}


def test_catalog_lookups_do_not_grow_with_the_number_of_requests(sim, make_driver, monkeypatch):
    lookups = []
    real = ks_session.Session.get_endpoint

    def counting(self, auth=None, **kwargs):
        lookups.append(kwargs.get("service_type"))
        return real(self, auth, **kwargs)

    monkeypatch.setattr(ks_session.Session, "get_endpoint", counting)
    counts = []
    for page_size in (1000, 1):  # 1: a request per server, volume and usage record
        lookups.clear()
        before = len(sim.state.requests)
        driver = make_driver(sim, page_size=page_size)
        inventory = driver.inventory()
        for project in inventory.projects:
            driver.usage_report(project.external_id, inventory.observed_at.replace(day=1), inventory.observed_at)
        assert len([r for r in inventory.resources if r.kind == Kind.VM]) == 8
        counts.append((len(sim.state.requests) - before, sorted(lookups)))
    (few, lookups_few), (many, lookups_many) = counts
    assert many > few + 10 and lookups_many == lookups_few
    assert set(lookups_few) == {"block-storage", "compute", "identity"}
    assert sim.state.requests_to("/servers/detail")[0].path.endswith("/compute/v2.1/servers/detail")


def test_a_service_without_an_endpoint_fails_as_keystoneauth_would(sim, make_driver, monkeypatch):
    driver = make_driver(sim)
    monkeypatch.setattr(ks_session.Session, "get_endpoint", lambda self, auth=None, **kwargs: None)
    with pytest.raises(ProviderDataError, match="the service catalog has no endpoint needed to list Keystone"):
        api.call(driver.identity, "GET", "/projects", "list Keystone projects")


@pytest.mark.parametrize("path", ["/v3", "/v3/", ""])
def test_keystones_version_document_is_asked_once_per_connection(sim, make_driver, path):
    driver = make_driver(sim, auth_url=sim.base_url + path)
    assert len(driver.inventory().projects) == 3
    discovery = [r for r in sim.state.requests if r.method == "GET" and r.path == (path or "/")]
    assert len(discovery) == 1
    assert len(sim.state.requests_to("/auth/tokens", "POST")) == 1


def test_an_answer_keystoneauth_refuses_is_left_for_keystoneauth_to_refuse(sim, make_driver):
    driver = make_driver(sim, auth_url=sim.base_url + "/nope")  # 404: not Keystone, yet not refused by our check
    with pytest.raises(ProviderUnavailable, match="Could not find versioned identity endpoints"):
        driver.inventory()
    assert [r.status for r in sim.state.requests if r.path == "/nope"] == [404, 404]


def test_an_endpoint_override_is_left_to_keystoneauth_which_fills_in_the_project(sim, make_driver):
    driver = make_driver(sim)
    storage = driver.storage
    storage.endpoint_override = sim.base_url + "/volume/v3/%(project_id)s"
    assert api.endpoint_url(storage, "/volumes/detail") == "/volumes/detail"
    body, _ = api.call(storage, "GET", "/volumes/detail", "list volumes", params={"all_tenants": 1})
    assert {v["name"] for v in body["volumes"]} == {"db-data", "datasets"}
