"""Glasspane quota keys <-> LXD project limits, on recorded project documents."""

from __future__ import annotations

from decimal import Decimal

import pytest

from providers.base import QuotaReading
from providers.lxd import quotas
from providers.lxd.driver import LXDDriver
from tests.providers.lxd import shapes


def test_the_driver_declares_the_keys_lxd_can_hold():
    assert LXDDriver.quota_keys == {"vms", "containers", "vcpus", "ram_mb", "disk_gb"}


def test_readings_give_limits_in_our_units_unset_as_unlimited_and_lxds_usage():
    readings = quotas.readings(shapes.PROJECT["config"], shapes.PROJECT_STATE["resources"])
    assert readings["vcpus"] == QuotaReading("vcpus", 2, 1)
    assert readings["ram_mb"] == QuotaReading("ram_mb", 256, Decimal(64))
    assert readings["disk_gb"] == QuotaReading("disk_gb", 2, Decimal(1))
    assert readings["vms"] == QuotaReading("vms", -1, 0)
    assert readings["containers"] == QuotaReading("containers", -1, 1)


def test_only_the_keys_given_are_written_and_minus_one_unsets():
    config, changed = quotas.updated_config(shapes.PROJECT["config"], {"ram_mb": 512, "disk_gb": -1, "vms": 3})
    assert config["limits.memory"] == "512MiB" and config["limits.virtual-machines"] == "3"
    assert "limits.disk" not in config
    assert config["limits.cpu"] == "2" and config["limits.instances"] == "3"  # untouched
    assert config["features.images"] == "false"
    assert sorted(changed) == ["limits.disk", "limits.memory", "limits.virtual-machines"]


def test_writing_what_is_already_there_changes_nothing_and_foreign_keys_are_ignored():
    config, changed = quotas.updated_config(shapes.PROJECT["config"], {"vcpus": 2, "budget": 100, "volumes": 4})
    assert changed == [] and config == shapes.PROJECT["config"]


@pytest.mark.parametrize("value", [-2, "many", True, None])
def test_a_bad_limit_names_the_key(value):
    with pytest.raises(ValueError, match="quota vcpus"):
        quotas.updated_config({}, {"vcpus": value})


def test_project_facts_keep_the_raw_limits_including_limits_instances():
    facts = quotas.project_facts(shapes.PROJECT["config"], shapes.PROJECT_STATE["resources"])
    assert facts["limits"]["limits.instances"] == "3"
    assert facts["usage"]["instances"] == {"Limit": 3, "Usage": 1}
