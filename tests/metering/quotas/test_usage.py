"""Live usage counting and the QuotaUsage value object."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from metering import collector
from metering.choices import ChangeSource
from metering.models import ProvisionRequest, QuotaDefault, Reservation
from metering.quotas import QuotaUsage, effective_limits, project_usage, set_limits, usage_by_scope
from metering.quotas.usage import INFINITY
from providers.base import Kind, ObservedResource, State
from tests.conftest import T0, vm

pytestmark = pytest.mark.django_db


def volume(ext, size="50", project="alpha"):
    return ObservedResource(ext, Kind.VOLUME, ext, State.AVAILABLE, disk_gb=Decimal(size), project_hint=project)


def container(ext, vcpus="0.5", ram_mb=256, project="alpha"):
    return vm(ext, kind=Kind.CONTAINER, vcpus=vcpus, ram_mb=ram_mb, disk_gb=None, project=project)


def test_counts_vms_containers_volumes_and_sizes_from_the_inventory(fake_account, world, project):
    world.put(vm("v1", vcpus="2", ram_mb=2048, disk_gb="20"))
    world.put(vm("v2", vcpus="4", ram_mb=4096, disk_gb="40", state=State.STOPPED))  # stopped still counts
    world.put(container("c1"))
    world.put(container("c2", vcpus=None, ram_mb=None))  # no limits: counts as a container only
    world.put(volume("vol1"))
    world.put(vm("x1", project="other"))  # another project's
    collector.refresh(fake_account)
    usage = project_usage(project)
    used = {k: u.used for k, u in usage.items()}
    assert used == {"vms": 2, "containers": 2, "vcpus": Decimal("6.5"), "ram_mb": 6400,
                    "disk_gb": Decimal(110), "volumes": 1, "budget": 0}
    world.remove("v1")
    world.now = T0 + timedelta(minutes=5)
    collector.refresh(fake_account)
    assert project_usage(project)["vms"].used == 1  # deleted rows no longer count


def test_reservations_count_and_limits_fall_back_to_defaults(fake_account, world, project):
    QuotaDefault.objects.create(key="vms", limit=5)
    set_limits(project, {"vcpus": 8}, user=None, source=ChangeSource.CLI)
    request = ProvisionRequest.objects.create(project=project, account=fake_account, kind="vm")
    Reservation.objects.create(request=request, project=project, account=fake_account, vms=1, vcpus=Decimal(3))
    usage = project_usage(project)
    assert (usage["vms"].limit, usage["vms"].reserved, usage["vms"].available) == (5, 1, 4)
    assert (usage["vcpus"].limit, usage["vcpus"].in_use) == (8, 3)
    assert usage["ram_mb"].unlimited and usage["ram_mb"].available == INFINITY
    Reservation.objects.update(active=False)
    assert project_usage(project)["vcpus"].reserved == 0


def test_account_scope_counts_only_that_account(make_account, world, project, request):
    lab = make_account(name="lab", world_name=request.node.name)
    other_world = type(world)(now=T0)
    from devsim.fake import FakeDriver

    FakeDriver.worlds["other-world"] = other_world
    try:
        edge = make_account(name="edge", world_name="other-world")
        world.put(vm("v1", vcpus="2"))
        other_world.put(vm("e1", vcpus="3"))
        collector.refresh(lab)
        collector.refresh(edge)
    finally:
        FakeDriver.worlds.pop("other-world")
    set_limits(project, {"vcpus": 4}, user=None, source=ChangeSource.CLI, account=edge)
    assert project_usage(project)["vcpus"].used == 5 and project_usage(project)["vcpus"].unlimited
    narrowed = project_usage(project, edge)["vcpus"]
    assert (narrowed.used, narrowed.limit, narrowed.account_id) == (3, 4, edge.pk)
    assert effective_limits(project, lab)["vcpus"] == -1  # defaults never narrow to an account
    scopes = usage_by_scope([project.pk])[project.pk]
    assert set(scopes) == {None, edge.pk} and scopes[edge.pk]["vcpus"].used == 3


def test_usage_is_a_few_queries_whatever_the_inventory(fake_account, world, project, django_assert_max_num_queries):
    for i in range(200):
        world.put(vm(f"v{i}"))
    collector.refresh(fake_account)
    with django_assert_max_num_queries(4):
        usage = project_usage(project)
    assert usage["vms"].used == 200 and usage["vcpus"].used == 400


def test_quota_usage_value_object():
    over = QuotaUsage("vcpus", 10, used=Decimal(9), reserved=Decimal(3))
    assert over.over and over.over_by == 2 and over.available == 0 and over.percent == Decimal("120.0")
    assert over.allows(0) and not over.allows(1)  # asking for nothing always fits
    fits = QuotaUsage("vms", 10, used=Decimal(4))
    assert fits.allows(6) and not fits.allows(7) and fits.as_dict()["available"] == 6
    zero = QuotaUsage("vms", 0)
    assert zero.percent == 0 and not zero.allows(1)
    free = QuotaUsage("vms", -1, used=Decimal(1000))
    assert free.unlimited and not free.over and free.percent is None and free.as_dict()["available"] is None
