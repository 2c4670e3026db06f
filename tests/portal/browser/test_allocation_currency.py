"""Issue 25 in a real browser: a report currency picked with the select on the chargeback page, and
the overview's idle host capacity table with the rule that spreads it; both fit a phone."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tests.portal.browser.conftest import shoot

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_report_currency_select_and_idle_capacity(dashboard, login, live_server, page):
    from metering.models import AllocationRule, ExchangeRate, HostCost, Rate, RatePlan, Resource
    from tests.conftest import T0

    plan = RatePlan.objects.create(name="standard", currency="EUR", is_default=True)
    Rate.objects.create(plan=plan, measure="vcpu_hours", unit_price=Decimal("0.0125"), effective_from=T0)
    ExchangeRate.objects.create(base="EUR", quote="USD", rate=Decimal("1.25"), effective_from=date(2026, 11, 1))
    HostCost.objects.create(host=Resource.objects.get(name="host-1"), monthly_hardware_cost=Decimal("730"))
    AllocationRule.objects.create(name="idle by vcpu", spreads="idle", method="measure", measure="vcpu_hours")
    login("admin")
    page.goto(f"{live_server.url}/projects/alpha/chargeback/?period=2026-11")
    page.locator("#id_currency").select_option("USD")
    with page.expect_navigation():
        page.get_by_role("button", name="Convert").click()
    assert "currency=USD" in page.url
    total = page.locator("#converted-total").inner_text()
    assert total.endswith(" USD")
    rates = page.locator("#statement-lines-table td.rate").all_inner_texts()
    assert rates and set(rates) == {"1.25"}
    assert set(page.locator("#statement-lines-table td.rate-date").all_inner_texts()) == {"2026-11-01"}
    assert page.get_by_text("allocated from idle capacity of host host-1 by vCPU-hours").is_visible()
    shoot(page, "chargeback-usd-1280")
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for name, path in [("chargeback-usd", "/projects/alpha/chargeback/?period=2026-11&currency=USD"),
                           ("chargeback-idle", "/chargeback/?period=2026-11")]:
            page.goto(live_server.url + path)
            page.wait_for_load_state("networkidle")
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, (name, width, overflow)
            shoot(page, f"{name}-{width}")
    idle = page.locator("#idle-table")
    assert "host host-1" in idle.inner_text() and "idle by vcpu" in idle.inner_text()
