"""One bad record never stops an account (issue 17, item 2): over-long text is cut with a warning,
nonsense sizes skip that record with a counted issue on the run, everything else is collected."""

from __future__ import annotations

from datetime import timedelta

import pytest

from metering import collector
from metering.choices import RunStatus
from metering.models import Resource, UsageSegment
from tests.conftest import T0, vm

pytestmark = pytest.mark.django_db(transaction=False)


def good(world, n=3):
    for i in range(n):
        world.put(vm(f"good-{i}", f"web-{i}"))


BAD = {
    "nan-vcpus": dict(vcpus="NaN"),
    "inf-disk": dict(disk_gb="Infinity"),
    "negative-ram": dict(ram_mb=-4096),
    "huge-ram": dict(ram_mb=10**40),
    "huge-disk": dict(disk_gb="1e30"),
    "negative-vcpus": dict(vcpus="-2"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_record_with_a_nonsense_size_is_skipped_and_counted(fake_account, world, case):
    good(world)
    world.put(vm("bad", "bad-one", **BAD[case]))
    world.now = T0
    run = collector.refresh(fake_account)
    assert run.status == RunStatus.PARTIAL, (run.status, run.error)
    assert sorted(Resource.objects.values_list("external_id", flat=True)) == ["good-0", "good-1", "good-2"]
    assert [i["external_id"] for i in run.issues] == ["bad"]
    assert UsageSegment.objects.filter(open=True).count() == 3
    world.now = T0 + timedelta(minutes=5)
    again = collector.refresh(fake_account)
    assert again.status == RunStatus.PARTIAL and len(again.issues) == 1


def test_over_long_text_is_cut_with_a_warning(fake_account, world):
    good(world)
    world.put(vm("long", "n" * 1500, image="i" * 400, flavor="f" * 300, labels={"k": "v"},
                 project="alpha"))
    world.put(vm("nul", "has\x00nul"))
    world.put(vm("x" * 300, "long-id"))
    world.now = T0
    run = collector.refresh(fake_account)
    assert run.status == RunStatus.PARTIAL, (run.status, run.error)
    long = Resource.objects.get(external_id="long")
    assert long.name == "n" * 255 and len(long.image) == 255 and len(long.flavor) == 255
    assert Resource.objects.get(external_id="nul").name == "hasnul"
    assert not Resource.objects.filter(name="long-id").exists()  # an id cut short could name another
    messages = {i["external_id"][:10]: i["message"] for i in run.issues}
    assert "cut" in messages["long"] and "name" in messages["long"]
    assert "x" * 10 in messages
    assert Resource.objects.count() == 5
    assert UsageSegment.objects.filter(open=True).count() == 5
