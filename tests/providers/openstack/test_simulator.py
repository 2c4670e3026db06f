"""The simulator answers as the OpenStack API reference documents: status codes, keys, links, bodies."""

from __future__ import annotations

from datetime import timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qs, urlparse

import openstack.connection
import pytest
import requests

from devsim.openstack import seed

pytestmark = pytest.mark.integration
IMAGE_ID = seed.stable_id("image", seed.IMAGE)  # the seeded public image


def password_auth(user="admin", password="admin", project="admin"):
    return {"auth": {
        "identity": {"methods": ["password"],
                     "password": {"user": {"name": user, "domain": {"name": "Default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"name": "Default"}}},
    }}


def token_for(sim, user="admin", password="admin", project="admin") -> str:
    response = requests.post(f"{sim.auth_url}/auth/tokens", json=password_auth(user, password, project))
    assert response.status_code == 201
    return response.headers["X-Subject-Token"]


def get(sim, path, token, version=None, **params):
    headers = {"X-Auth-Token": token}
    if version:
        headers["OpenStack-API-Version"] = f"compute {version}"
    return requests.get(f"{sim.base_url}{path}", headers=headers, params=params)


def test_password_token_has_catalog_pointing_back_at_the_simulator(sim):
    response = requests.post(f"{sim.auth_url}/auth/tokens", json=password_auth())
    assert response.status_code == 201
    assert response.headers["X-Subject-Token"]
    token = response.json()["token"]
    assert token["project"]["name"] == "admin"
    assert {r["name"] for r in token["roles"]} >= {"admin"}
    assert token["expires_at"].endswith("Z")
    by_type = {entry["type"]: entry for entry in token["catalog"]}
    assert set(by_type) == {"identity", "compute", "volumev3", "image", "network"}
    for entry in by_type.values():
        assert {e["interface"] for e in entry["endpoints"]} == {"public", "internal", "admin"}
        assert all(e["region_id"] == "RegionOne" and e["url"].startswith(sim.base_url) for e in entry["endpoints"])
    assert by_type["volumev3"]["endpoints"][0]["url"].endswith(f"/volume/v3/{token['project']['id']}")


def test_application_credential_and_validation_and_bad_password(sim):
    body = {"auth": {"identity": {"methods": ["application_credential"],
                                  "application_credential": seed.DEMO_APP_CREDENTIAL}}}
    response = requests.post(f"{sim.auth_url}/auth/tokens", json=body)
    assert response.status_code == 201
    assert response.json()["token"]["application_credential"]["id"] == seed.DEMO_APP_CREDENTIAL["id"]
    subject = response.headers["X-Subject-Token"]
    check = requests.get(f"{sim.auth_url}/auth/tokens", headers={"X-Auth-Token": subject, "X-Subject-Token": subject})
    assert check.status_code == 200 and check.headers["X-Subject-Token"] == subject
    wrong = requests.post(f"{sim.auth_url}/auth/tokens", json=password_auth(password="nope"))
    assert wrong.status_code == 401
    assert wrong.json() == {"error": {"code": 401, "title": "Unauthorized",
                                      "message": "The request you have made requires authentication."}}


def test_version_documents(sim):
    root = requests.get(f"{sim.base_url}/")
    assert root.status_code == 300 and root.json()["versions"]["values"][0]["id"].startswith("v3")
    assert requests.get(sim.auth_url).json()["version"]["status"] == "stable"
    compute = requests.get(f"{sim.base_url}/compute/").json()["versions"]
    current = [v for v in compute if v["status"] == "CURRENT"][0]
    assert (current["id"], current["min_version"], current["version"]) == ("v2.1", "2.1", "2.96")
    assert requests.get(f"{sim.base_url}/compute/v2.1/").json()["version"]["id"] == "v2.1"


def test_servers_detail_pages_with_next_links_and_echoes_microversion(sim):
    token = token_for(sim)
    seen, path, params, pages = [], "/compute/v2.1/servers/detail", {"all_tenants": "1", "limit": "3"}, 0
    while True:
        response = get(sim, path, token, "2.47", **params)
        assert response.status_code == 200
        assert response.headers["OpenStack-API-Version"] == "compute 2.47"
        body = response.json()
        seen += [s["id"] for s in body["servers"]]
        pages += 1
        links = body.get("servers_links")
        if not links:
            break
        assert links[0]["rel"] == "next"
        params = {k: v[0] for k, v in parse_qs(urlparse(links[0]["href"]).query).items()}
        assert params["limit"] == "3" and params["marker"] == seen[-1]
    assert len(seen) == len(set(seen)) == 8
    assert pages == 3


def test_flavor_embedded_from_2_47_and_a_reference_before(sim):
    token = token_for(sim)
    old = get(sim, "/compute/v2.1/servers/detail", token, "2.46", all_tenants="1").json()["servers"][0]
    new = get(sim, "/compute/v2.1/servers/detail", token, "2.47", all_tenants="1").json()["servers"][0]
    assert set(old["flavor"]) == {"id", "links"}
    assert {"vcpus", "ram", "disk", "ephemeral", "original_name"} <= set(new["flavor"])
    for key in ("OS-EXT-SRV-ATTR:host", "OS-EXT-STS:power_state", "OS-EXT-STS:vm_state",
                "OS-SRV-USG:launched_at", "OS-SRV-USG:terminated_at", "tenant_id", "created", "updated"):
        assert key in new
    assert get(sim, "/compute/v2.1/servers", token, "2.200").status_code == 406


def test_changes_since_lists_deleted_servers(sim):
    token = token_for(sim)
    before = sim.state.clock.now()
    sim.state.clock.advance(minutes=30)
    victim = next(s for s in sim.state.servers.values() if s.name == "web-01")
    # the admin's token is scoped to project admin; deleting another project's server is an admin right
    assert requests.delete(f"{sim.base_url}/compute/v2.1/servers/{victim.id}",
                           headers={"X-Auth-Token": token}).status_code == 204
    body = get(sim, "/compute/v2.1/servers/detail", token, "2.96", all_tenants="1",
               **{"changes-since": before.isoformat()}).json()
    assert [(s["id"], s["status"]) for s in body["servers"]] == [(victim.id, "DELETED")]
    assert body["servers"][0]["OS-SRV-USG:terminated_at"].startswith((before + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M"))
    missing = get(sim, f"/compute/v2.1/servers/{victim.id}", token)
    assert missing.status_code == 404
    assert missing.json() == {"itemNotFound": {"code": 404, "message": f"Instance {victim.id} could not be found."}}


def test_quota_exceeded_on_create_uses_novas_403_body(sim):
    state = sim.state
    webshop = state.project_named("webshop")
    state.compute_quotas[webshop.id] = {"cores": 10}  # webshop uses 8 cores
    token = token_for(sim, project="webshop")
    response = requests.post(f"{sim.base_url}/compute/v2.1/servers", headers={"X-Auth-Token": token},
                             json={"server": {"name": "big", "flavorRef": state.find_flavor("m1.large").id,
                                              "imageRef": IMAGE_ID, "networks": "none"}})
    assert response.status_code == 403
    assert response.json() == {"forbidden": {"code": 403, "message":
                               "Quota exceeded for cores: Requested 4, but already used 8 of 10 cores"}}
    ok = requests.post(f"{sim.base_url}/compute/v2.1/servers", headers={"X-Auth-Token": token},
                       json={"server": {"name": "small", "flavorRef": state.find_flavor("m1.small").id,
                                        "imageRef": IMAGE_ID, "networks": "none"}})
    assert ok.status_code == 202 and ok.headers["Location"].endswith(ok.json()["server"]["id"])


def test_member_is_refused_admin_calls_with_policy_messages(sim):
    token = token_for(sim, "member", "member", "webshop")
    response = get(sim, "/compute/v2.1/servers/detail", token, all_tenants="1")
    assert response.status_code == 403
    assert response.json()["forbidden"]["message"] == \
        "Policy doesn't allow os_compute_api:servers:detail:get_all_tenants to be performed."
    own = get(sim, "/compute/v2.1/servers/detail", token).json()["servers"]
    assert {s["name"] for s in own} == {"web-01", "web-02", "db-01", "worker-01"}
    projects = requests.get(f"{sim.auth_url}/projects", headers={"X-Auth-Token": token})
    assert projects.status_code == 403 and projects.json()["error"]["title"] == "Forbidden"


def test_tokens_expire_on_the_simulator_clock_and_date_follows_it(sim):
    token = token_for(sim)
    response = get(sim, "/compute/v2.1/flavors", token)
    assert response.status_code == 200
    assert parsedate_to_datetime(response.headers["Date"]) == sim.state.clock.now()
    sim.state.clock.advance(hours=2)
    expired = get(sim, "/compute/v2.1/flavors", token)
    assert expired.status_code == 401
    assert expired.headers["WWW-Authenticate"].startswith("Keystone uri=")
    assert parsedate_to_datetime(expired.headers["Date"]) == sim.state.clock.now()


def test_simple_tenant_usage_pages_at_2_40(make_sim):
    def scenario(state):
        seed.base(state)
        project = seed.add_tenant(state, "metered")
        now = state.clock.now()
        for index in range(3):
            state.add_server(f"vm{index}", project.id, state.find_flavor("m1.medium"), host="compute-01",
                             launched_at=now - timedelta(hours=10))

    sim = make_sim(scenario)
    project = sim.state.project_named("metered")
    token = token_for(sim)
    now = sim.state.clock.now()
    params = {"start": (now - timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M:%S"),
              "end": (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"), "limit": "2"}
    first = get(sim, f"/compute/v2.1/os-simple-tenant-usage/{project.id}", token, "2.40", **params).json()
    usage = first["tenant_usage"]
    assert len(usage["server_usages"]) == 2
    assert usage["total_hours"] == 8.0  # end clipped to now: 4 h each
    assert usage["total_vcpus_usage"] == 16.0 and usage["total_memory_mb_usage"] == 32768.0
    marker = parse_qs(urlparse(first["tenant_usage_links"][0]["href"]).query)["marker"][0]
    second = get(sim, f"/compute/v2.1/os-simple-tenant-usage/{project.id}", token, "2.40",
                 **params, marker=marker).json()
    assert len(second["tenant_usage"]["server_usages"]) == 1
    index = get(sim, "/compute/v2.1/os-simple-tenant-usage", token, "2.40", **params).json()
    assert "tenant_usages_links" in index and index["tenant_usages"][0]["tenant_id"] == project.id
    bad = get(sim, f"/compute/v2.1/os-simple-tenant-usage/{project.id}", token, start="yesterday")
    assert bad.status_code == 400 and "badRequest" in bad.json()


def test_cinder_volumes_paging_quota_and_413(sim):
    token = token_for(sim)
    project_id = sim.state.project_named("admin").id
    base = f"{sim.base_url}/volume/v3/{project_id}"
    headers = {"X-Auth-Token": token}
    page = requests.get(f"{base}/volumes/detail", headers=headers, params={"all_tenants": "1", "limit": "1"}).json()
    assert len(page["volumes"]) == 1 and page["volumes_links"][0]["rel"] == "next"
    assert "os-vol-tenant-attr:tenant_id" in page["volumes"][0]
    sim.state.volume_quotas[project_id] = {"volumes": 1}
    created = requests.post(f"{base}/volumes", headers=headers, json={"volume": {"size": 5, "name": "a"}})
    assert created.status_code == 202 and created.json()["volume"]["status"] == "creating"
    refused = requests.post(f"{base}/volumes", headers=headers, json={"volume": {"size": 5, "name": "b"}})
    assert refused.status_code == 413
    assert refused.json()["overLimit"]["message"].startswith("VolumeLimitExceeded")
    quota = requests.get(f"{base}/os-quota-sets/{project_id}", headers=headers, params={"usage": "true"}).json()
    assert quota["quota_set"]["volumes"] == {"limit": 1, "in_use": 1, "reserved": 0, "allocated": 0}


def test_openstacksdk_reads_the_simulator(sim):
    conn = openstack.connection.Connection(auth_url=sim.auth_url, username="admin", password="admin",
                                           project_name="admin", user_domain_name="Default",
                                           project_domain_name="Default")
    try:
        names = {s.name for s in conn.compute.servers(details=True, all_projects=True, limit=2)}
        assert names == {s.name for s in sim.state.servers.values()}
        assert {v.name for v in conn.block_storage.volumes(all_projects=True)} == {"db-data", "datasets"}
        assert {p.name for p in conn.identity.projects()} == {"admin", "webshop", "analytics"}
        webshop = sim.state.project_named("webshop")
        conn.compute.update_quota_set(webshop.id, cores=33)
        assert sim.state.compute_quota(webshop.id)["cores"] == 33
    finally:
        conn.close()


def test_like_the_real_cloud_auto_networks_are_refused_and_times_are_whole_seconds(sim):
    """What the real control plane (scripts/openstack-real.sh) showed: with no networks and no
    default external network Nova refuses ``auto`` in its own words before any quota check, and
    launched_at/terminated_at carry whole seconds (MariaDB DATETIME)."""
    state = sim.state
    state.networks.clear()  # as the real test cloud's Neutron stand-in: no network at all
    token = token_for(sim, project="webshop")
    flavor = state.find_flavor("m1.small").id
    auto = requests.post(f"{sim.base_url}/compute/v2.1/servers", headers={"X-Auth-Token": token},
                         json={"server": {"name": "a", "flavorRef": flavor, "imageRef": IMAGE_ID, "networks": "auto"}})
    assert auto.status_code == 400
    assert auto.json()["badRequest"]["message"].startswith("Unable to automatically allocate a network for project")
    state.clock.advance(seconds=1.5)
    made = requests.post(f"{sim.base_url}/compute/v2.1/servers", headers={"X-Auth-Token": token},
                         json={"server": {"name": "b", "flavorRef": flavor, "imageRef": IMAGE_ID, "networks": "none"}})
    assert made.status_code == 202
    assert state.servers[made.json()["server"]["id"]].launched_at.microsecond == 0


def test_a_cloud_without_cinder_has_no_volume_endpoint_and_refresh_skips_volumes(make_sim, make_driver):
    def no_cinder(state):
        seed.demo(state)
        state.volume_service = False

    driver = make_driver(make_sim(no_cinder))
    inventory = driver.inventory()
    assert inventory.skipped == ["no block-storage endpoint in the catalog: volumes and volume quotas not collected"]
    assert not [r for r in inventory.resources if r.kind == "volume"] and inventory.resources


def test_like_the_real_cloud_a_quota_above_novas_maximum_is_refused(sim):
    """Nova's quota-set schema stops at 2**31 - 1 (seen on the real control plane)."""
    webshop = sim.state.project_named("webshop")
    response = requests.put(f"{sim.base_url}/compute/v2.1/os-quota-sets/{webshop.id}",
                            headers={"X-Auth-Token": token_for(sim)},
                            json={"quota_set": {"instances": 3000000000, "force": True}})
    assert response.status_code == 400
    assert response.json() == {"badRequest": {"code": 400, "message": (
        "Invalid input for field/attribute instances. Value: 3000000000. "
        "3000000000 is greater than the maximum of 2147483647")}}
    assert sim.state.compute_quota(webshop.id)["instances"] != 3000000000


def test_like_the_real_cloud_glance_lists_and_finds_images(sim):
    token = token_for(sim)
    response = requests.post(f"{sim.auth_url}/auth/tokens", json=password_auth())
    by_type = {entry["type"]: entry for entry in response.json()["token"]["catalog"]}
    assert {"image", "network"} <= set(by_type)
    image = sim.state.image_named(seed.IMAGE)
    listed = get(sim, "/image/v2/images", token).json()
    assert [i["name"] for i in listed["images"]] == [seed.IMAGE] and listed["schema"] == "/v2/schemas/images"
    assert listed["images"][0]["id"] == image.id and listed["images"][0]["status"] == "active"
    assert get(sim, "/image/v2/images", token, name="nope").json()["images"] == []
    assert get(sim, f"/image/v2/images/{image.id}", token).json()["name"] == seed.IMAGE
    missing = get(sim, "/image/v2/images/11111111-1111-1111-1111-111111111111", token)
    assert missing.status_code == 404 and "No image found with ID 11111111-1111-1111-1111-111111111111" in missing.text
    assert requests.get(f"{sim.base_url}/image/v2/images").status_code == 401
    conn = openstack.connection.Connection(auth_url=sim.auth_url, username="admin", password="admin",
                                           project_name="admin", user_domain_name="Default",
                                           project_domain_name="Default")
    try:  # the official client finds its way through version discovery
        assert conn.image.find_image(seed.IMAGE).id == image.id
        assert [n.name for n in conn.network.networks()] == [seed.NETWORK]
    finally:
        conn.close()


def test_like_the_real_cloud_nova_checks_the_image_in_its_own_words(sim):
    """Bodies as the real Nova 34 answered them (scripts/openstack-real.sh)."""
    token = token_for(sim, project="webshop")
    flavor = sim.state.find_flavor("m1.tiny").id

    def create(**extra):
        return requests.post(f"{sim.base_url}/compute/v2.1/servers", headers={"X-Auth-Token": token},
                             json={"server": {"name": "x", "flavorRef": flavor, "networks": "none", **extra}})

    assert create(imageRef="11111111-1111-1111-1111-111111111111").json() == {
        "badRequest": {"code": 400, "message": "Can not find requested image"}}
    assert create(imageRef="not-a-uuid").json() == {"badRequest": {"code": 400, "message": (
        "Invalid input for field/attribute imageRef. Value: not-a-uuid. "
        "'not-a-uuid' is not valid under any of the given schemas")}}
    for missing in ({}, {"imageRef": ""}):
        assert create(**missing).json() == {"badRequest": {"code": 400, "message": "Missing imageRef attribute"}}
    made = create(imageRef=sim.state.image_named(seed.IMAGE).id)
    assert made.status_code == 202
    shown = get(sim, f"/compute/v2.1/servers/{made.json()['server']['id']}", token).json()["server"]
    assert shown["image"]["id"] == sim.state.image_named(seed.IMAGE).id


def test_neutron_lists_networks_read_only(sim):
    token = token_for(sim, project="webshop")
    network = sim.state.network_named(seed.NETWORK)
    listed = get(sim, "/network/v2.0/networks", token).json()["networks"]
    assert [(n["id"], n["name"], n["shared"], n["status"]) for n in listed] == [(network.id, seed.NETWORK, True, "ACTIVE")]
    assert get(sim, "/network/v2.0/networks", token, name="nope").json() == {"networks": []}
    assert get(sim, f"/network/v2.0/networks/{network.id}", token).json()["network"]["name"] == seed.NETWORK
    missing = get(sim, "/network/v2.0/networks/nope", token)
    assert missing.status_code == 404
    assert missing.json() == {"NeutronError": {"type": "NetworkNotFound", "message": "Network nope could not be found.",
                                               "detail": ""}}
    refused = requests.post(f"{sim.base_url}/network/v2.0/networks", headers={"X-Auth-Token": token},
                            json={"network": {"name": "mine"}})
    assert refused.status_code == 405
    # Nova takes the one network there is for "auto", and a listed network by id
    image, flavor = sim.state.image_named(seed.IMAGE).id, sim.state.find_flavor("m1.tiny").id
    for networks in ("auto", [{"uuid": network.id}]):
        made = requests.post(f"{sim.base_url}/compute/v2.1/servers", headers={"X-Auth-Token": token},
                             json={"server": {"name": "n", "imageRef": image, "flavorRef": flavor, "networks": networks}})
        assert made.status_code == 202, made.text
    unknown = requests.post(f"{sim.base_url}/compute/v2.1/servers", headers={"X-Auth-Token": token},
                            json={"server": {"name": "n", "imageRef": image, "flavorRef": flavor,
                                             "networks": [{"uuid": "22222222-2222-2222-2222-222222222222"}]}})
    assert unknown.json() == {"badRequest": {"code": 400, "message":
                              "Network 22222222-2222-2222-2222-222222222222 could not be found."}}


def test_the_driver_resolves_an_image_by_name_through_the_simulated_glance(sim, make_driver):
    from providers.base import Kind, ProviderDataError, ProvisionSpec

    driver = make_driver(sim)
    webshop = sim.state.project_named("webshop").id
    made = driver.provision(ProvisionSpec(name="img", kind=Kind.VM, project=webshop, flavor="m1.tiny",
                                          image=seed.IMAGE, network="none"))
    assert sim.state.servers[made.external_id].image_id == sim.state.image_named(seed.IMAGE).id
    with pytest.raises(ProviderDataError, match="the image service has no image"):
        driver.provision(ProvisionSpec(name="img2", kind=Kind.VM, project=webshop, flavor="m1.tiny",
                                       image="no-such-image", network="none"))
