"""What makes a 2,000-pod refresh cheap: quantities and timestamps parsed once per text (bounded
caches), pages of pods read as they arrive (and read again when a list restarts), and the cyclic
garbage collector paused while JSON is decoded and mapped, always switched back on after."""

from __future__ import annotations

import gc
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from kubernetes import client

from providers.base import Kind, ProviderDataError
from providers.kubernetes import api, mapping


def test_a_quantity_text_is_parsed_once_and_a_bad_one_every_time(monkeypatch):
    parsed = []
    real = mapping.parse_quantity
    monkeypatch.setattr(mapping, "parse_quantity", lambda v: parsed.append(v) or real(v))
    monkeypatch.setattr(mapping, "_QUANTITIES", {})
    assert mapping.quantity("500m", "cpu") == Decimal("0.5") and mapping.quantity("500m", "cpu") == Decimal("0.5")
    assert mapping.quantity("2Gi", "memory") == 2 * 1024 ** 3
    assert parsed == ["500m", "2Gi"]
    for _ in range(2):
        with pytest.raises(ProviderDataError, match="cpu is not a quantity: 'a lot'"):
            mapping.quantity("a lot", "cpu")
    assert mapping.quantity(2, "cpu") == 2 and mapping.quantity(2, "cpu") == 2  # numbers are not cached
    assert parsed == ["500m", "2Gi", "a lot", "a lot", 2, 2]


def test_the_caches_are_emptied_when_full(monkeypatch):
    monkeypatch.setattr(mapping, "CACHE_LIMIT", 3)
    monkeypatch.setattr(mapping, "_QUANTITIES", {})
    monkeypatch.setattr(mapping, "_TIMES", {})
    for index in range(10):  # metrics values: nearly every one is new
        assert mapping.quantity(f"{index}Ki", "memory") == index * 1024
        assert mapping.parse_time(f"2026-03-01T08:30:0{index}Z", "t") == datetime(2026, 3, 1, 8, 30, index, tzinfo=UTC)
        assert len(mapping._QUANTITIES) <= 3 and len(mapping._TIMES) <= 3


def test_a_timestamp_text_is_parsed_once_into_aware_utc(monkeypatch):
    monkeypatch.setattr(mapping, "_TIMES", {})
    first = mapping.parse_time("2026-03-01T10:30:00.5+02:00", "startTime")
    assert first == datetime(2026, 3, 1, 8, 30, 0, 500000, tzinfo=UTC) and first.tzinfo is UTC
    assert mapping.parse_time("2026-03-01T10:30:00.5+02:00", "startTime") is first
    assert mapping.parse_time("2026-03-01T08:30:00", "t").tzinfo is UTC  # no offset: taken as UTC
    assert mapping.parse_time(None, "t") is None and mapping.parse_time("", "t") is None
    for bad in ("yesterday", 1700000000):
        with pytest.raises(ProviderDataError, match="is not a timestamp"):
            mapping.parse_time(bad, "startTime")
    assert list(mapping._TIMES) == ["2026-03-01T10:30:00.5+02:00", "2026-03-01T08:30:00"]


class _Page:
    def __init__(self, items, token=None):
        self.data = json.dumps({"items": items, "metadata": {"resourceVersion": "7", "continue": token}}).encode()
        self.headers = {}


def test_a_restarted_list_keeps_its_pages_again_and_only_once(gc_on):
    pages = {None: _Page([1, 2], "a"), "a": _Page([3, 4], "b"), "b": _Page([5])}
    expired = {"once": True}
    seen = []

    def function(limit, _continue, _preload_content, _request_timeout):
        assert limit == 2 and gc.isenabled()  # the wait for the server is not paused
        if _continue == "b" and expired.pop("once", False):
            raise client.ApiException(status=410, reason="Gone")
        return pages[_continue]

    def keep(page):
        seen.append(list(page))
        assert not gc.isenabled()
        return [n * 10 for n in page]

    items, version, _ = api.list_all(function, "list numbers", page_size=2, keep=keep)
    assert items == [10, 20, 30, 40, 50] and version == "7"
    assert seen == [[1, 2], [3, 4], [1, 2], [3, 4], [5]]
    assert gc.isenabled()


@pytest.mark.integration
def test_inventory_and_samples_map_with_the_collector_paused_and_leave_it_on(cluster, make_driver, monkeypatch,
                                                                             gc_on):
    during = []
    placed, usage = mapping.placed_pod, mapping.quantity
    monkeypatch.setattr(mapping, "placed_pod", lambda *a: during.append(("pod", gc.isenabled())) or placed(*a))
    monkeypatch.setattr(mapping, "quantity", lambda *a: during.append(("quantity", gc.isenabled())) or usage(*a))
    driver = make_driver(cluster)
    inventory = driver.inventory()
    assert gc.isenabled() and {r.name for r in inventory.resources if r.kind == Kind.CONTAINER} == {
        "webshop/frontend", "webshop/nginx", "analytics/report-builder"}
    during.clear()
    assert driver.samples() and gc.isenabled()
    assert during and not any(enabled for _, enabled in during)

    def broken(*args):
        raise KeyError("unexpected")

    monkeypatch.setattr(mapping, "placed_pod", broken)
    with pytest.raises(KeyError):
        make_driver(cluster).inventory()
    assert gc.isenabled()
