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


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Pending actions live in the cache; resource ids repeat between tests."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


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


LIBVIRT_PROPERTIES = {
    "domain_type": "kvm", "max_memory_mb": 8192, "autostart": True,
    "disks": [{"target": "vda", "device": "disk", "type": "file", "source": "/var/lib/libvirt/images/db.qcow2",
               "capacity_bytes": 21474836480, "capacity_from": "volume", "allocation_bytes": 3221225472}],
    "nics": [{"mac": "52:54:00:12:34:56", "type": "network", "source": "default", "model": "virtio",
              "target": "vnet3"}],
    "macs": ["52:54:00:12:34:56"], "metadata": {},
}


def test_resource_detail_reads_like_an_operator_page(dashboard, login, live_server, monkeypatch):
    from metering import tasks

    db = Resource.objects.get(name="alpha-db")  # stopped at T0+1h
    db.properties = LIBVIRT_PROPERTIES
    db.save(update_fields=["properties"])
    page = login("mia")
    page.goto(f"{live_server.url}/resources/{db.pk}/?window=7d")
    disks = page.locator("#disks-table tbody tr").first.locator("th, td").all_inner_texts()
    assert disks == ["vda", "disk", "20", "3", "/var/lib/libvirt/images/db.qcow2"]
    nics = page.locator("#nics-table tbody tr").first.locator("th, td").all_inner_texts()
    assert nics == ["vnet3", "52:54:00:12:34:56", "default", "network", "virtio", "—"]
    props = page.locator("dl.props").inner_text()
    assert "[{" not in props and "Max memory mb\n8,192" in props and "Autostart\nyes" in props
    assert "RAM\n8 GiB" in props
    durations = page.locator("#history-table tbody td:nth-child(3)").all_inner_texts()
    assert durations and all(d.endswith(("min", "h", "d", "s")) for d in durations), durations
    assert "1 h" in durations
    # a stopped VM offers Start and Delete, not Stop or Reboot
    buttons = page.get_by_role("group", name="Actions").get_by_role("button").all_inner_texts()
    assert buttons == ["Start", "Delete"]
    shoot(page, "resource-detail-stopped-1280")
    # right after an action the page says it is pending and offers no more actions
    monkeypatch.setattr(tasks.resource_action, "delay", lambda *a, **k: None)
    page.get_by_role("button", name="Start").click()
    page.wait_for_load_state()
    assert page.locator("#pending-action").inner_text().startswith("Start pending since")
    assert page.get_by_role("group", name="Actions").count() == 0
    assert page.locator("meta[http-equiv='refresh']").count() == 1
    shoot(page, "resource-detail-pending-1280")
    page.set_viewport_size({"width": 390, "height": 900})
    page.reload()
    assert fits(page) == []
    shoot(page, "resource-detail-pending-390")


def test_resource_detail_charts_are_titled_with_units(dashboard, login, live_server):
    web = Resource.objects.get(name="alpha-web")
    page = login("vera")
    page.goto(f"{live_server.url}/resources/{web.pk}/?window=7d")
    titles = page.locator("h3.chart-title").all_inner_texts()
    assert titles == ["CPU use, % of one vCPU, per hour (7 days)", "Memory used, GiB, per hour (7 days)"]
    page.wait_for_selector("canvas[data-chart='chart-memory'][data-drawn='true']")
    shoot(page, "resource-detail-running-1280")
    page.set_viewport_size({"width": 390, "height": 900})
    page.reload()
    page.wait_for_selector("canvas[data-chart='chart-memory'][data-drawn='true']")
    shoot(page, "resource-detail-running-390")


def _orphans(dashboard):
    """Two VMs without a project: one the provider names nothing for, one whose provider names a
    project ("Gamma Team") that does not exist here; the refresh after them observes them."""
    from datetime import timedelta

    from metering import collector
    from tests.conftest import vm

    world = dashboard["world"]
    world.put(vm("vo1", name="orphan-web", project="", flavor="m1.small",
                 properties={"nics": [{"mac": "52:54:00:aa:bb:cc", "source": "default", "addresses": ["10.0.0.7"]}]}))
    world.put(vm("vo2", name="gamma-batch", project="Gamma Team"))
    world.put(vm("vo3", name="orphan-db", project=""))
    world.now += timedelta(minutes=5)
    collector.refresh(dashboard["account"])


def test_inventory_filters_columns_and_assign_in_place(dashboard, login, live_server):
    from metering.models import MappingRule

    _orphans(dashboard)
    page = login("admin")
    page.goto(f"{live_server.url}/inventory/")
    for label in ("Project (slug)", "Provider account (name)", "Kind", "State"):
        assert page.get_by_label(label).locator("option").first.inner_text() == "All", label
    assert page.get_by_label("Include deleted").get_attribute("type") == "checkbox"
    headers = page.locator("#inventory-table thead th").all_inner_texts()
    assert {"FLAVOR", "HOST", "ADDRESSES"} <= {h.strip(" ↑↓") for h in headers}
    row = page.locator("tr", has=page.get_by_role("link", name="orphan-web"))
    assert "m1.small" in row.inner_text() and "10.0.0.7" in row.inner_text()
    # names and dates stay on one line
    for cell in ("th[scope=row] a", "time"):
        box = row.locator(cell).first.bounding_box()
        assert box["height"] < 30, cell
    shoot(page, "inventory-1280")

    page.get_by_label("Only without a project").check()
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state()
    assert "unassigned=true" in page.url
    names = page.locator("#inventory-table tbody th").all_inner_texts()
    assert {"orphan-web", "orphan-db", "gamma-batch"} <= set(names) and "alpha-web" not in names
    shoot(page, "inventory-unassigned-1280")

    # one row in place
    page.get_by_label("Project for orphan-web").select_option("beta")
    page.get_by_role("button", name="Assign orphan-web").click()
    page.wait_for_load_state()
    assert page.get_by_text("Assigned 1 resource to beta").is_visible()
    assert Resource.objects.get(name="orphan-web").project.slug == "beta"
    assert MappingRule.objects.get(value="^orphan\\-web$").project.slug == "beta"
    # the provider's hint names a project that does not exist: offer to create it
    page.get_by_role("button", name="Create project “gamma-team” and assign").click()
    page.wait_for_load_state()
    assert Resource.objects.get(name="gamma-batch").project.slug == "gamma-team"
    # bulk: the checked rows to the bulk select's project
    page.get_by_label("Select orphan-db").check()
    page.get_by_label("Assign checked rows to").select_option("alpha")
    page.get_by_role("button", name="Assign selected").click()
    page.wait_for_load_state()
    assert Resource.objects.get(name="orphan-db").project.slug == "alpha"
    # the next refresh keeps them where they were put
    from datetime import timedelta

    from metering import collector

    dashboard["world"].now += timedelta(minutes=5)
    collector.refresh(dashboard["account"])
    assert {r.name: r.project.slug for r in Resource.objects.filter(name__in=["orphan-web", "orphan-db",
                                                                            "gamma-batch"])} == {
        "orphan-web": "beta", "orphan-db": "alpha", "gamma-batch": "gamma-team"}
    page.set_viewport_size({"width": 390, "height": 900})
    page.goto(f"{live_server.url}/inventory/")
    assert fits(page) == []
    shoot(page, "inventory-390")


def test_inventory_tree_collapses_and_counts(dashboard, login, live_server):
    page = login("admin")
    page.goto(f"{live_server.url}/inventory/tree/")
    host = page.locator("details.tree-node", has=page.get_by_role("link", name="host-1")).first
    assert host.locator("> summary .count").inner_text() == "4 under it"  # 3 VMs and a container
    assert page.get_by_role("link", name="alpha-worker").is_visible()
    host.locator("> summary").click(position={"x": 2, "y": 2})
    assert not page.get_by_role("link", name="alpha-worker").is_visible()
    shoot(page, "inventory-tree-1280")


def test_numbers_units_and_quota_states(dashboard, login, live_server):
    from decimal import Decimal

    from metering.models import Quota, Rate, RatePlan
    from tests.conftest import T0

    plan = RatePlan.objects.create(name="standard", currency="EUR", is_default=True)
    Rate.objects.create(plan=plan, measure="vcpu_hours", unit_price=Decimal("1234.5"), effective_from=T0)
    alpha = dashboard["alpha"]
    Quota.objects.create(project=alpha, key="containers", limit=10)  # 1 of 10: ok
    Quota.objects.create(project=alpha, key="disk_gb", limit=160)  # 140 of 160: near
    Quota.objects.create(project=alpha, key="vms", limit=2)  # 2 of 2: at
    Quota.objects.create(project=alpha, key="vcpus", limit=4)  # 6.5 of 4: over
    Quota.objects.create(project=alpha, key="budget", limit=123456789)
    page = login("admin")
    page.goto(f"{live_server.url}/quotas/")
    row = page.locator("#quota-alpha")

    def cell(key):
        return row.locator(f".quota-bar[data-key='{key}']")

    assert cell("containers").get_attribute("class").split()[-1] == "ok"
    assert "near the limit" in cell("disk_gb").inner_text()
    assert "at the limit" in cell("vms").inner_text()
    assert "over by 2.5" in cell("vcpus").inner_text()
    budget = cell("budget").inner_text()
    assert "123,456,789" in budget and "EUR per month" in budget
    assert "GiB" in cell("ram_mb").inner_text() and "GiB" in cell("disk_gb").inner_text()
    shoot(page, "quotas-states-1280")

    page.goto(f"{live_server.url}/projects/alpha/?start=2026-11-01&end=2026-11-02")
    costs = page.locator("dl.costs").inner_text()
    assert "EUR" in page.locator("#cost-to-date").inner_text() and "EUR" in costs.split("Budget")[1]
    assert "123,456,789.00 EUR" in costs
    assert "GiB" in page.locator("dl.stats").first.inner_text()
    assert "RAM (GIB)" in page.locator("#usage-table thead").inner_text()
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.reload()
        assert fits(page) == [], width
        # every stat stays inside its card
        spill = page.evaluate("""() => [...document.querySelectorAll('.stats dd')].filter(
            dd => dd.scrollWidth > dd.clientWidth + 1).map(dd => dd.textContent)""")
        assert spill == [], spill
        shoot(page, f"overview-numbers-{width}")

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/admin-overview/?start=2026-11-01&end=2026-11-02")
    wrap = page.evaluate("""() => { const w = document.querySelector('#admin-usage-table').closest('.table-wrap');
        return w.scrollWidth - w.clientWidth; }""")
    assert wrap <= 1, f"the admin overview table scrolls by {wrap} px at 1280"
    shoot(page, "admin-overview-1280")


def test_providers_page_running_since_retry_time_error_once_and_no_stale_skipped(
        dashboard, login, live_server, make_account):
    from datetime import timedelta

    from django.utils import timezone

    from metering.models import RefreshRun

    now = timezone.now().replace(second=0, microsecond=0)
    fake1 = dashboard["account"]
    # an ok run, then a "skipped" one (asked for while it ran): the skipped one must not linger
    RefreshRun.objects.create(account=fake1, status="skipped", trigger="web")
    broken = make_account(name="broken", world_name="nowhere", interval=600)
    message = "connection refused by 10.0.0.9:16509"
    from metering.models import CollectionState

    CollectionState.objects.update_or_create(account=broken, defaults={
        "health": "unhealthy", "health_message": message, "last_refresh_error": message,
        "last_refresh_started": now - timedelta(minutes=2)})
    failed = RefreshRun.objects.create(account=broken, status="failed", trigger="schedule", error=message)
    RefreshRun.objects.filter(pk=failed.pk).update(finished_at=now - timedelta(minutes=2))
    busy = make_account(name="busy", world_name="busy")
    running = RefreshRun.objects.create(account=busy, status="running", trigger="schedule")
    RefreshRun.objects.filter(pk=running.pk).update(started_at=now - timedelta(minutes=7))

    page = login("admin")
    page.goto(f"{live_server.url}/providers/")
    status = page.locator(f"#account-{fake1.pk} .run-status").inner_text()
    assert status.startswith("Succeeded at") or status.startswith("Succeeded with data issues at"), status
    assert "Skipped" not in page.locator(f"#account-{fake1.pk}").inner_text()
    row = page.locator(f"#account-{broken.pk}")
    assert row.inner_text().count(message) == 1
    retry = (now + timedelta(minutes=8)).strftime("%H:%M")
    assert row.locator(".run-status").inner_text() == \
        f"Failed at {(now - timedelta(minutes=2)):%H:%M}; next try at {retry}"
    busy_status = page.locator(f"#account-{busy.pk} .run-status")
    assert busy_status.inner_text() == f"Running since {(now - timedelta(minutes=7)):%H:%M}"
    shoot(page, "providers-1280")
    page.set_viewport_size({"width": 390, "height": 900})
    page.reload()
    assert fits(page) == []
    shoot(page, "providers-390")


def test_chargeback_month_field_precision_units_and_open_month_warning(dashboard, login, live_server):
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from metering.models import Rate, RatePlan, Statement
    from tests.conftest import T0

    plan = RatePlan.objects.create(name="standard", currency="EUR", is_default=True)
    Rate.objects.create(plan=plan, measure="vcpu_hours", unit_price=Decimal("125.5"), effective_from=T0)
    Rate.objects.create(plan=plan, measure="ram_gb_hours", unit_price=Decimal("0.01"), effective_from=T0)
    page = login("admin")
    # the default period is this month, and the Month field says which
    page.goto(f"{live_server.url}/projects/alpha/chargeback/")
    this_month = f"{timezone.now():%Y-%m}"
    assert page.get_by_label("Month").input_value() == this_month
    page.goto(f"{live_server.url}/projects/alpha/chargeback/?period=2026-11")
    assert page.get_by_label("Month").input_value() == "2026-11"
    # quantities with two decimals and separators, units that match the measure names
    rows = {r.locator("th").inner_text(): r.locator("td").all_inner_texts()
            for r in page.locator("#measure-subtotals tbody tr").all()}
    assert rows["vCPU-hours"][:2] == ["13.00", "vCPU-hour"]
    assert rows["vCPU-hours"][2] == "1,631.50"  # 13 x 125.5
    assert rows["RAM GiB-hours"][1] == "GiB-hour"
    assert "EUR" in page.locator("#measure-subtotals thead").inner_text()
    assert page.locator("#statement-total").inner_text().endswith(" EUR")
    # 2026-11 is the current month here only until it ends; an open month warns before issuing
    open_month = timezone.now() < T0.replace(month=12)
    if open_month:
        assert page.locator("#period-open-warning").is_visible()
        seen = []
        page.once("dialog", lambda d: (seen.append(d.message), d.dismiss()))
        page.get_by_role("button", name="Issue statement").click()
        page.wait_for_timeout(300)
        assert seen and "is not over yet" in seen[0] and not Statement.objects.exists()
    shoot(page, "chargeback-open-month-1280")
    # a month that is over: no warning, no confirmation
    last_month = (timezone.now().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    page.goto(f"{live_server.url}/projects/alpha/chargeback/?period={last_month}")
    assert page.get_by_label("Month").input_value() == last_month
    assert page.locator("#period-open-warning").count() == 0
    page.set_viewport_size({"width": 390, "height": 900})
    page.goto(f"{live_server.url}/projects/alpha/chargeback/?period=2026-11")
    assert fits(page) == []
    shoot(page, "chargeback-open-month-390")


PROJECT_PAGES = ["/projects/{slug}/", "/projects/{slug}/chargeback/", "/projects/{slug}/members/",
                 "/projects/{slug}/reports/", "/quotas/{slug}/edit/"]


def test_the_switcher_nav_and_page_name_the_project_in_the_url(dashboard, login, live_server):
    page = login("admin")
    page.goto(f"{live_server.url}/projects/alpha/")  # alpha becomes the selected project
    for slug in ("beta", "alpha", "beta"):
        for path in PROJECT_PAGES:
            url = path.format(slug=slug)
            assert page.goto(live_server.url + url).status == 200, url
            assert page.locator("#project-switcher summary strong").inner_text() == slug, url
            assert page.locator("#project-switcher a[aria-current='true']").text_content().split()[0] == slug, url
            nav = page.get_by_role("navigation", name="Main")
            assert nav.get_by_role("link", name="Overview", exact=True).get_attribute("href") == f"/projects/{slug}/", url
            assert nav.get_by_role("link", name="Chargeback", exact=True).get_attribute("href") == \
                f"/projects/{slug}/chargeback/", url
    # the last project opened stays selected for pages without one in the URL
    page.goto(f"{live_server.url}/inventory/")
    assert page.locator("#project-switcher summary strong").inner_text() == "beta"
    beta_vm = Resource.objects.get(name="beta-batch")
    page.goto(f"{live_server.url}/projects/alpha/")
    page.goto(f"{live_server.url}/resources/{beta_vm.pk}/")  # a resource page names its project
    assert page.locator("#project-switcher summary strong").inner_text() == "beta"
    shoot(page, "switcher-resource-1280")
