"""Provisioning a real server through Glasspane's API, served by a real WSGI server (wsgiref, as
under ``runserver``), against the real control plane."""

from __future__ import annotations

import pytest
import requests

from metering import collector
from metering.choices import RequestState, Role
from metering.models import Membership, Project, ProvisionRequest
from portal.models import PersonalAccessToken, TokenScope
from providers.base import Kind, ProviderAuthError, ProviderDataError, ProvisionSpec
from tests.providers.openstack.real.conftest import AUTH_URL, add_account

pytestmark = [pytest.mark.real_openstack, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def member_api(live_server, django_user_model, tenant, eager):
    """(post, project, tenant): a Glasspane member of a project mapped to a fresh Keystone project."""
    t = tenant("prov")
    account = add_account()
    collector.refresh(account)
    project = Project.objects.get(external__account=account, external__external_id=t.id)
    user = django_user_model.objects.create_user("pm", password="pw-pm")
    Membership.objects.create(user=user, project=project, role=Role.MEMBER)
    _, token = PersonalAccessToken.issue(user, scope=TokenScope.WRITE)

    def post(body: dict, key: str = ""):
        headers = {"Authorization": f"Bearer {token}"}
        if key:
            headers["Idempotency-Key"] = key
        return requests.post(f"{live_server.url}/api/v1/provision-requests/", headers=headers, timeout=120,
                             json={"project": project.slug, "provider": "real", "kind": "vm", **body})

    return post, project, t


def test_a_server_by_flavor_and_image_names_is_202_with_a_location_and_exists_in_nova(member_api):
    post, project, t = member_api
    response = post({"name": "api-made", "flavor": "m1.small", "image": "tiny-raw", "network": "none"},
                    key="retry-me-1")
    assert response.status_code == 202, response.text
    assert response.headers["Location"] == response.json()["url"]
    request = ProvisionRequest.objects.get(pk=response.json()["id"])
    assert request.state == RequestState.DONE, request.message
    server = t.admin.compute.get_server(request.spec["external_id"])
    assert server.project_id == t.id and server.flavor.name == "m1.small"  # in the project, not admin's
    assert request.spec["vcpus"] == "1" and request.spec["ram_mb"] == 2048  # sizes from the flavor
    again = post({"name": "api-made", "flavor": "m1.small", "image": "tiny-raw", "network": "none"},
                 key="retry-me-1")
    assert again.status_code == 202 and again.json()["id"] == response.json()["id"]
    assert len(list(t.admin.compute.servers(all_projects=True, project_id=t.id))) == 1


def test_the_clouds_refusal_reaches_the_user_in_its_own_words(member_api):
    post, project, t = member_api
    t.admin.set_compute_quotas(t.id, instances=0)
    response = post({"name": "too-many", "flavor": "1", "image": "tiny-raw", "network": "none"})
    assert response.status_code == 202, response.text
    request = ProvisionRequest.objects.get(pk=response.json()["id"])
    assert request.state == RequestState.FAILED
    assert "Quota exceeded for instances" in request.message, request.message
    unknown = post({"name": "no-flavor", "flavor": "m9.huge", "image": "tiny-raw", "network": "none"})
    assert unknown.status_code == 400 and "m9.huge" in unknown.json()["flavor"][0]


def test_network_choices_and_a_missing_role_are_said_plainly(tenant, real_cloud):
    from providers.openstack.driver import OpenStackDriver

    t = tenant("net")
    driver = OpenStackDriver({"auth_url": AUTH_URL}, {"username": "admin", "password": "admin",
                                                       "project_name": "admin"})
    spec = dict(kind=Kind.VM, project=t.id, flavor="m1.tiny", image="tiny-raw")
    with pytest.raises(ProviderDataError, match="no network.* with the id or name 'lan'"):
        driver.provision(ProvisionSpec(name="n1", network="lan", **spec))
    with pytest.raises(ProviderDataError, match="(?i)auto"):  # no auto-allocated topology: Nova says so
        driver.provision(ProvisionSpec(name="n2", network="auto", **spec))
    made = driver.provision(ProvisionSpec(name="n3", network="none", **spec))
    assert made.project_hint == t.id and made.flavor == "m1.tiny"
    bare = real_cloud.identity.create_project(name=f"{t.name}-norole", domain_id="default")
    with pytest.raises(ProviderAuthError) as refused:
        driver.provision(ProvisionSpec(name="n4", network="none", **{**spec, "project": bare.id}))
    message = str(refused.value)
    assert "'admin'" in message and bare.id in message and AUTH_URL in message and "credentials" not in message
    driver.close()
    real_cloud.identity.delete_project(bare)
