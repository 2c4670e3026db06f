"""Admission under real concurrency: threads with their own connections never pass a limit.

Runs on SQLite (one writer at a time) and on PostgreSQL (row lock on the project) alike.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connections

from metering.choices import ChangeSource, RequestState
from metering.models import ProvisionRequest, Reservation
from metering.quotas import QuotaExceeded, project_usage, set_limits, submit

pytestmark = pytest.mark.django_db(transaction=True)


def hammer(project, account, specs):
    """Submit every spec from its own thread (and connection), all released at once."""
    start = threading.Barrier(len(specs))

    def one(spec):
        try:
            start.wait()
            return submit(project, account, spec, user=None, source=ChangeSource.API)
        except QuotaExceeded as exc:
            return exc
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(specs)) as pool:
        return list(pool.map(one, specs))


def test_fifty_concurrent_requests_admit_exactly_ten_vms(project, fake_account, queued):
    set_limits(project, {"vms": 10}, user=None, source=ChangeSource.CLI)
    specs = [{"name": f"vm-{i}", "kind": "vm", "vcpus": 1, "ram_mb": 512} for i in range(50)]
    results = hammer(project, fake_account, specs)
    admitted = [r for r in results if isinstance(r, ProvisionRequest)]
    refused = [r for r in results if isinstance(r, QuotaExceeded)]
    assert len(admitted) == 10 and len(refused) == 40
    assert {r.message for r in refused} == {"Quota exceeded for vms: Requested 1, but already used 10 of 10 vms"}
    assert {(r.key, r.requested, r.used, r.limit) for r in refused} == {("vms", 1, 10, 10)}
    assert Reservation.objects.filter(active=True).count() == 10
    assert ProvisionRequest.objects.filter(state=RequestState.REFUSED).count() == 40
    assert sorted(queued) == sorted(r.pk for r in admitted)
    assert project_usage(project)["vms"].reserved == 10


def test_concurrent_mixed_sizes_never_pass_a_vcpu_limit(project, fake_account, queued):
    set_limits(project, {"vcpus": 20}, user=None, source=ChangeSource.CLI)
    sizes = [1, 2, 3, 4, "0.5"] * 10
    specs = [{"name": f"vm-{i}", "kind": "vm", "vcpus": size, "ram_mb": 256} for i, size in enumerate(sizes)]
    results = hammer(project, fake_account, specs)
    admitted = [r for r in results if isinstance(r, ProvisionRequest)]
    refused = [r for r in results if isinstance(r, QuotaExceeded)]
    total = sum(Decimal(r.spec["vcpus"]) for r in admitted)
    assert total <= 20 and len(admitted) + len(refused) == 50
    # nothing fits once refused: what was refused really did not fit at that moment
    assert all(e.key == "vcpus" and e.used + Decimal(e.requested) > 20 for e in refused)
    assert total > 20 - 4  # the limit was actually used, not refused early
    usage = project_usage(project)["vcpus"]
    assert usage.reserved == total and not usage.over
