"""The simulator answers as the real control plane does: the same requests sent to both, the same
status and body (ids aside). Each pair is one place where the simulator was corrected to match."""

from __future__ import annotations

import openstack
import pytest
import requests

from devsim.openstack import seed

pytestmark = [pytest.mark.real_openstack, pytest.mark.integration]

MISSING = "11111111-1111-1111-1111-111111111111"


class Side:
    """One cloud seen through plain HTTP with a token scoped to one project."""

    def __init__(self, conn, image_id: str, flavor_id: str):
        self.conn, self.image_id, self.flavor_id = conn, image_id, flavor_id
        self.token = conn.session.get_token()

    def url(self, service: str, path: str) -> str:
        return self.conn.session.get_endpoint(service_type=service, interface="public").rstrip("/") + path

    def call(self, method: str, service: str, path: str, body=None, microversion="2.37"):
        headers = {"X-Auth-Token": self.token, "OpenStack-API-Version": f"compute {microversion}"}
        return requests.request(method, self.url(service, path), headers=headers, json=body, timeout=60)

    def create(self, **server):
        body = {"server": {"name": "parity", "flavorRef": self.flavor_id, "networks": "none", **server}}
        return self.call("POST", "compute", "/servers", body)


@pytest.fixture
def sides(real_cloud, tenant, make_sim):
    t = tenant("parity")
    real = Side(t.conn, real_cloud.image.find_image("tiny-raw").id, real_cloud.compute.find_flavor("m1.tiny").id)
    sim = make_sim()
    sim.state.networks.clear()  # the real test cloud's Neutron has no network
    project = seed.add_tenant(sim.state, t.name)
    sim_conn = openstack.connect(auth_url=sim.auth_url, username="admin", password="admin", user_domain_name="Default",
                                 project_id=project.id, load_yaml_config=False, load_envvars=False)
    simulated = Side(sim_conn, sim.state.image_named(seed.IMAGE).id, sim.state.find_flavor("m1.tiny").id)
    yield real, simulated, t
    sim_conn.close()


def same(real_response, sim_response, *ids):
    """Equal status and JSON body once each side's own ids are replaced by a placeholder."""
    def body(response, own):
        text = response.text
        for value in own:
            text = text.replace(value, "<id>")
        return response.status_code, text
    return body(real_response, ids[0::2]) == body(sim_response, ids[1::2])


def test_nova_refuses_the_same_requests_in_the_same_words(sides):
    real, sim, t = sides
    for extra in ({"imageRef": MISSING}, {"imageRef": "not-a-uuid"}, {}, {"imageRef": ""}):
        a, b = real.create(**extra), sim.create(**extra)
        assert a.status_code == 400 and same(a, b), (extra, a.text, b.text)
    a, b = real.create(imageRef=real.image_id, networks="auto"), sim.create(imageRef=sim.image_id, networks="auto")
    assert a.status_code == 400 and same(a, b, t.id, sim.conn.current_project_id), (a.text, b.text)
    a = real.call("PUT", "compute", f"/os-quota-sets/{t.id}", {"quota_set": {"instances": 3000000000}})
    b = sim.call("PUT", "compute", f"/os-quota-sets/{sim.conn.current_project_id}",
                 {"quota_set": {"instances": 3000000000}})
    assert a.status_code == 400 and same(a, b), (a.text, b.text)


def test_a_deleted_server_is_nova_404_on_both(sides):
    real, sim, t = sides
    ids = []
    for side in (real, sim):
        made = side.create(imageRef=side.image_id)
        assert made.status_code == 202, made.text
        server_id = made.json()["server"]["id"]
        server = side.conn.compute.wait_for_server(side.conn.compute.get_server(server_id), wait=120)
        side.conn.compute.delete_server(server)
        side.conn.compute.wait_for_delete(server, wait=120)
        ids.append(server_id)
    a, b = real.call("GET", "compute", f"/servers/{ids[0]}"), sim.call("GET", "compute", f"/servers/{ids[1]}")
    assert a.status_code == 404 and same(a, b, ids[0], ids[1]), (a.text, b.text)


def test_glance_and_neutron_answer_alike(sides):
    real, sim, _ = sides
    a, b = real.call("GET", "image", f"/v2/images/{MISSING}"), sim.call("GET", "image", f"/v2/images/{MISSING}")
    assert a.status_code == b.status_code == 404
    assert f"No image found with ID {MISSING}" in a.text and f"No image found with ID {MISSING}" in b.text
    a, b = real.call("GET", "image", "/v2/images?name=nope"), sim.call("GET", "image", "/v2/images?name=nope")
    assert a.json() == b.json() == {"images": [], "first": "/v2/images?name=nope", "schema": "/v2/schemas/images"}
    a, b = real.call("GET", "image", f"/v2/images/{real.image_id}"), sim.call("GET", "image", f"/v2/images/{sim.image_id}")
    assert set(a.json()) - set(b.json()) <= {"os_hash_algo", "os_hash_value", "stores"}, set(a.json()) - set(b.json())
    a, b = real.call("GET", "network", "/v2.0/networks"), sim.call("GET", "network", "/v2.0/networks")
    assert a.json() == b.json() == {"networks": []}
