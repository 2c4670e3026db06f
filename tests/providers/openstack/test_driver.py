"""OpenStackDriver against the simulator through the real openstacksdk over HTTP."""

from __future__ import annotations

import socket
from datetime import timedelta
from decimal import Decimal

import pytest

from devsim.openstack import seed
from providers.base import (
    Capability,
    Kind,
    ProviderAuthError,
    ProviderUnavailable,
    ProvisionSpec,
    SettingsError,
    State,
)
from providers.openstack.driver import OpenStackDriver
from providers.openstack.errors import PlatformQuotaExceeded

from .conftest import MEMBER

pytestmark = pytest.mark.integration


def by_name(resources, kind):
    return {r.name: r for r in resources if r.kind == kind}


def test_inventory_shows_every_server_with_flavor_project_and_host(sim, make_driver):
    state = sim.state
    inventory = make_driver(sim).inventory()
    vms = by_name(inventory.resources, Kind.VM)
    hosts = by_name(inventory.resources, Kind.HOST)
    assert set(vms) == {s.name for s in state.servers.values()}
    webshop, analytics = state.project_named("webshop"), state.project_named("analytics")
    db = vms["db-01"]
    assert (db.vcpus, db.ram_mb, db.disk_gb, db.flavor) == (Decimal(4), 8192, Decimal(80), "m1.large")
    assert db.project_hint == webshop.id and db.state == State.RUNNING
    assert db.parent_external_id == hosts["compute-03.example.org"].external_id
    spark = vms["spark-01"]  # root 40 + ephemeral 20
    assert (spark.disk_gb, spark.project_hint) == (Decimal(60), analytics.id)
    assert vms["worker-01"].state == State.STOPPED
    assert vms["worker-01"].properties["power_state"] == "SHUTDOWN"
    assert vms["web-01"].started_at == state.clock.now() - timedelta(days=30)
    assert hosts["compute-01.example.org"].vcpus == Decimal(64)
    volumes = by_name(inventory.resources, Kind.VOLUME)
    assert volumes["db-data"].state == State.IN_USE and volumes["db-data"].parent_external_id == db.external_id
    assert volumes["datasets"].disk_gb == Decimal(500) and volumes["datasets"].state == State.AVAILABLE
    assert {p.name for p in inventory.projects} == {"admin", "webshop", "analytics"}
    facts = inventory.project_facts[analytics.id]
    assert facts["compute_quota"]["cores"] == 64
    assert facts["compute_limits"]["totalCoresUsed"] == 4 + 4 + 8 + 2
    assert facts["volume_quota"]["gigabytes"]["in_use"] == 500
    assert inventory.observed_at == state.clock.now()
    assert inventory.issues == []


def test_2500_servers_page_through_completely(make_sim, make_driver):
    sim = make_sim(lambda state: seed.generate(state, 2500, projects=4))
    driver = make_driver(sim)
    inventory = driver.inventory()
    vms = [r for r in inventory.resources if r.kind == Kind.VM]
    assert len(vms) == len({v.external_id for v in vms}) == 2500
    pages = sim.state.requests_to("/servers/detail")
    assert len(pages) == 3
    assert [p.query.get("marker") is not None for p in pages] == [False, True, True]
    assert all(p.query["limit"] == "1000" and p.query["all_tenants"] == "1" for p in pages)


def test_small_page_size_is_respected(sim, make_driver):
    inventory = make_driver(sim, page_size=3).inventory()
    assert len([r for r in inventory.resources if r.kind == Kind.VM]) == 8
    assert len(sim.state.requests_to("/servers/detail")) == 3


def test_server_deleted_between_inventories_is_reported_with_terminated_at(sim, make_driver):
    driver = make_driver(sim)
    first = driver.inventory()
    state = sim.state
    state.clock.advance(minutes=90)
    victim = next(s for s in state.servers.values() if s.name == "spark-02")
    driver.act(victim.id, "delete")
    state.clock.advance(minutes=5)
    second = driver.inventory(since=first.observed_at)
    assert [d.external_id for d in second.deleted] == [victim.id]
    assert second.deleted[0].deleted_at == first.observed_at + timedelta(minutes=90)
    assert victim.id not in {r.external_id for r in second.resources}
    assert second.observed_at == first.observed_at + timedelta(minutes=95)


def test_usage_report_equals_hand_computation(make_sim, make_driver):
    def scenario(state):
        seed.base(state)
        project = seed.add_tenant(state, "metered")
        now = state.clock.now()
        medium, eph = state.find_flavor("m1.medium"), state.find_flavor("c1.large.eph")
        state.add_server("whole", project.id, medium, host="compute-01", launched_at=now - timedelta(hours=30))
        state.add_server("late", project.id, eph, host="compute-02", launched_at=now - timedelta(hours=5, minutes=30))
        gone = state.add_server("gone", project.id, medium, host="compute-03", launched_at=now - timedelta(hours=50))
        gone.terminated_at, gone.deleted, gone.vm_state = now - timedelta(hours=12), True, "deleted"
        old = state.add_server("old", project.id, medium, host="compute-03", launched_at=now - timedelta(hours=80))
        old.terminated_at, old.deleted, old.vm_state = now - timedelta(hours=30), True, "deleted"
        seed.add_tenant(state, "other")
        state.add_server("noise", state.project_named("other").id, eph, host="compute-01",
                         launched_at=now - timedelta(hours=40))

    sim = make_sim(scenario)
    now = sim.state.clock.now()
    project = sim.state.project_named("metered")
    start, end = now - timedelta(hours=24), now + timedelta(hours=6)  # end clipped to "now" by Nova
    totals = make_driver(sim, page_size=2).usage_report(project.id, start, end)
    # whole: 24 h x (2 vCPU, 4096 MB, 40 GB); late: 5.5 h x (4, 8192, 40+20); gone: 12 h x (2, 4096, 40)
    assert totals.instance_hours == Decimal("41.5")
    assert totals.vcpu_hours == Decimal(24 * 2 + Decimal("5.5") * 4 + 12 * 2)
    assert totals.ram_mb_hours == Decimal(24 * 4096 + Decimal("5.5") * 8192 + 12 * 4096)
    assert totals.disk_gb_hours == Decimal(24 * 40 + Decimal("5.5") * 60 + 12 * 40)
    assert totals.servers == 3
    usage_calls = sim.state.requests_to(f"/os-simple-tenant-usage/{project.id}")
    assert len(usage_calls) == 2 and usage_calls[0].microversion == "2.40"


def test_apply_quota_shows_in_the_simulators_quota_sets(sim, make_driver):
    webshop = sim.state.project_named("webshop")
    applied = make_driver(sim).apply_quota(
        webshop.id, {"vms": 3, "vcpus": -1, "ram_mb": 8192, "volumes": 4, "disk_gb": 250, "budget": 10})
    assert applied == {"vms": 3, "vcpus": -1, "ram_mb": 8192, "volumes": 4, "disk_gb": 250}
    assert {k: sim.state.compute_quota(webshop.id)[k] for k in ("instances", "cores", "ram")} == \
        {"instances": 3, "cores": -1, "ram": 8192}
    assert {k: sim.state.volume_quota(webshop.id)[k] for k in ("volumes", "gigabytes")} == \
        {"volumes": 4, "gigabytes": 250}
    with pytest.raises(ValueError):
        make_driver(sim).apply_quota(webshop.id, {"vms": -2})


def test_provision_actions_and_platform_quota(sim, make_driver):
    state = sim.state
    driver = make_driver(sim)
    analytics = state.project_named("analytics")
    created = driver.provision(ProvisionSpec(name="etl-01", kind=Kind.VM, project=analytics.id,
                                             vcpus=Decimal(2), ram_mb=3000, image=seed.IMAGE))
    assert (created.flavor, created.vcpus, created.project_hint) == ("m1.medium", Decimal(2), analytics.id)
    assert created.state == State.RUNNING and created.parent_external_id
    assert state.servers[created.external_id].project_id == analytics.id
    driver.act(created.external_id, "stop")
    driver.act(created.external_id, "stop")  # already stopped: no error
    assert state.servers[created.external_id].vm_state == "stopped"
    driver.act(created.external_id, "start")
    assert state.servers[created.external_id].vm_state == "active"
    driver.act(created.external_id, "delete")
    assert state.servers[created.external_id].deleted
    state.compute_quotas[analytics.id]["cores"] = 18
    with pytest.raises(PlatformQuotaExceeded, match="Quota exceeded for cores: Requested 4, but already used 18 of 18"):
        driver.provision(ProvisionSpec(name="big", kind=Kind.VM, project=analytics.id, flavor="m1.large",
                                       image=seed.IMAGE))


def test_keystone_down_raises_unavailable_and_health_says_so(sim, make_driver):
    sim.state.faults.unavailable.add("identity")
    with pytest.raises(ProviderUnavailable):
        make_driver(sim).inventory()
    health = make_driver(sim).health()
    assert not health.ok and "503" in health.message
    sim.state.faults.clear()
    assert make_driver(sim).health().ok


def test_connection_refused_is_unavailable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    driver = OpenStackDriver({"auth_url": f"http://127.0.0.1:{port}/v3"},
                             {"username": "admin", "password": "admin", "project_name": "admin"})
    with pytest.raises(ProviderUnavailable):
        driver.inventory()
    assert not driver.health().ok


def test_wrong_password_and_missing_admin_role_are_auth_errors(sim, make_driver):
    with pytest.raises(ProviderAuthError, match="refused the credentials"):
        make_driver(sim, {"username": "admin", "password": "wrong", "project_name": "admin"}).inventory()
    with pytest.raises(ProviderAuthError, match="admin role required to list Keystone projects"):
        make_driver(sim, MEMBER).inventory()
    sim.state.users[sim.state.user_named("member").id].roles[sim.state.project_named("webshop").id].add("x")
    member = make_driver(sim, MEMBER)
    with pytest.raises(ProviderAuthError, match="admin role required to list servers of all projects"):
        member._servers(member._mv((2, 96)), {}, {}, [])


def test_a_failing_page_fails_the_whole_inventory(make_sim, make_driver):
    sim = make_sim(lambda state: seed.generate(state, 30))
    sim.state.faults.server_page_errors.add(2)
    with pytest.raises(ProviderUnavailable, match="500"):
        make_driver(sim, page_size=10).inventory()
    assert [r.status for r in sim.state.requests_to("/servers/detail")] == [200, 500]


def test_malformed_server_becomes_an_issue_and_the_rest_is_collected(sim, make_driver):
    bad = next(s for s in sim.state.servers.values() if s.name == "web-02")
    sim.state.faults.malformed_servers.add(bad.id)
    inventory = make_driver(sim).inventory()
    assert [(i.external_id, "no flavor" in i.message) for i in inventory.issues] == [(bad.id, True)]
    assert len([r for r in inventory.resources if r.kind == Kind.VM]) == 7


def test_token_expiring_mid_refresh_reauthenticates_once(make_sim, make_driver):
    sim = make_sim(lambda state: seed.generate(state, 25))
    driver = make_driver(sim, page_size=10)
    driver.inventory()
    issued = sim.state.tokens_issued
    sim.state.faults.revoke_tokens_on_page = 2
    inventory = driver.inventory()
    assert len([r for r in inventory.resources if r.kind == Kind.VM]) == 25
    assert sim.state.tokens_issued == issued + 1
    assert [r.status for r in sim.state.requests_to("/servers/detail")][-4:] == [200, 401, 200, 200]
    sim.state.clock.advance(hours=3)  # every token now expired on the cloud's clock
    assert len(driver.inventory().resources) == len(inventory.resources)
    assert sim.state.tokens_issued == issued + 2


def test_before_2_47_flavors_come_from_the_flavor_list(sim, make_driver):
    sim.state.compute_max_version = (2, 46)
    inventory = make_driver(sim).inventory()
    vms = by_name(inventory.resources, Kind.VM)
    assert (vms["spark-03"].vcpus, vms["spark-03"].disk_gb, vms["spark-03"].flavor) == (Decimal(8), Decimal(160), "m1.xlarge")
    assert sim.state.requests_to("/flavors/detail")
    assert all(r.microversion == "2.46" for r in sim.state.requests_to("/servers/detail"))


def test_application_credential_account(sim, make_driver):
    driver = make_driver(sim, {"application_credential_id": seed.DEMO_APP_CREDENTIAL["id"],
                               "application_credential_secret": seed.DEMO_APP_CREDENTIAL["secret"]})
    assert driver.health().ok
    assert len(by_name(driver.inventory().resources, Kind.VM)) == 8
    with pytest.raises(ProviderAuthError, match="application credential"):
        driver.provision(ProvisionSpec(name="x", kind=Kind.VM, project=sim.state.project_named("webshop").id,
                                       flavor="m1.tiny"))


def test_settings_validation():
    settings, credentials = OpenStackDriver.validate({"auth_url": "http://x/v3"}, {"username": "a", "password": "b",
                                                                                  "project_name": "c"})
    assert settings["interface"] == "public" and settings["page_size"] == 1000 and settings["verify"] is True
    with pytest.raises(SettingsError) as error:
        OpenStackDriver.validate({"interface": "side"}, {})
    assert {"auth_url", "interface", "username", "password", "project_name"} <= set(error.value.errors)
    assert OpenStackDriver.kind == "openstack" and Capability.USAGE_REPORT in OpenStackDriver.capabilities
