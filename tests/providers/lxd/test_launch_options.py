"""What a launch form may offer on a real LXD host: its images by alias, each for the instance type
it was built for; the account's ``default_image`` makes picking one optional."""

from __future__ import annotations

import pytest

from providers.base import Kind
from providers.lxd.driver import LXDDriver
from tests.providers.lxd.conftest import IMAGE

pytestmark = [pytest.mark.integration, pytest.mark.real_lxd]


def test_the_hosts_images_by_alias(lxd_socket):
    with LXDDriver({"endpoint": f"unix://{lxd_socket}"}) as driver:
        options = driver.launch_options()
    assert options.kinds == (Kind.CONTAINER, Kind.VM) and options.image_required
    busybox = [c for c in options.images if c.value == IMAGE]
    assert len(busybox) == 1 and busybox[0].kinds == (Kind.CONTAINER,)
    assert options.images_for(Kind.VM) == tuple(c for c in options.images if Kind.VM in c.kinds)
    with LXDDriver({"endpoint": f"unix://{lxd_socket}", "default_image": IMAGE}) as driver:
        assert not driver.launch_options().image_required
