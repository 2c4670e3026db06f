"""The API takes a provisioning request only through an account that serves the project, by the
same rule as the launch form (``metering.launching``): an account with Keystone tenants of its own
serves only the projects mapped to one of them."""

from __future__ import annotations

import pytest

from metering.launching import serving_accounts
from metering.models import ExternalProject, ProvisionRequest, Reservation

pytestmark = pytest.mark.django_db


@pytest.fixture
def tenant_cloud(api_world, make_account):
    """An account whose only tenant is mapped to bravo: it serves bravo, not alpha."""
    cloud = make_account(name="bravo-cloud", world_name=api_world.account.settings["world"])
    ExternalProject.objects.create(account=cloud, external_id="kp-bravo", name="bravo-tenant", project=api_world.b)
    return cloud


def body(account, **fields):
    return {"project": "alpha", "provider": account.name, "name": "new-vm", "kind": "vm", "vcpus": "1",
            "ram_mb": 512, **fields}


@pytest.mark.parametrize("url", ["/api/v1/provision-requests/", "/api/v1/provision-requests/preview/"])
def test_an_account_that_does_not_serve_the_project_is_a_400_saying_so(api_world, tenant_cloud, url):
    assert tenant_cloud not in serving_accounts(api_world.a)  # the launch form does not offer it
    before = (ProvisionRequest.objects.count(), Reservation.objects.count())
    response = api_world.client("member").post(url, body(tenant_cloud), format="json")
    assert response.status_code == 400, response.content
    assert response.json() == {"provider": [
        "provider account 'bravo-cloud' does not serve project 'alpha': it creates resources only in the "
        "projects mapped to its tenants (bravo)"]}
    assert (ProvisionRequest.objects.count(), Reservation.objects.count()) == before  # nothing recorded


def test_the_accounts_the_launch_form_offers_are_the_ones_the_api_takes(api_world, tenant_cloud):
    offered = serving_accounts(api_world.a)
    assert [a.name for a in offered] == [api_world.account.name]
    response = api_world.client("member").post("/api/v1/provision-requests/preview/", body(offered[0]),
                                               format="json")
    assert response.status_code == 200, response.content
