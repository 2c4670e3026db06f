"""Every field the driver reports, pinned: a fixed simulator cloud's full inventory (first refresh,
with what was deleted since the lookback start) and its usage reports, compared with the JSON the
driver produced before its fast paths were written (``golden_inventory.json``).

Reading speed-ups (how requests are made, how records are mapped) must not change one value, type
or order. Times are written as seconds after the simulator's frozen clock, so the file holds on any
day. ``GLASSPANE_WRITE_GOLDEN=1`` rewrites the file: only for a deliberate change of what the driver
reports, reviewed in the diff.
"""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from devsim.openstack import seed

pytestmark = pytest.mark.integration

GOLDEN = Path(__file__).with_name("golden_inventory.json")


def scenario(state) -> None:
    """The demo cloud, 40 generated servers over three tenants, and the shapes a refresh must read:
    deleted within and before the lookback, soft-deleted, error, building, shelved, resizing, paused,
    suspended, labelled, without a host, and one record missing its flavor."""
    seed.demo(state)
    seed.generate(state, 40, projects=3)
    now = state.clock.now().replace(microsecond=0)
    webshop = state.project_named("webshop")
    flavor = state.find_flavor

    def add(name, vm_state="active", host="compute-01", minutes=90, **changes):
        server = state.add_server(name, webshop.id, flavor("m1.small"), host=host, vm_state=vm_state,
                                  launched_at=now - timedelta(minutes=minutes),
                                  server_id=seed.stable_id("server", "golden", name))
        for key, value in changes.items():
            setattr(server, key, value)
        return server

    state.delete_server(add("gone-recently", minutes=600))
    state.servers[seed.stable_id("server", "golden", "gone-recently")].updated = now - timedelta(hours=2)
    state.servers[seed.stable_id("server", "golden", "gone-recently")].terminated_at = now - timedelta(hours=2)
    old = add("gone-long-ago", minutes=90 * 24 * 60)
    state.delete_server(old)
    old.updated = old.terminated_at = now - timedelta(days=70)
    add("soft", vm_state="soft-delete")
    add("broken", vm_state="error", host=None)
    add("coming", vm_state="building", launched_at=None)
    add("shelved", vm_state="shelved_offloaded", host=None)
    add("resizing", vm_state="resized", old_flavor=flavor("m1.tiny"))
    add("paused", vm_state="paused", task_state="pausing")
    add("sleepy", vm_state="suspended")
    add("labelled", metadata={"team": "checkout", "tier": "1"})
    state.faults.malformed_servers.add(add("no-flavor").id)


def plain(value, origin: datetime):
    """A JSON form that keeps types apart: Decimal, datetime, tuple and dataclasses are tagged."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"@" + type(value).__name__: {f.name: plain(getattr(value, f.name), origin)
                                              for f in dataclasses.fields(value)}}
    if isinstance(value, Decimal):
        return {"Decimal": str(value)}
    if isinstance(value, datetime):
        return {"at": (value - origin) / timedelta(seconds=1), "tz": str(value.tzinfo)}
    if isinstance(value, tuple | frozenset | set):
        items = sorted(value) if isinstance(value, frozenset | set) else value
        return {type(value).__name__: [plain(v, origin) for v in items]}
    if isinstance(value, list):
        return [plain(v, origin) for v in value]
    if isinstance(value, dict):
        return {"dict": [[plain(k, origin), plain(v, origin)] for k, v in value.items()]}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"no JSON form for {type(value).__name__}")


def observe(sim, make_driver, **settings) -> dict:
    origin = sim.state.clock.now()
    driver = make_driver(sim, **settings)
    inventory = driver.inventory(since=origin - timedelta(days=31))
    usage = [driver.usage_report(p.external_id, origin - timedelta(hours=48), origin) for p in inventory.projects]
    return {"inventory": plain(inventory, origin), "usage": plain(usage, origin)}


def test_full_inventory_and_usage_are_exactly_the_recorded_ones(make_sim, make_driver):
    found = {}
    sim = make_sim(scenario)
    found["paged, embedded flavors (2.96)"] = observe(sim, make_driver, page_size=7)
    sim.state.compute_max_version = (2, 46)
    found["flavor list (2.46)"] = observe(sim, make_driver)
    sim.state.compute_max_version = (2, 39)
    found["unpaged usage (2.39)"] = observe(sim, make_driver, page_size=1000)
    if os.environ.get("GLASSPANE_WRITE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(found, indent=1, sort_keys=False) + "\n")
    recorded = json.loads(GOLDEN.read_text())
    for case, observed in found.items():
        assert json.loads(json.dumps(observed)) == recorded[case], case
