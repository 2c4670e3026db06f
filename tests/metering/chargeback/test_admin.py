"""The chargeback inputs an operator edits in the Django admin: price sheets, host costs, and a
project's rate plan assignments and fixed costs."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from metering.chargeback.onprem import cheapest
from metering.models import FixedCost, HostCost, PriceSheet, Project, ProjectRatePlan, RatePlan

pytestmark = pytest.mark.django_db


def management_forms(page: str) -> dict[str, str]:
    return dict(re.findall(r'name="([\w-]+-(?:TOTAL|INITIAL|MIN_NUM|MAX_NUM)_FORMS)"[^>]*value="(\d+)"', page))


@pytest.mark.parametrize("name", ["metering_pricesheet", "metering_hostcost"])
def test_changelist_and_add_pages_render(admin_client, name):
    for view in ("changelist", "add"):
        response = admin_client.get(reverse(f"admin:{name}_{view}"))
        assert response.status_code == 200, (name, view)


def test_a_price_sheet_entered_in_the_admin_prices_the_comparison(admin_client):
    url = reverse("admin:metering_pricesheet_add")
    data = {**management_forms(admin_client.get(url).content.decode()),
            "name": "cloud-y", "currency": "USD", "description": "",
            "entries-0-name": "m5.large", "entries-0-vcpus": "2", "entries-0-ram_mb": "8192",
            "entries-0-hourly_price": "0.096"}
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    sheet = PriceSheet.objects.get(name="cloud-y")
    [entry] = sheet.entries.all()
    assert (entry.vcpus, entry.ram_mb, entry.hourly_price) == (Decimal(2), 8192, Decimal("0.096"))
    assert cheapest(list(sheet.entries.all()), Decimal(2), 4096) == entry
    listing = admin_client.get(reverse("admin:metering_pricesheet_changelist")).content.decode()
    assert "cloud-y" in listing


def test_host_cost_must_name_a_host_or_an_account_not_both(admin_client, fake_account):
    url = reverse("admin:metering_hostcost_add")
    base = {"currency": "EUR", "monthly_hardware_cost": "500", "power_watts": "400",
            "electricity_price_kwh": "0.25", "pue": "1.5", "cpu_share": "0.5"}
    response = admin_client.post(url, base)
    assert response.status_code == 200  # re-shown with the constraint's error, nothing saved
    assert "Give a host or a provider account: exactly one of them." in response.content.decode()
    assert not HostCost.objects.exists()
    response = admin_client.post(url, {**base, "account": str(fake_account.pk)})
    assert response.status_code == 302
    assert HostCost.objects.get().account == fake_account


def test_project_page_assigns_a_rate_plan_and_a_fixed_cost(admin_client):
    project = Project.objects.create(slug="alpha", name="Alpha")
    plan = RatePlan.objects.create(name="internal", currency="EUR")
    url = reverse("admin:metering_project_change", args=[project.pk])
    page = admin_client.get(url).content.decode()
    assert "rate plan assignments" in page.lower() and "fixed cost" in page.lower()
    forms = management_forms(page)
    prefix_plan = next(k for k in forms if k.endswith("TOTAL_FORMS") and "rate_plans" in k).rsplit("-", 1)[0]
    prefix_cost = next(k for k in forms if k.endswith("TOTAL_FORMS") and "fixed_costs" in k).rsplit("-", 1)[0]
    data = {**forms, "slug": "alpha", "name": "Alpha", "billing_mode": project.billing_mode,
            "breach_policy": project.breach_policy, "cost_centre": "", "breach_webhook": "", "description": "",
            f"{prefix_plan}-TOTAL_FORMS": "1",
            f"{prefix_plan}-0-plan": str(plan.pk),
            f"{prefix_plan}-0-effective_from_0": "2026-11-01", f"{prefix_plan}-0-effective_from_1": "00:00:00",
            f"{prefix_cost}-TOTAL_FORMS": "1",
            f"{prefix_cost}-0-name": "Support", f"{prefix_cost}-0-monthly_amount": "310.00",
            f"{prefix_cost}-0-effective_from_0": "2026-11-01", f"{prefix_cost}-0-effective_from_1": "00:00:00"}
    response = admin_client.post(url, data)
    assert response.status_code == 302, re.findall(r'class="errorlist[^"]*"[^>]*>(.*?)</ul>',
                                                   response.content.decode(), re.S)
    assignment = ProjectRatePlan.objects.get(project=project)
    assert assignment.plan == plan and assignment.effective_from.year == 2026
    assert isinstance(assignment.effective_from, datetime) and assignment.effective_from.tzinfo is not None
    assert FixedCost.objects.get(project=project).monthly_amount == Decimal("310.00")


def test_an_idle_capacity_rule_is_entered_in_the_admin(admin_client, fake_account):
    from metering.models import AllocationRule, Resource

    seen = datetime(2026, 11, 1, tzinfo=UTC)
    host = Resource.objects.create(account=fake_account, external_id="kvm-01", kind="host", name="kvm-01",
                                   first_seen=seen, last_seen=seen)
    alpha = Project.objects.create(slug="alpha", name="Alpha")
    url = reverse("admin:metering_allocationrule_add")
    assert admin_client.get(url).status_code == 200
    base = {"name": "idle by vcpu", "spreads": "idle", "method": "measure", "measure": "vcpu_hours",
            "weights": "{}", "enabled": "on"}
    response = admin_client.post(url, {**base, "source": str(alpha.pk)})
    assert response.status_code == 200 and "leave empty: an idle-capacity rule" in response.content.decode()
    response = admin_client.post(url, {**base, "spreads": "project", "source": str(alpha.pk),
                                       "hosts": [str(host.pk)]})
    assert response.status_code == 200 and "hosts apply to idle-capacity rules only" in response.content.decode()
    assert not AllocationRule.objects.exists()
    response = admin_client.post(url, {**base, "hosts": [str(host.pk)]})
    assert response.status_code == 302, response.content.decode()[:3000]
    rule = AllocationRule.objects.get()
    assert (rule.is_idle, list(rule.hosts.all()), rule.source) == (True, [host], None)
