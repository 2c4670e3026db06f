"""Every portal page, taken from the URL configuration, as staff and as a viewer at 1280 and 390 px
(issue 19, "screenshots of every page at both widths").

The URL patterns are walked from ``ROOT_URLCONF``; each one must appear in ``PAGES`` (how to fill
its arguments from the test data, and any query variants worth seeing) or in ``NOT_PAGES`` (why it
is not an HTML page). A pattern in neither fails the test, so a page added later without data here
cannot slip past the sweep. Every visit checks: no 5xx; a page the role may not open answers the
styled 403/404; nothing spills sideways at 390 px (outside a scrolling table wrapper); on a
project's page the switcher, the navigation and the heading name that project; no Python reprs in
the text. Screenshots: ``var/screenshots/every-<role>-<page>-<width>.png``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from metering.choices import RequestState
from metering.models import (
    Membership,
    ProvisionRequest,
    Quota,
    QuotaBreach,
    Rate,
    RatePlan,
    RefreshRun,
    ReportSubscription,
    Resource,
)
from metering.models.notify import ReportKind
from portal.web.selection import PROJECT_URL_NAMES
from tests.conftest import T0
from tests.portal.browser.conftest import shoot

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

WIDTHS = (1280, 390)
PERIOD = "?start=2026-11-01&end=2026-11-02"

#: patterns that are not HTML pages, each with the reason (a GET still must not answer 5xx)
NOT_PAGES = {
    "logout/": "POST only (signs out); its 'signed out' page is login/?signed_out",
    "favicon.ico": "redirect to the SVG icon",
    "healthz": "plain-text health probe",
    "readyz": "plain-text readiness probe",
    "inventory/assign/": "POST only (assign in place), redirects back to the inventory",
    "resources/<int:pk>/action/": "POST only (start/stop/...), redirects to the resource",
    "providers/<int:pk>/refresh/": "POST only (queue a refresh), redirects to the providers",
    "providers/runs/<int:pk>/": "JSON: a refresh run's status, polled by providers.js",
    "preferences/timezone/": "POST only (the user menu's timezone form)",
    "projects/<slug:slug>/chargeback/issue/": "POST only (issue a statement)",
    "projects/<slug:slug>/requests/<int:pk>/status/": "JSON: a request's progress, polled by launch.js",
    "api/schema/": "OpenAPI schema (YAML/JSON)",
    "metrics": "Prometheus text format",
    "^api/": "JSON 404 for unknown API paths",
}
#: whole subtrees that are not the portal's pages
NOT_PAGE_PREFIXES = {
    "admin/": "Django's own admin site (its templates, its permissions); branding and plurals are "
              "checked in test_operator_grade.test_django_admin_is_branded_with_plurals_and_iso_dates",
    "api/v1/": "REST API: JSON",
}


def walk(patterns=None, prefix: str = "", namespace: str = "") -> list[tuple[str, str]]:
    """(full route, view name) of every pattern under the root URLconf."""
    found = []
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            found += walk(entry.url_patterns, route, inner)
        elif isinstance(entry, URLPattern):
            found.append((route, f"{namespace}{entry.name}" if entry.name else ""))
    return found


@pytest.fixture
def world(dashboard, make_account, django_user_model):
    """The dashboard's world and one of everything the pages list: a rate plan, an issued
    statement, quotas and an open breach, launch requests (done and failed), a report
    subscription, a refresh run, a second provider account of another kind."""
    from metering.chargeback.statements import issue

    alpha, beta = dashboard["alpha"], dashboard["beta"]
    plan = RatePlan.objects.create(name="standard", currency="EUR", is_default=True)
    Rate.objects.create(plan=plan, measure="vcpu_hours", unit_price=Decimal("0.0425"), effective_from=T0)
    Rate.objects.create(plan=plan, measure="ram_gb_hours", unit_price=Decimal("0.005"), effective_from=T0)
    issue(alpha, T0, T0 + timedelta(days=30), user=dashboard["users"]["staff"])
    Quota.objects.create(project=alpha, key="vcpus", limit=4)
    Quota.objects.create(project=alpha, key="budget", limit=1000)
    QuotaBreach.objects.create(project=alpha, key="vcpus", limit=4, used=Decimal("6.5"), over_by=Decimal("2.5"),
                               opened_at=T0)
    account = dashboard["account"]
    web = Resource.objects.get(name="alpha-web")
    done = ProvisionRequest.objects.create(
        project=alpha, account=account, kind="vm", state=RequestState.DONE, resource=web,
        requested_by=dashboard["users"]["member"], finished_at=T0 + timedelta(hours=1),
        spec={"name": "web-01", "kind": "vm", "image": "debian-12", "flavor": "m1.small", "vcpus": 2,
              "ram_mb": 2048, "disk_gb": 20})
    failed = ProvisionRequest.objects.create(
        project=alpha, account=account, kind="container", state=RequestState.FAILED,
        message="No valid host was found. There are not enough hosts available.",
        spec={"name": "box-01", "kind": "container", "image": "nginx:1.27", "command": ["nginx", "-g", "daemon off;"]})
    beta_request = ProvisionRequest.objects.create(project=beta, account=account, kind="vm", spec={"name": "batch-01"})
    ReportSubscription.objects.create(project=alpha, kind=ReportKind.STATEMENT_CSV, recipients="finance@example.org")
    run = RefreshRun.objects.filter(account=account).order_by("-pk").first()
    other = make_account(name="openstack-lab", kind="openstack", world_name="unused")
    other.settings = {"auth_url": "https://keystone.example.org:5000/v3", "region": "RegionOne"}
    other.save()
    Membership.objects.filter(project=alpha, user=dashboard["users"]["viewer"]).update(role="viewer")
    return {**dashboard, "done": done, "failed": failed, "beta_request": beta_request, "run": run,
            "other": other}


def pages(w) -> dict:
    """route -> [(label, path)] from the test data; both projects for project pages."""
    from providers import registry

    ids = {name: Resource.objects.get(name=name).pk for name in
           ("alpha-web", "alpha-db", "alpha-worker", "alpha-data", "host-1", "beta-batch")}
    def per_project(tail: str) -> list[tuple[str, str]]:
        name = tail.split("/")[0] or "overview"
        return [(f"{name}-{slug}", f"/projects/{slug}/{tail}") for slug in ("alpha", "beta")]

    return {
        "login/": [("login", "/login/"), ("login-signed-out", "/login/?signed_out=1")],
        "": [("home", "/")],
        "projects/<slug:slug>/": [(s, p + PERIOD) for s, p in per_project("")],
        "inventory/": [("inventory", "/inventory/"), ("inventory-deleted", "/inventory/?include_deleted=on"),
                       ("inventory-unassigned", "/inventory/?unassigned=true")],
        "inventory/tree/": [("inventory-tree", "/inventory/tree/")],
        "resources/<int:pk>/": [(f"resource-{name}", f"/resources/{pk}/?window=7d") for name, pk in ids.items()],
        "providers/": [("providers", "/providers/")],
        "providers/add/": [("provider-add", "/providers/add/")] + [
            (f"provider-add-{kind}", f"/providers/add/?kind={kind}") for kind in registry.kinds()],
        "providers/<int:pk>/edit/": [(f"provider-edit-{a.kind}", f"/providers/{a.pk}/edit/")
                                     for a in (w["account"], w["other"])],
        "admin-overview/": [("admin-overview", "/admin-overview/" + PERIOD)],
        "quotas/": [("quotas", "/quotas/")],
        "quotas/defaults/": [("quota-defaults", "/quotas/defaults/")],
        "quotas/<slug:slug>/edit/": [(f"quota-edit-{s}", f"/quotas/{s}/edit/") for s in ("alpha", "beta")],
        "chargeback/": [("chargeback-all", "/chargeback/?period=2026-11")],
        "chargeback/labels/": [("cost-by-label", "/chargeback/labels/?period=2026-11")],
        "recommendations/": [("recommendations", "/recommendations/")] + [
            (f"recommendations-{slug}", f"/recommendations/?project={slug}") for slug in ("alpha", "beta")],
        "projects/<slug:slug>/chargeback/": per_project("chargeback/?period=2026-11") + [
            ("chargeback-alpha-issued", "/projects/alpha/chargeback/?period=2026-11&revision=1"),
            ("chargeback-alpha-usd", "/projects/alpha/chargeback/?period=2026-11&currency=USD")],
        "projects/<slug:slug>/members/": per_project("members/"),
        "projects/<slug:slug>/reports/": per_project("reports/"),
        "projects/<slug:slug>/launch/": per_project("launch/"),
        "projects/<slug:slug>/requests/<int:pk>/": [
            ("request-alpha-done", f"/projects/alpha/requests/{w['done'].pk}/"),
            ("request-alpha-failed", f"/projects/alpha/requests/{w['failed'].pk}/"),
            ("request-beta-pending", f"/projects/beta/requests/{w['beta_request'].pk}/")],
        "api/docs/": [("api-docs", "/api/docs/")],
    }


#: what the viewer (of alpha only) may not open: staff pages, a project admin's or member's pages,
#: anything of beta, a resource without a project
VIEWER_DENIED_ROUTES = {"providers/", "providers/add/", "providers/<int:pk>/edit/", "admin-overview/", "quotas/",
                        "quotas/defaults/", "quotas/<slug:slug>/edit/", "chargeback/", "projects/<slug:slug>/members/",
                        "projects/<slug:slug>/reports/", "projects/<slug:slug>/launch/"}


def viewer_may_open(route: str, label: str) -> bool:
    return route not in VIEWER_DENIED_ROUTES and "beta" not in label and label != "resource-host-1"


#: the visible text must not carry Python's reprs
REPRS = re.compile(r"\bNone\b|\{'|\[<|\[\{|Decimal\(|datetime\.|<QuerySet|object at 0x|\bTrue\b|\bFalse\b")

#: how far the document scrolls sideways, and the elements that make it (their right edge is the
#: document's), or else any element passing the viewport outside a scrolling table wrapper
SPILL = """() => {
  const width = document.documentElement.clientWidth, doc = document.documentElement.scrollWidth;
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (!r.width || r.right <= width + 1 || el.closest('details:not([open]) > :not(summary)')) continue;
    if (doc > width + 1 ? Math.round(r.right) >= doc - 1 : !el.closest('.table-wrap'))
      out.push(name(el) + (el.parentElement ? ' in ' + name(el.parentElement) : '') + ' right=' + Math.round(r.right));
  }
  return {doc: doc - width, spill: out.slice(-3)};  // the innermost last
}"""


def check(page, role, label, path, view_name, width, expected_slug, allowed=True) -> list[str]:
    """One visit; the problems found, each prefixed with where."""
    where = f"{role} {path} @{width}"
    problems = []
    response = page.goto(page.url_base + path)
    page.wait_for_load_state("networkidle")
    status = response.status
    if status >= 500:
        return [f"{where}: answered {status}"]
    if (status == 200) != allowed:
        problems.append(f"{where}: answered {status}, expected {'200' if allowed else '403 or 404'}")
    text = page.locator("body").inner_text()
    if status in (403, 404):
        title = page.title()
        if title not in ("Not allowed · Glasspane", "Not found · Glasspane") or \
                page.get_by_role("navigation", name="Main").count() != 1:
            problems.append(f"{where}: {status} is not the styled error page (title {title!r})")
    elif status != 200:
        problems.append(f"{where}: answered {status}")
    if width == 390:
        found = page.evaluate(SPILL)
        if found["doc"] > 1 or found["spill"]:
            problems.append(f"{where}: overflows by {found['doc']} px: {found['spill']}")
    bad = sorted({m.group(0) for m in REPRS.finditer(text)})
    if bad:
        lines = [line for line in text.splitlines() if REPRS.search(line)][:3]
        problems.append(f"{where}: Python reprs {bad} in {lines}")
    if status == 200 and expected_slug:
        switcher = page.locator("#project-switcher summary strong")
        named = switcher.inner_text() if switcher.count() else None
        current = page.locator("#project-switcher a[aria-current='true']")
        listed = current.first.text_content().split()[0] if current.count() else None
        nav = page.get_by_role("navigation", name="Main").get_by_role("link", name="Overview", exact=True)
        nav_href = nav.get_attribute("href") if nav.count() else None
        if (named, listed, nav_href) != (expected_slug, expected_slug, f"/projects/{expected_slug}/"):
            problems.append(f"{where}: switcher {named!r}, switcher's current {listed!r}, nav Overview "
                            f"{nav_href!r}; the URL names {expected_slug!r}")
        if not label.startswith("resource-"):  # a resource page's heading names the resource
            from metering.models import Project

            name = Project.objects.get(slug=expected_slug).name
            heading = page.locator("main h1").first.inner_text()
            if expected_slug not in heading and name not in heading:
                problems.append(f"{where}: heading {heading!r} names neither {expected_slug!r} nor {name!r}")
    if status == 200 and label.startswith("recommendations"):  # finding names are words
        findings = set(page.locator("#rec-table tbody td:nth-child(2)").all_inner_texts())
        if not findings <= {"Idle", "Oversized", "Stopped with disks"}:
            problems.append(f"{where}: findings named {sorted(findings)}")
    shoot(page, f"every-{role}-{label}-{width}")
    return problems


def test_every_page_as_staff_and_viewer_at_1280_and_390(world, page, login, live_server):
    from django.core.cache import cache

    cache.clear()
    table = pages(world)
    routes = walk()
    unaccounted = [route for route, _ in routes if route not in table and route not in NOT_PAGES
                   and not route.startswith(tuple(NOT_PAGE_PREFIXES))]
    assert unaccounted == [], f"URL patterns the sweep has no data for (add them to pages() or NOT_PAGES): {unaccounted}"
    stale = sorted(set(table) - {route for route, _ in routes})
    assert stale == [], f"pages() lists routes the URLconf no longer has: {stale}"
    views = dict(routes)
    labels = [label for entries in table.values() for label, _ in entries]
    assert len(labels) == len(set(labels)), "two pages would share a screenshot name"
    assert {views[r] for r in table if "<slug:slug>" in r} <= PROJECT_URL_NAMES, \
        "a project page missing from portal.web.selection.PROJECT_URL_NAMES: its switcher would not follow the URL"
    page.url_base = live_server.url
    resource_projects = {f"resource-{r.name}": r.project.slug if r.project_id else None
                         for r in Resource.objects.select_related("project")}

    problems: list[str] = []
    visits = 0
    # anonymous: the sign-in page only
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        for label, path in table["login/"]:
            problems += check(page, "anonymous", label, path, "login", width, None)
            visits += 1
    # a GET of each non-page never answers 5xx either
    for route, _ in routes:
        if route in NOT_PAGES and "<" not in route and not route.startswith("^"):
            assert page.request.get(f"{live_server.url}/{route}", max_redirects=0).status < 500, route

    for role, username in (("staff", "admin"), ("viewer", "vera")):
        login(username)
        for route, entries in table.items():
            if route == "login/":
                continue
            view_name = views[route]
            for label, path in entries:
                # any route with a project slug is a project page, listed in PROJECT_URL_NAMES or not
                slug = re.match(r"^/(?:projects|quotas)/([\w-]+)/", path) if "<slug:slug>" in route else \
                    re.search(r"[?&]project=([\w-]+)", path)  # per-project recommendations
                expected = slug.group(1) if slug else resource_projects.get(label)
                for width in WIDTHS:
                    page.set_viewport_size({"width": width, "height": 900})
                    allowed = role == "staff" or viewer_may_open(route, label)
                    problems += check(page, role, label, path, view_name, width, expected, allowed)
                    visits += 1
        page.context.clear_cookies()
    assert problems == [], f"{len(problems)} problems in {visits} visits:\n" + "\n".join(problems)
    assert visits > 100
