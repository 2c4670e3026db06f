"""A refresh runs with the heap it found frozen, so garbage collections scan only its own objects."""

import gc

import pytest

from devsim.fake import FakeDriver
from metering import collector
from metering.heap import young_heap
from tests.conftest import T0, vm

pytestmark = pytest.mark.django_db


def test_young_heap_freezes_what_existed_and_gives_it_back():
    before = gc.get_freeze_count()
    with young_heap():
        assert gc.get_freeze_count() > before  # the old heap is out of the collector's scans
        leftover = [[]]
        leftover[0].append(leftover)  # a cycle made inside is collectable inside
        del leftover
        assert gc.collect() >= 1
    assert gc.get_freeze_count() == 0


def test_refresh_observes_and_writes_with_the_old_heap_frozen(fake_account, world, project, monkeypatch):
    seen = []
    inventory = FakeDriver.inventory

    def recording(self, *args, **kwargs):
        seen.append(gc.get_freeze_count())
        return inventory(self, *args, **kwargs)

    monkeypatch.setattr(FakeDriver, "inventory", recording)
    world.put(vm("v1"))
    world.now = T0
    run = collector.refresh(fake_account)
    assert run.created == 1
    assert seen and seen[0] > 0
    assert gc.get_freeze_count() == 0
