"""What a launch form may offer on an OpenStack cloud: Nova's flavors with their sizes (the same
sizes admission counts), Glance's active images and the Neutron networks the target project can
use, and what Nova says about an image it cannot find."""

from __future__ import annotations

from decimal import Decimal

import pytest

from devsim.openstack import seed
from metering import collector, quotas
from metering.choices import ChangeSource, RequestState
from metering.launching import options_for
from metering.models import Project
from providers.base import Kind, ProviderDataError, ProvisionSpec
from tests.providers.openstack.test_collector_e2e import add_cloud

pytestmark = pytest.mark.integration

UNKNOWN_IMAGE = "33333333-3333-4333-8333-333333333333"


@pytest.fixture
def cloud(sim):
    """The demo cloud plus what analytics may not use: another project's private image and network,
    and an image still uploading; and what it may: its own private image and network."""
    state = sim.state
    analytics, webshop = state.project_named("analytics"), state.project_named("webshop")
    state.add_image("analytics-golden", owner=analytics.id, visibility="private")
    state.add_image("webshop-secret", owner=webshop.id, visibility="private")
    state.add_image("still-uploading", owner=analytics.id, status="queued")
    state.add_network("analytics-net", analytics.id)
    state.add_network("webshop-net", webshop.id)
    return sim


def test_flavors_images_and_networks_of_the_project_and_they_build_what_they_say(cloud, make_driver):
    state = cloud.state
    driver = make_driver(cloud)
    analytics = state.project_named("analytics")
    options = driver.launch_options(analytics.id)
    assert options.kinds == (Kind.VM,)
    by_name = {f.value: f for f in options.flavors}
    assert set(by_name) == {f.name for f in state.flavors.values()}
    small = by_name["m1.medium"]
    assert (small.vcpus, small.ram_mb, small.disk_gb) == driver.flavor_size("m1.medium")
    assert small.label.startswith("m1.medium (")
    sizes = [(f.vcpus, f.ram_mb) for f in options.flavors]
    assert sizes == sorted(sizes)  # smallest first
    # Glance: active images analytics may boot, by name and id (not webshop's private one, not a queued one)
    visible = {i.id: i.name for i in state.images.values()
               if i.status == "active" and i.visible_to(analytics.id)}
    assert {(c.value, c.label) for c in options.images} == set(visible.items())
    assert {"analytics-golden", seed.IMAGE} <= {c.label for c in options.images}
    assert not {"webshop-secret", "still-uploading"} & {c.label for c in options.images}
    assert options.image_required and options.notes == ()
    # Neutron: Nova's auto/none, then the shared network and analytics' own, not webshop's
    assert [(c.value, c.label) for c in options.networks] == [
        ("auto", "auto (Nova allocates one)"), ("none", "none"),
        (state.network_named("analytics-net").id, "analytics-net"), (state.network_named("shared-net").id, "shared-net")]
    # without a project: the account's own (admin's), still not every project's
    own = {c.label for c in driver.launch_options().networks}
    assert own == {"auto (Nova allocates one)", "none", "shared-net"}
    image = next(c for c in options.images if c.label == "analytics-golden")
    created = driver.provision(ProvisionSpec(name="from-form", kind=Kind.VM, project=analytics.id,
                                             flavor="m1.medium", image=image.value, network=options.networks[2].value))
    assert (created.flavor, created.vcpus) == ("m1.medium", Decimal(small.vcpus))
    server = state.servers[created.external_id]
    assert (server.project_id, server.image_id) == (analytics.id, image.value)
    with pytest.raises(ProviderDataError, match="Can not find requested image"):
        driver.provision(ProvisionSpec(name="no-image", kind=Kind.VM, project=analytics.id, flavor="m1.tiny",
                                       image=UNKNOWN_IMAGE, network="none"))


@pytest.mark.django_db
def test_the_launch_path_offers_the_projects_choices_and_nova_refusal_reaches_the_user(
        cloud, eager, django_capture_on_commit_callbacks):
    account = add_cloud(cloud)
    collector.refresh(account)
    project = Project.objects.get(external__account=account, external__name="analytics")
    options, error = options_for(account, project)
    assert error == ""
    assert "analytics-net" in {c.label for c in options.networks}
    assert "webshop-net" not in {c.label for c in options.networks}
    image = next(c for c in options.images if c.label == "analytics-golden")

    def launch(name: str, image_ref: str):
        with django_capture_on_commit_callbacks(execute=True):
            made = quotas.submit(project, account, {"name": name, "kind": "vm", "flavor": "m1.tiny",
                                                    "image": image_ref, "network": options.networks[2].value},
                                 user=None, source=ChangeSource.PORTAL)
        made.refresh_from_db()
        return made

    good = launch("from-portal", image.value)
    assert good.state == RequestState.DONE, good.message
    assert cloud.state.servers[good.spec["external_id"]].image_id == image.value
    bad = launch("no-image", UNKNOWN_IMAGE)
    assert bad.state == RequestState.FAILED
    assert "Can not find requested image" in bad.message, bad.message
