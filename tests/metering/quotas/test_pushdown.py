"""Push-down of limits to mapped tenants (fake driver with the apply_quota capability) and drift."""

from __future__ import annotations

from datetime import timedelta

import pytest

from metering import collector
from metering.choices import ChangeSource
from metering.models import ExternalProject
from metering.quotas import drift, set_defaults, set_limits
from metering.quotas.pushdown import limits_for
from providers.base import ObservedProject
from tests.conftest import vm

pytestmark = pytest.mark.django_db


@pytest.fixture
def mapped(fake_account, world, project):
    world.projects = [ObservedProject("kp-1", "alpha-tenant")]
    world.put(vm("v1", vcpus="2", ram_mb=2048, project="kp-1"))
    collector.refresh(fake_account)
    ExternalProject.objects.filter(external_id="kp-1").update(project=project)
    world.now += timedelta(minutes=5)
    collector.refresh(fake_account)  # now the tenant's VM maps to the project
    return ExternalProject.objects.get(external_id="kp-1")


def test_a_limit_change_is_pushed_to_the_mapped_tenant(mapped, world, project, eager,
                                                       django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        set_limits(project, {"vcpus": 16, "budget": 100}, user=None, source=ChangeSource.PORTAL)
    assert world.quotas["kp-1"] == {"vcpus": 16}  # only the keys set in Glasspane: the cloud keeps the rest
    with django_capture_on_commit_callbacks(execute=True):
        set_limits(project, {"vcpus": 32}, user=None, source=ChangeSource.PORTAL, account=mapped.account)
    assert world.quotas["kp-1"]["vcpus"] == 16  # the tighter of global and narrowed
    with django_capture_on_commit_callbacks(execute=True):
        set_defaults({"vms": 7}, user=None, source=ChangeSource.ADMIN)
    assert world.quotas["kp-1"]["vms"] == 7


def test_an_unmapped_project_pushes_nothing(fake_account, world, project, eager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        set_limits(project, {"vcpus": 16}, user=None, source=ChangeSource.PORTAL)
    assert len(callbacks) == 1 and world.quotas == {}


def test_drift_compares_openstack_quota_sets_and_usage_with_ours(mapped, project):
    set_limits(project, {"vcpus": 8, "vms": 10}, user=None, source=ChangeSource.CLI)
    mapped.facts = {
        "compute_quota": {"instances": 10, "cores": 20, "ram": 51200},
        "compute_limits": {"totalInstancesUsed": 1, "totalCoresUsed": 4, "totalRAMUsed": 2048},
        "volume_quota": {"volumes": {"limit": 10, "in_use": 0}, "gigabytes": {"limit": 1000, "in_use": 0}},
    }
    mapped.save()
    rows = {d.key: d for d in drift(project)}
    assert set(rows) == {"vms", "vcpus", "ram_mb", "disk_gb", "volumes"}
    assert (rows["vcpus"].limit, rows["vcpus"].openstack_limit, rows["vcpus"].limit_differs) == (8, 20, True)
    assert (rows["vcpus"].used, rows["vcpus"].openstack_used, rows["vcpus"].usage_differs) == (2, 4, True)
    assert not rows["vms"].limit_differs and not rows["vms"].usage_differs
    assert rows["volumes"].openstack_limit == 10 and rows["volumes"].limit == -1
    assert rows["ram_mb"].as_dict()["openstack_used"] == 2048
    assert limits_for(project, mapped.account)["vcpus"] == 8
