"""What a launch form may offer on an OpenStack cloud: Nova's flavors with their sizes (the same
sizes admission counts), and Glance and Neutron where the catalog has them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from providers.base import Kind, ProvisionSpec

pytestmark = pytest.mark.integration


def test_flavors_come_with_their_sizes_and_build_what_they_say(sim, make_driver):
    driver = make_driver(sim)
    options = driver.launch_options()
    assert options.kinds == (Kind.VM,)
    by_name = {f.value: f for f in options.flavors}
    assert set(by_name) == {f.name for f in sim.state.flavors.values()}
    small = by_name["m1.medium"]
    assert (small.vcpus, small.ram_mb, small.disk_gb) == driver.flavor_size("m1.medium")
    assert small.label.startswith("m1.medium (")
    sizes = [(f.vcpus, f.ram_mb) for f in options.flavors]
    assert sizes == sorted(sizes)  # smallest first
    # the simulator's catalog has no image or network service: said once, and Nova's "none" offered
    assert options.images == () and not options.image_required
    assert options.notes == ("no image service in the catalog: type an image id",)
    assert [c.value for c in options.networks] == ["none"]
    analytics = sim.state.project_named("analytics")
    created = driver.provision(ProvisionSpec(name="from-form", kind=Kind.VM, project=analytics.id,
                                             flavor="m1.medium", network=options.networks[0].value))
    assert (created.flavor, created.vcpus) == ("m1.medium", Decimal(small.vcpus))
