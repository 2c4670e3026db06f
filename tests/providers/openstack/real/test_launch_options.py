"""The launch form's choices on the real control plane, and a launch with them through the path
the portal takes (``quotas.submit``, then the ``provision_request`` task)."""

from __future__ import annotations

import pytest

from metering import collector, quotas
from metering.choices import ChangeSource, RequestState
from metering.launching import options_for, serving_accounts
from metering.models import Project
from tests.providers.openstack.real.conftest import add_account

pytestmark = [pytest.mark.real_openstack, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

UNKNOWN_IMAGE = "33333333-3333-4333-8333-333333333333"


@pytest.fixture
def private_image(tenant):
    """An active image private to another Keystone project: the admin token lists it, the launching
    project may not boot it."""
    other = tenant("img")
    image = other.conn.image.create_image(name=f"private-{other.name}", data=b"\0" * 1024, disk_format="raw",
                                          container_format="bare", visibility="private")
    image = other.conn.image.wait_for_status(image, status="active", wait=60)
    yield image
    other.admin.image.delete_image(image, ignore_missing=True)


def test_offered_image_and_flavor_launch_in_the_project_and_novas_refusal_reaches_the_user(
        tenant, real_cloud, private_image, eager):
    t = tenant("launch")
    account = add_account()
    collector.refresh(account)
    project = Project.objects.get(external__account=account, external__external_id=t.id)
    assert account in serving_accounts(project)
    options, error = options_for(account, project)
    assert error == "", error
    flavors = {f.value: f for f in options.flavors}
    assert {"m1.tiny", "m1.small", "m1.medium"} <= set(flavors)
    nova_tiny = real_cloud.compute.find_flavor("m1.tiny")
    assert (flavors["m1.tiny"].vcpus, flavors["m1.tiny"].ram_mb) == (nova_tiny.vcpus, nova_tiny.ram)
    tiny_raw = real_cloud.image.find_image("tiny-raw")
    assert (tiny_raw.id, "tiny-raw") in {(c.value, c.label) for c in options.images}
    assert private_image.id in {i.id for i in real_cloud.image.images()}  # the admin token sees it...
    assert private_image.id not in {c.value for c in options.images}  # ...the launching project may not use it
    assert options.image_required and options.notes == ()
    assert [c.value for c in options.networks][:2] == ["auto", "none"]  # the stand-in Neutron has no networks

    def launch(name: str, image: str):
        made = quotas.submit(project, account, {"name": name, "kind": "vm", "flavor": "m1.tiny", "image": image,
                                                "network": "none"}, user=None, source=ChangeSource.PORTAL)
        made.refresh_from_db()
        return made

    good = launch("from-options", tiny_raw.id)
    assert good.state == RequestState.DONE, good.message
    server = real_cloud.compute.get_server(good.spec["external_id"])
    assert server.project_id == t.id and server.image.id == tiny_raw.id and server.flavor.name == "m1.tiny"
    bad = launch("no-such-image", UNKNOWN_IMAGE)
    assert bad.state == RequestState.FAILED
    assert "Can not find requested image" in bad.message, bad.message
