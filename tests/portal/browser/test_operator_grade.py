"""Issue 19 in a real browser: error pages, the small things, resource detail, inventory
assign-in-place, numbers and units, providers, chargeback and the project switcher, with
screenshots at 1280 and 390 px (``var/screenshots/``)."""

from __future__ import annotations

import pytest

from metering.models import Resource
from tests.portal.browser.conftest import shoot

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

#: elements whose right edge leaves the viewport, outside a horizontally scrolling table wrapper
OUTSIDE = """() => {
  const out = [];
  for (const el of document.querySelectorAll('main *')) {
    if (el.closest('.table-wrap')) continue;
    const r = el.getBoundingClientRect();
    if (r.width && r.right > window.innerWidth + 1) out.push(el.tagName + '.' + el.className + ' ' + Math.round(r.right));
  }
  return out;
}"""


def fits(page) -> list[str]:
    return page.evaluate(OUTSIDE)


def test_error_pages_are_styled_with_the_navigation(dashboard, login, live_server):
    page = login("vera")
    response = page.goto(f"{live_server.url}/projects/beta/")
    assert response.status == 404
    assert page.title() == "Not found · Glasspane"
    assert page.get_by_role("navigation", name="Main").is_visible()
    assert page.locator("#user-menu").is_visible()
    shoot(page, "error-404-1280")
    response = page.goto(f"{live_server.url}/providers/")
    assert response.status == 403 and page.title() == "Not allowed · Glasspane"
    assert page.get_by_role("navigation", name="Main").is_visible()
    shoot(page, "error-403-1280")
    page.set_viewport_size({"width": 390, "height": 900})
    page.goto(f"{live_server.url}/no-such-page/")
    assert fits(page) == []
    shoot(page, "error-404-390")


def test_favicon_api_docs_and_signed_out_message(dashboard, login, live_server):
    page = login("vera")
    href = page.locator("link[rel='icon']").get_attribute("href")
    icon = page.request.get(live_server.url + href)
    assert icon.status == 200 and icon.headers["content-type"].startswith("image/svg")
    assert page.request.get(f"{live_server.url}/favicon.ico").status == 200
    page.locator("#user-menu summary").click()
    assert page.locator("#user-menu").get_by_role("link", name="API docs").get_attribute("href") == "/api/docs/"
    page.locator("#user-menu").get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()
    assert page.url.startswith(f"{live_server.url}/login/")
    assert page.get_by_role("status").get_by_text("You are signed out.").is_visible()
    shoot(page, "signed-out-1280")


def test_quota_defaults_and_members_fit_390(dashboard, login, live_server):
    from django.contrib.auth import get_user_model

    from metering.models import Membership

    long_name = get_user_model().objects.create_user("alexandra.konstantinopoulou-longname@example.org")
    Membership.objects.create(user=long_name, project=dashboard["alpha"], role="admin")
    page = login("admin")
    page.goto(f"{live_server.url}/quotas/defaults/")
    page.get_by_label("RAM (MB)").fill("1048576")
    page.get_by_label("Monthly budget").fill("123456789.50")
    page.get_by_role("button", name="Save defaults").click()
    page.wait_for_load_state()
    page.set_viewport_size({"width": 390, "height": 900})
    for name, path in [("quota-defaults", "/quotas/defaults/"), ("members", "/projects/alpha/members/")]:
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        assert fits(page) == [], name
        shoot(page, f"{name}-390")


def test_django_admin_is_branded_with_plurals_and_iso_dates(dashboard, login, live_server):
    from decimal import Decimal

    from metering.models import QuotaBreach
    from tests.conftest import T0

    QuotaBreach.objects.create(project=dashboard["alpha"], key="vcpus", limit=4, used=Decimal("6.5"),
                               over_by=Decimal("2.5"), opened_at=T0)
    page = login("admin")
    dashboard["users"]["staff"].is_superuser = True
    dashboard["users"]["staff"].save()
    page.goto(f"{live_server.url}/admin/")
    assert page.title().endswith("Glasspane administration")
    assert page.locator("#site-name").inner_text() == "Glasspane administration"
    assert page.get_by_role("link", name="Quota breaches").is_visible()
    page.goto(f"{live_server.url}/admin/metering/quotabreach/")
    assert T0.strftime("%Y-%m-%d %H:%M") in page.locator("#result_list").inner_text()
    shoot(page, "admin-breaches-1280")
