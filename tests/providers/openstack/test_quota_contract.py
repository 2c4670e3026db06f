"""The provider-neutral quota contract, implemented by the OpenStack driver: our keys in, our keys
out, Nova's and Cinder's names only inside ``providers/openstack/`` (against the simulator)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from providers.base import Capability, QuotaReading
from providers.openstack.driver import OpenStackDriver

pytestmark = pytest.mark.integration


def _analytics(sim):
    return next(p for p in sim.state.projects.values() if p.name == "analytics").id


def test_the_driver_declares_the_keys_it_maps():
    assert OpenStackDriver.quota_keys == {"vms", "vcpus", "ram_mb", "disk_gb", "volumes"}
    assert Capability.APPLY_QUOTA in OpenStackDriver.capabilities


def test_read_quotas_and_the_inventory_speak_our_keys(sim, make_driver):
    analytics = _analytics(sim)
    driver = make_driver(sim)
    readings = driver.read_quotas(analytics)
    assert set(readings) == OpenStackDriver.quota_keys
    assert readings["vcpus"] == QuotaReading("vcpus", sim.state.compute_quota(analytics)["cores"], Decimal(18))
    assert readings["disk_gb"].limit == sim.state.volume_quota(analytics)["gigabytes"]
    assert readings["disk_gb"].used == Decimal(500)
    assert driver.inventory().quotas[analytics] == readings


def test_apply_quota_writes_only_the_keys_given(sim, make_driver):
    analytics = _analytics(sim)
    driver = make_driver(sim)
    before = driver.read_quotas(analytics)
    applied = driver.apply_quota(analytics, {"vcpus": 40, "volumes": 3})
    after = driver.read_quotas(analytics)
    assert (applied["vcpus"], applied["volumes"]) == (40, 3)
    assert (after["vcpus"].limit, after["volumes"].limit) == (40, 3)
    assert all(after[k].limit == before[k].limit for k in ("vms", "ram_mb", "disk_gb"))
