"""The benchmark floor makes the same calls as the driver and sees the same node."""

from __future__ import annotations

import pytest

from bench.libvirt_floor import compare

pytestmark = pytest.mark.integration


def test_floor_and_driver_see_the_same_node():
    result = compare(30)
    assert result["domains"] == 30
    assert result["driver"]["resources"] == 31  # the host and every domain
    assert 0 < result["driver"]["sampled"] <= 30
    assert all(result["floor"][k] >= 0 for k in ("connect", "inventory", "samples"))
