"""What a launch form may offer on Proxmox VE: the cluster's templates, each for its guest type."""

from __future__ import annotations

import pytest

from providers.base import Kind

pytestmark = pytest.mark.integration


def test_templates_are_the_images(cluster, make_driver):
    options = make_driver(cluster).launch_options()
    assert options.kinds == (Kind.VM, Kind.CONTAINER) and options.image_required
    assert [(c.value, c.kinds) for c in options.images] == [("debian-12-ct", (Kind.CONTAINER,)),
                                                            ("debian-12-vm", (Kind.VM,))]
    assert [c.value for c in options.images_for(Kind.VM)] == ["debian-12-vm"]
