"""Admission: Nova-style refusals, account-narrowed limits, block-new, budget, provisioning."""

from __future__ import annotations

import sys
import types
from decimal import Decimal

import pytest
from django.utils import timezone

from metering import collector
from metering.choices import BreachPolicy, ChangeSource, RequestState
from metering.models import ProvisionRequest, QuotaBreach, Reservation, Resource
from metering.quotas import QuotaExceeded, SpecError, project_usage, release, set_limits, submit
from metering.quotas.provisioning import provision, settle
from providers.base import ProviderAuthError
from tests.conftest import vm

pytestmark = pytest.mark.django_db

VM = {"name": "web", "kind": "vm", "vcpus": 4, "ram_mb": 4096, "disk_gb": 20}


def limit(project, account=None, **values):
    set_limits(project, values, user=None, source=ChangeSource.CLI, account=account)


def test_refusal_says_which_limit_how_much_was_requested_used_and_allowed(
        fake_account, world, project, queued, django_capture_on_commit_callbacks):
    for i in range(9):
        world.put(vm(f"v{i}", vcpus="2"))
    collector.refresh(fake_account)
    limit(project, vcpus=20)
    with django_capture_on_commit_callbacks(execute=True):
        admitted = submit(project, fake_account, {**VM, "vcpus": 2}, user=None, source=ChangeSource.API)  # 18 + 2
        with pytest.raises(QuotaExceeded) as err:
            submit(project, fake_account, VM, user=None, source=ChangeSource.API)
    assert err.value.message == "Quota exceeded for vcpus: Requested 4, but already used 20 of 20 vcpus"
    assert (err.value.key, err.value.requested, err.value.used, err.value.limit) == ("vcpus", 4, 20, 20)
    refused = ProvisionRequest.objects.get(state=RequestState.REFUSED)
    assert refused.message == err.value.message and not hasattr(refused, "reservation")
    assert queued == [admitted.pk]  # only the admitted request is provisioned


def test_a_limit_narrowed_to_the_account_applies_too(fake_account, project, queued):
    limit(project, vms=10)
    limit(project, fake_account, ram_mb=6000)
    submit(project, fake_account, VM, user=None, source=ChangeSource.API)
    with pytest.raises(QuotaExceeded) as err:
        submit(project, fake_account, VM, user=None, source=ChangeSource.API)
    assert err.value.message == (f"Quota exceeded for ram_mb on {fake_account.name}: Requested 4096, "
                                 f"but already used 4096 of 6000 ram_mb")


def test_block_new_refuses_while_a_breach_is_open(fake_account, project, queued):
    project.breach_policy = BreachPolicy.BLOCK_NEW
    project.save()
    breach = QuotaBreach.objects.create(project=project, key="vms", limit=1, used=3, over_by=2,
                                        opened_at=timezone.now())
    with pytest.raises(QuotaExceeded) as err:
        submit(project, fake_account, VM, user=None, source=ChangeSource.PORTAL)
    assert "blocked until it is back under" in err.value.message and err.value.key == "vms"
    breach.closed_at = timezone.now()
    breach.save()
    assert submit(project, fake_account, VM, user=None, source=ChangeSource.PORTAL).state == RequestState.PENDING


def test_budget_refuses_a_request_whose_forecast_would_pass_it(fake_account, project, queued, monkeypatch):
    costs = types.ModuleType("metering.chargeback.costs")
    costs.month_to_date = lambda project: types.SimpleNamespace(forecast=Decimal("90.00"))
    costs.forecast_delta = lambda project, vcpus, ram_mb, disk_gb, kind, account, now=None: vcpus * Decimal("2.5")
    monkeypatch.setitem(sys.modules, "metering.chargeback.costs", costs)
    limit(project, budget=100)
    first = submit(project, fake_account, {**VM, "vcpus": 2}, user=None, source=ChangeSource.API)  # 90 + 5
    assert first.reservation.cost == Decimal("5.00")
    with pytest.raises(QuotaExceeded) as err:
        submit(project, fake_account, VM, user=None, source=ChangeSource.API)  # 95 + 10 > 100
    assert err.value.message == "Quota exceeded for budget: Requested 10, but already used 95 of 100 budget"


@pytest.mark.parametrize("spec, field", [
    ({"kind": "vm", "vcpus": 1, "ram_mb": 1}, "name"),
    ({**VM, "kind": "lxc"}, "kind"),
    ({**VM, "vcpus": "many"}, "vcpus"),
    ({**VM, "ram_mb": "1.5"}, "ram_mb"),
    ({"name": "x", "kind": "vm", "vcpus": 1}, "ram_mb"),
    ({**VM, "colour": "red"}, "colour"),
])
def test_bad_requests_name_the_field(fake_account, project, spec, field):
    with pytest.raises(SpecError) as err:
        submit(project, fake_account, spec, user=None, source=ChangeSource.API)
    assert field in err.value.errors and not ProvisionRequest.objects.exists()


def test_provisioning_creates_through_the_driver_and_hands_over_to_the_inventory(fake_account, world, project, queued):
    limit(project, vms=1)
    request = submit(project, fake_account, VM, user=None, source=ChangeSource.API)
    assert project_usage(project)["vms"].reserved == 1
    done = provision(request.pk)
    assert done.state == RequestState.DONE and done.resource.name == "web"
    assert done.resource.vcpus == 4 and done.resource.project == project
    assert [r.name for r in world.resources.values()] == ["web"]
    usage = project_usage(project)["vms"]
    assert (usage.used, usage.reserved) == (1, 0)  # the resource counts now, the reservation is gone
    assert provision(request.pk).state == RequestState.DONE  # a redelivered task changes nothing
    assert len(world.resources) == 1


def test_a_failed_provisioning_releases_the_reservation(fake_account, world, project, queued):
    request = submit(project, fake_account, VM, user=None, source=ChangeSource.API)
    world.fail = ProviderAuthError("token expired")
    done = provision(request.pk)
    assert done.state == RequestState.FAILED and "token expired" in done.message
    assert not Reservation.objects.filter(active=True).exists()


def test_settle_waits_for_the_inventory_then_gives_up_after_the_ttl(fake_account, world, project, queued):
    request = submit(project, fake_account, VM, user=None, source=ChangeSource.API)
    ProvisionRequest.objects.filter(pk=request.pk).update(
        state=RequestState.DONE, finished_at=timezone.now(), spec={**request.spec, "external_id": "never"})
    assert settle(fake_account) == 0 and Reservation.objects.get().active
    assert settle(fake_account, now=timezone.now() + timezone.timedelta(hours=2)) == 1
    assert not Resource.objects.exists()


def test_release_is_idempotent(fake_account, project, queued):
    request = submit(project, fake_account, VM, user=None, source=ChangeSource.API)
    assert release(request, state=RequestState.FAILED, message="cancelled") is True
    assert release(request) is False
    request.refresh_from_db()
    assert request.state == RequestState.FAILED and request.message == "cancelled"


def test_a_budgeted_request_prices_the_forecast_once(fake_account, project, queued, monkeypatch):
    """The month's forecast is the costly part of a budget check: one admission computes it once
    (before, it was computed again under the lock), and the request's delta once."""
    calls = {"month_to_date": 0, "forecast_delta": 0}

    def month_to_date(project):
        calls["month_to_date"] += 1
        return types.SimpleNamespace(forecast=Decimal("90.00"))

    def forecast_delta(project, vcpus, ram_mb, disk_gb, kind, account, now=None):
        calls["forecast_delta"] += 1
        return vcpus * Decimal("2.5")

    costs = types.ModuleType("metering.chargeback.costs")
    costs.month_to_date, costs.forecast_delta = month_to_date, forecast_delta
    monkeypatch.setitem(sys.modules, "metering.chargeback.costs", costs)
    limit(project, budget=100)
    calls.update(month_to_date=0, forecast_delta=0)  # setting a limit checks for breaches (a forecast)
    request = submit(project, fake_account, {**VM, "vcpus": 2}, user=None, source=ChangeSource.API)
    assert request.reservation.cost == Decimal("5.00")
    assert calls == {"month_to_date": 1, "forecast_delta": 1}


def test_an_unbudgeted_request_is_not_priced(fake_account, project, queued, monkeypatch):
    costs = types.ModuleType("metering.chargeback.costs")
    costs.month_to_date = costs.forecast_delta = lambda *a, **k: pytest.fail("priced without a budget limit")
    monkeypatch.setitem(sys.modules, "metering.chargeback.costs", costs)
    limit(project, vms=5)
    assert submit(project, fake_account, VM, user=None, source=ChangeSource.API).reservation.cost == 0
