"""The quota impact of a request before it is made: per key and scope, in use + requested against
the limit with its state, the budget priced at the project's rates, and the refusal ``submit``
would raise, worded the same. A preview records nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from metering import collector
from metering.choices import ChangeSource
from metering.models import ProvisionRequest, Rate, RatePlan, Reservation
from metering.quotas import QuotaExceeded, preview, set_limits, submit
from metering.quotas.admission import build_spec
from metering.quotas.states import state
from metering.quotas.usage import budget_delta
from tests.conftest import T0, vm

pytestmark = pytest.mark.django_db


def limit(project, account=None, **values):
    set_limits(project, values, user=None, source=ChangeSource.CLI, account=account)


def rows(found, account=None):
    return {i.key: i for i in found.impacts if i.account == account}


@pytest.mark.parametrize("quantity, limit_, expected", [
    (0, 10, "ok"), (7, 10, "ok"), (8, 10, "near"), (10, 10, "at"), (11, 10, "over"), (5, -1, "ok"),
    (Decimal("0.5"), 0, "over"), (0, 0, "at"), (100, None, "ok"),
])
def test_states_are_ok_near_at_over(quantity, limit_, expected):
    assert state(quantity, limit_) == expected


def test_preview_shows_in_use_requested_after_and_the_nova_refusal(fake_account, world, project):
    world.put(vm("v1", vcpus="4"))
    world.put(vm("v2", vcpus="3"))
    collector.refresh(fake_account)
    limit(project, vcpus=9, vms=3, ram_mb=7000)
    spec = build_spec(fake_account, {"name": "big", "kind": "vm", "vcpus": 4, "ram_mb": 2048})
    found = preview(project, fake_account, spec)
    by_key = rows(found)
    vcpus = by_key["vcpus"]
    assert (vcpus.in_use, vcpus.requested, vcpus.after, vcpus.limit, vcpus.state) == (7, 4, 11, 9, "over")
    assert (by_key["vms"].after, by_key["vms"].state) == (3, "at")  # 3 of 3 fits: nothing more will
    assert (by_key["ram_mb"].after, by_key["ram_mb"].state) == (6144, "near")  # 88 % of 7000
    assert by_key["containers"].unlimited and by_key["containers"].state == "ok"
    assert not found.fits
    assert found.refusal.message == "Quota exceeded for vcpus: Requested 4, but already used 7 of 9 vcpus"
    assert ProvisionRequest.objects.count() == 0 and Reservation.objects.count() == 0  # nothing recorded
    with pytest.raises(QuotaExceeded) as err:
        submit(project, fake_account, spec, user=None, source=ChangeSource.API)
    assert err.value.message == found.refusal.message  # the preview says what a submission gets
    assert found.as_dict()["refusal"]["detail"] == found.refusal.message


def test_a_request_that_fits_exactly_is_at_the_limit_and_fits(fake_account, world, project, monkeypatch):
    monkeypatch.setattr("metering.quotas.admission.enqueue_provision", lambda request_id: None)
    world.put(vm("v1", vcpus="5"))
    collector.refresh(fake_account)
    limit(project, vcpus=9)
    spec = build_spec(fake_account, {"name": "fits", "kind": "vm", "vcpus": 4, "ram_mb": 512})
    found = preview(project, fake_account, spec)
    assert found.fits and found.refusal is None
    assert (rows(found)["vcpus"].after, rows(found)["vcpus"].state) == (9, "at")
    submit(project, fake_account, spec, user=None, source=ChangeSource.API)
    again = rows(preview(project, fake_account, spec))["vcpus"]  # the reservation now counts
    assert (again.in_use, again.reserved, again.state) == (9, 4, "over")


def test_limits_narrowed_to_the_account_get_rows_of_their_own(fake_account, project):
    spec = build_spec(fake_account, {"name": "web", "kind": "vm", "vcpus": 2, "ram_mb": 4096})
    assert {i.account for i in preview(project, fake_account, spec).impacts} == {None}
    limit(project, fake_account, ram_mb=3000)
    found = preview(project, fake_account, spec)
    narrowed = rows(found, fake_account.name)
    assert (narrowed["ram_mb"].limit, narrowed["ram_mb"].after, narrowed["ram_mb"].state) == (3000, 4096, "over")
    assert found.refusal.message == (f"Quota exceeded for ram_mb on {fake_account.name}: Requested 4096, "
                                     f"but already used 0 of 3000 ram_mb")


def test_the_budget_row_is_the_forecast_plus_the_requests_cost_at_the_projects_rates(fake_account, project):
    plan = RatePlan.objects.create(name="standard", currency="EUR", is_default=True)
    Rate.objects.create(plan=plan, measure="vcpu_hours", unit_price=Decimal("0.50"), effective_from=T0)
    spec = build_spec(fake_account, {"name": "web", "kind": "vm", "vcpus": 2, "ram_mb": 512})
    found = preview(project, fake_account, spec)  # an unlimited budget: the cost is shown all the same
    budget = found.budget
    assert found.currency == "EUR" and budget.unlimited and budget.state == "ok"
    assert budget.requested > 0
    assert budget.after == budget.in_use + budget.requested
    limit(project, budget=int(budget.in_use + budget.requested) - 1)
    found = preview(project, fake_account, spec)
    assert found.budget.state == "over" and found.refusal.key == "budget"
    expected = budget_delta(project, fake_account, vcpus=Decimal(2), ram_mb=512, disk_gb=Decimal(0), kind="vm")
    assert abs(found.budget.requested - expected) <= Decimal("0.01")  # a minute may pass between the two
