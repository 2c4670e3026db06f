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


def test_best_of_reports_every_figure_and_leaves_nothing_cached():
    from bench.libvirt_floor import best_of
    from providers.libvirt import driver as driver_module

    kept_before = set(driver_module._parsed._by_uri)
    best = best_of(20, rounds=2)
    assert set(best) == {"floor inventory", "floor samples", "first inventory", "steady inventory", "samples"}
    assert all(seconds > 0 for seconds in best.values())
    assert set(driver_module._parsed._by_uri) <= kept_before
