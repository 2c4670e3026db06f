"""What a launch form may offer on a Docker-API engine: its local images and its networks."""

from __future__ import annotations

import pytest

from providers.base import Kind

pytestmark = pytest.mark.integration


def test_the_engines_images_and_networks(docker_driver, busybox_image, docker_client):
    options = docker_driver().launch_options()
    assert options.kinds == (Kind.CONTAINER,) and options.image_required
    assert busybox_image in [c.value for c in options.images]
    assert all(not c.value.startswith("<none>") for c in options.images)
    networks = {c.value: c.label for c in options.networks}
    assert networks["none"] == "no network"
    assert {n.name for n in docker_client.networks.list()} <= set(networks)
