"""A refresh writes with the cyclic garbage collector paused, and gives it back as it found it; the
driver's network calls are not paused (HTTP clients leave cycles that hold connections)."""

import gc

import pytest

from devsim.fake import FakeDriver
from metering import collector
from tests.conftest import T0, vm

pytestmark = pytest.mark.django_db


def test_refresh_writes_with_the_collector_paused_but_not_the_drivers_calls(fake_account, world, project,
                                                                           monkeypatch):
    seen = {}
    inventory, apply = FakeDriver.inventory, collector._apply

    def recording_inventory(self, *args, **kwargs):
        seen["inventory"] = gc.isenabled()
        return inventory(self, *args, **kwargs)

    def recording_apply(*args, **kwargs):
        seen["apply"] = gc.isenabled()
        return apply(*args, **kwargs)

    monkeypatch.setattr(FakeDriver, "inventory", recording_inventory)
    monkeypatch.setattr(collector, "_apply", recording_apply)
    world.put(vm("v1"))
    world.now = T0
    run = collector.refresh(fake_account)
    assert run.created == 1
    assert seen == {"inventory": True, "apply": False}
    assert gc.isenabled()
