"""A refresh runs with the cyclic garbage collector paused, and gives it back as it found it."""

import gc

import pytest

from devsim.fake import FakeDriver
from metering import collector
from providers.heap import gc_paused
from tests.conftest import T0, vm

pytestmark = pytest.mark.django_db


def test_gc_paused_restores_the_state_it_found():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner one does not re-enable for the outer
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # a caller that had disabled it is left alone
    finally:
        gc.enable()


def test_refresh_observes_and_writes_with_the_collector_paused(fake_account, world, project, monkeypatch):
    seen = []
    inventory = FakeDriver.inventory

    def recording(self, *args, **kwargs):
        seen.append(gc.isenabled())
        return inventory(self, *args, **kwargs)

    monkeypatch.setattr(FakeDriver, "inventory", recording)
    world.put(vm("v1"))
    world.now = T0
    run = collector.refresh(fake_account)
    assert run.created == 1
    assert seen == [False]
    assert gc.isenabled()
