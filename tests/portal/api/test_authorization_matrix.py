"""Who may do what: every API route x method x caller x object (in A, in B, unassigned) as data.

``MATRIX`` rows read: route name, method, object, then the expected status for each caller in
``CALLERS`` order (anonymous, viewer of A, member of A, admin of A, staff, the admin's read-scope
token). Objects: ``A`` / ``B`` (in project alpha / bravo; for a list POST, the project the new
object goes to), ``U`` (an unassigned resource), ``X`` (not in a project), ``-`` (a list).
Every cell runs in its own rolled-back savepoint, so a DELETE does not change the next cell.
``test_every_route_has_rows`` walks the URL resolver: a new endpoint without rows fails it.
"""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.portal.api.conftest import CALLERS

pytestmark = pytest.mark.django_db

PERIOD = {"start": "2026-10-31", "end": "2026-11-02"}
N = (401, 404, 404, 404, 200, 404)  # a read of something in B, or unassigned: only staff sees it

MATRIX = [
    # route                       method    obj  anon viewer member admin staff token
    ("project-list",              "get",    "-", 401, 200, 200, 200, 200, 200),
    ("project-list",              "post",   "-", 401, 403, 403, 403, 201, 403),
    ("project-detail",            "get",    "A", 401, 200, 200, 200, 200, 200),
    ("project-detail",            "get",    "B", *N),
    ("project-detail",            "put",    "A", 401, 403, 403, 403, 200, 403),
    ("project-detail",            "put",    "B", 401, 404, 404, 404, 200, 403),
    ("project-detail",            "patch",  "A", 401, 403, 403, 403, 200, 403),
    ("project-detail",            "patch",  "B", 401, 404, 404, 404, 200, 403),
    ("project-usage",             "get",    "A", 401, 200, 200, 200, 200, 200),
    ("project-usage",             "get",    "B", *N),
    ("project-limits",            "get",    "A", 401, 200, 200, 200, 200, 200),
    ("project-limits",            "get",    "B", *N),
    ("project-quotas",            "get",    "A", 401, 200, 200, 200, 200, 200),
    ("project-drift",             "get",    "A", 401, 200, 200, 200, 200, 200),
    ("project-drift",             "get",    "B", *N),
    ("project-quotas",            "get",    "B", *N),
    ("project-quotas",            "put",    "A", 401, 403, 403, 403, 200, 403),
    ("project-quotas",            "put",    "B", 401, 404, 404, 404, 200, 403),
    ("project-quotas",            "patch",  "A", 401, 403, 403, 403, 200, 403),
    ("project-quotas",            "patch",  "B", 401, 404, 404, 404, 200, 403),
    ("membership-list",           "get",    "-", 401, 200, 200, 200, 200, 200),
    ("membership-list",           "post",   "A", 401, 403, 403, 201, 201, 403),
    ("membership-list",           "post",   "B", 401, 400, 400, 400, 201, 403),
    ("membership-detail",         "get",    "A", 401, 404, 404, 200, 200, 200),
    ("membership-detail",         "get",    "B", *N),
    # B's membership is bravo's only admin: staff may act on it, but the last-admin rule refuses (400)
    ("membership-detail",         "put",    "A", 401, 404, 404, 200, 200, 403),
    ("membership-detail",         "put",    "B", 401, 404, 404, 404, 400, 403),
    ("membership-detail",         "patch",  "A", 401, 404, 404, 200, 200, 403),
    ("membership-detail",         "patch",  "B", 401, 404, 404, 404, 400, 403),
    ("membership-detail",         "delete", "A", 401, 404, 404, 204, 204, 403),
    ("membership-detail",         "delete", "B", 401, 404, 404, 404, 400, 403),
    ("provider-list",             "get",    "-", 401, 403, 403, 403, 200, 403),
    ("provider-list",             "post",   "-", 401, 403, 403, 403, 201, 403),
    ("provider-detail",           "get",    "X", 401, 403, 403, 403, 200, 403),
    ("provider-detail",           "put",    "X", 401, 403, 403, 403, 200, 403),
    ("provider-detail",           "patch",  "X", 401, 403, 403, 403, 200, 403),
    ("provider-detail",           "delete", "X", 401, 403, 403, 403, 204, 403),
    ("provider-test-connection",  "post",   "-", 401, 403, 403, 403, 200, 403),
    ("provider-test",             "post",   "X", 401, 403, 403, 403, 200, 403),
    ("resource-list",             "get",    "-", 401, 200, 200, 200, 200, 200),
    ("resource-detail",           "get",    "A", 401, 200, 200, 200, 200, 200),
    ("resource-detail",           "get",    "B", *N),
    ("resource-detail",           "get",    "U", *N),
    ("resource-utilization",      "get",    "A", 401, 200, 200, 200, 200, 200),
    ("resource-utilization",      "get",    "B", *N),
    ("resource-utilization",      "get",    "U", *N),
    ("resource-assign",           "post",   "U", 401, 403, 403, 403, 200, 403),
    ("refresh-run-list",          "get",    "-", 401, 403, 403, 403, 200, 403),
    ("refresh-run-list",          "post",   "X", 401, 403, 403, 403, 202, 403),
    ("refresh-run-detail",        "get",    "X", 401, 403, 403, 403, 200, 403),
    ("quota-defaults",            "get",    "-", 401, 200, 200, 200, 200, 200),
    ("quota-defaults",            "put",    "-", 401, 403, 403, 403, 200, 403),
    ("quota-defaults",            "patch",  "-", 401, 403, 403, 403, 200, 403),
    ("quota-breach-list",         "get",    "-", 401, 200, 200, 200, 200, 200),
    ("quota-breach-detail",       "get",    "A", 401, 200, 200, 200, 200, 200),
    ("quota-breach-detail",       "get",    "B", *N),
    ("provision-request-list",    "get",    "-", 401, 200, 200, 200, 200, 200),
    ("provision-request-list",    "post",   "A", 401, 403, 202, 202, 202, 403),
    ("provision-request-list",    "post",   "B", 401, 400, 400, 400, 202, 403),
    ("provision-request-preview", "post",   "A", 401, 403, 200, 200, 200, 403),
    ("provision-request-preview", "post",   "B", 401, 400, 400, 400, 200, 403),
    ("provision-request-detail",  "get",    "A", 401, 200, 200, 200, 200, 200),
    ("provision-request-detail",  "get",    "B", *N),
    ("statement-list",            "get",    "-", 401, 200, 200, 200, 200, 200),
    ("statement-detail",          "get",    "A", 401, 200, 200, 200, 200, 200),
    ("statement-detail",          "get",    "B", *N),
    ("rate-plan-list",            "get",    "-", 401, 403, 403, 403, 200, 403),
    ("rate-plan-list",            "post",   "-", 401, 403, 403, 403, 201, 403),
    ("rate-plan-detail",          "get",    "X", 401, 403, 403, 403, 200, 403),
    ("rate-plan-detail",          "put",    "X", 401, 403, 403, 403, 200, 403),
    ("rate-plan-detail",          "patch",  "X", 401, 403, 403, 403, 200, 403),
    ("rate-plan-detail",          "delete", "X", 401, 403, 403, 403, 204, 403),
    ("report-subscription-list",  "get",    "-", 401, 200, 200, 200, 200, 200),
    ("report-subscription-list",  "post",   "A", 401, 400, 400, 201, 201, 403),
    ("report-subscription-list",  "post",   "B", 401, 400, 400, 400, 201, 403),
    ("report-subscription-list",  "post",   "X", 401, 403, 403, 403, 201, 403),
    ("report-subscription-detail", "get",   "A", 401, 404, 404, 200, 200, 200),
    ("report-subscription-detail", "get",   "B", *N),
    ("report-subscription-detail", "put",   "A", 401, 404, 404, 200, 200, 403),
    ("report-subscription-detail", "put",   "B", 401, 404, 404, 404, 200, 403),
    ("report-subscription-detail", "patch", "A", 401, 404, 404, 200, 200, 403),
    ("report-subscription-detail", "patch", "B", 401, 404, 404, 404, 200, 403),
    ("report-subscription-detail", "delete", "A", 401, 404, 404, 204, 204, 403),
    ("report-subscription-detail", "delete", "B", 401, 404, 404, 404, 204, 403),
    ("budget-alert-list",         "get",    "-", 401, 200, 200, 200, 200, 200),
    ("costs-by-label",            "get",    "-", 401, 200, 200, 200, 200, 200),
    ("recommendations",           "get",    "-", 401, 200, 200, 200, 200, 200),
    ("recommendation-decisions",  "post",   "A", 401, 403, 201, 201, 201, 403),
    ("recommendation-decisions",  "post",   "B", 401, 400, 400, 400, 201, 403),
    ("recommendation-decisions",  "post",   "U", 401, 400, 400, 400, 400, 403),
    ("budget-alert-detail",       "get",    "A", 401, 200, 200, 200, 200, 200),
    ("budget-alert-detail",       "get",    "B", *N),
]

SLUG = {"A": "alpha", "B": "bravo"}


def kwargs_for(route: str, obj: str, w) -> dict:
    if route.endswith("-list") or route in ("quota-defaults", "costs-by-label", "recommendations",
                                            "recommendation-decisions", "resource-assign",
                                            "provision-request-preview"):
        return {}
    if route == "provider-test-connection":
        return {}
    base = route.split("-detail")[0] if route.endswith("-detail") else route.rsplit("-", 1)[0]
    if base == "project":
        return {"slug": SLUG[obj]}
    if base == "provider":
        return {"name": w.account.name}
    objects = {"membership": w.memberships, "resource": w.resources, "quota-breach": w.breaches,
               "provision-request": w.requests, "statement": w.statements,
               "report-subscription": w.subscriptions, "budget-alert": w.alerts}
    if base in objects:
        return {"pk": objects[base][obj].pk}
    return {"pk": {"refresh-run": w.run, "rate-plan": w.plan}[base].pk}


def request_data(route: str, method: str, obj: str, w) -> dict | None:
    """The query (GET) or a valid body (writes) of each route."""
    if route in ("project-usage", "resource-utilization"):
        return PERIOD
    if route == "costs-by-label":
        return {**PERIOD, "key": "team"}
    if route == "recommendation-decisions":
        return {"resource": w.resources[obj].pk, "kind": "idle", "action": "dismiss"}
    if route == "resource-assign":
        return {"resources": [w.resources[obj].pk], "project": "alpha"}
    bodies = {
        ("project-list", "post"): {"slug": "charlie", "name": "Charlie"},
        ("project-detail", "put"): {"slug": SLUG.get(obj), "name": "Renamed"},
        ("project-detail", "patch"): {"name": "Renamed"},
        ("project-quotas", "put"): {"limits": {"vms": 10}},
        ("project-quotas", "patch"): {"limits": {"vcpus": 64}},
        ("membership-list", "post"): {"project": SLUG.get(obj), "user": "newbie", "role": "viewer"},
        ("membership-detail", "put"): {"role": "member"},
        ("membership-detail", "patch"): {"role": "member"},
        ("provider-list", "post"): {"name": "p2", "kind": "fake", "settings": {"world": "w2"},
                                    "credentials": {"token": "t"}},
        ("provider-detail", "put"): {"name": w.account.name, "kind": "fake", "settings": {"world": "w3"},
                                     "credentials": {"token": "t"}},  # a new endpoint needs them again
        ("provider-detail", "patch"): {"refresh_interval": 600},
        ("provider-test-connection", "post"): {"kind": "fake", "settings": {"world": "w2"}},
        ("provider-test", "post"): {},
        ("refresh-run-list", "post"): {"provider": w.account.name},
        ("quota-defaults", "put"): {"vms": 100},
        ("quota-defaults", "patch"): {"vcpus": 200},
        ("provision-request-list", "post"): {"project": SLUG.get(obj), "provider": w.account.name,
                                             "name": "new-vm", "kind": "vm", "vcpus": "1", "ram_mb": 512},
        ("provision-request-preview", "post"): {"project": SLUG.get(obj), "provider": w.account.name,
                                                "name": "new-vm", "kind": "vm", "vcpus": "1", "ram_mb": 512},
        ("rate-plan-list", "post"): {"name": "premium", "currency": "EUR", "rates": [
            {"measure": "vcpu_hours", "unit_price": "0.01", "effective_from": "2026-01-01T00:00:00Z"}]},
        ("rate-plan-detail", "put"): {"name": "standard", "currency": "USD"},
        ("rate-plan-detail", "patch"): {"description": "the usual"},
        ("report-subscription-list", "post"): {"project": SLUG.get(obj), "kind": "focus", "frequency": "monthly",
                                               "recipients": "finance@example.test"},
        ("report-subscription-detail", "put"): {"project": SLUG.get(obj), "kind": "usage_csv",
                                                "recipients": "new@example.test", "timezone": "Europe/Berlin"},
        ("report-subscription-detail", "patch"): {"recipients": "other@example.test"},
    }
    return bodies.get((route, method))


def call(w, caller, method, route, obj):
    url = reverse(f"api:{route}", kwargs=kwargs_for(route, obj, w))
    data = request_data(route, method, obj, w)
    client = w.client(caller)
    if method == "get":
        return client.get(url, data)
    return getattr(client, method)(url, data, format="json")


def api_routes() -> set[tuple[str, str]]:
    """(route name, method) of every pattern under api/v1/ in the URL resolver."""
    found = set()

    def walk(patterns, prefix):
        for p in patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                walk(p.url_patterns, route)
            elif isinstance(p, URLPattern) and route.lstrip("^").startswith("api/v1/"):
                actions = getattr(p.callback, "actions", None)
                if actions is not None:
                    methods = set(actions)
                else:
                    view = p.callback.view_class
                    methods = {m for m in view.http_method_names if hasattr(view, m)}
                found.update((p.name, m) for m in methods - {"head", "options"})

    walk(get_resolver().url_patterns, "")
    return found


def test_every_route_has_rows():
    rows = {(route, method) for route, method, *_ in MATRIX}
    routes = api_routes()
    assert routes - rows == set(), "API routes without authorization rows"
    assert rows - routes == set(), "rows for routes that do not exist"
    assert all(len(row) == 3 + len(CALLERS) for row in MATRIX)


@pytest.mark.parametrize("route,method,obj,expected",
                         [(r[0], r[1], r[2], dict(zip(CALLERS, r[3:], strict=True))) for r in MATRIX],
                         ids=[f"{r[1].upper()} {r[0]} {r[2]}" for r in MATRIX])
def test_matrix(api_world, eager_tasks, route, method, obj, expected):
    got = {}
    for caller in CALLERS:
        cache.clear()  # throttles count per test; each cell starts fresh
        with transaction.atomic():
            got[caller] = call(api_world, caller, method, route, obj).status_code
            transaction.set_rollback(True)
    assert got == expected


LEAKS = ("bravo", "web-b", "stray", "erin", "req-B", "sub-B@")


@pytest.mark.parametrize("caller", [c for c in CALLERS if c not in ("anon", "staff")])
def test_lists_never_show_another_projects_objects(api_world, caller):
    lists = sorted(route for route, method in api_routes() if method == "get" and route.endswith("-list"))
    assert len(lists) >= 9
    shown = 0
    for route in lists:
        response = api_world.client(caller).get(reverse(f"api:{route}"))
        if response.status_code == 403:
            continue
        assert response.status_code == 200, route
        text = json.dumps(response.json())
        assert not [leak for leak in LEAKS if leak in text], (route, text)
        shown += len(response.json()["results"])
    assert shown > 0
    # the same lists as staff do show them: the check above can fail
    staff_text = "".join(json.dumps(api_world.client("staff").get(reverse(f"api:{r}")).json()) for r in lists)
    assert all(leak in staff_text for leak in LEAKS)


# -- secrets and the last admin (issue 17, items 4 and 8) --------------------------------------------

WEBHOOK = "https://hooks.example.net/T0/secret-token-123"
#: may the caller read project A's breach webhook? anon, viewer, member, admin, staff, token (of the admin)
WEBHOOK_VISIBLE = (None, False, False, True, True, True)


def test_breach_webhook_is_shown_to_the_projects_admins_and_staff_only(api_world):
    type(api_world.a).objects.filter(pk=api_world.a.pk).update(breach_webhook=WEBHOOK)
    urls = [reverse("api:project-detail", kwargs={"slug": "alpha"}), reverse("api:project-list")]
    seen = {}
    for caller, visible in zip(CALLERS, WEBHOOK_VISIBLE, strict=True):
        if visible is None:
            continue
        for url in urls:
            response = api_world.client(caller).get(url)
            assert response.status_code == 200, (caller, url)
            seen[caller, url] = WEBHOOK in response.content.decode()
    assert seen == {(c, u): v for c, v in zip(CALLERS, WEBHOOK_VISIBLE, strict=True) if v is not None for u in urls}


#: removing or demoting the only admin of A: method, body, then the status per caller; the admin acts on
#: their own membership, staff on it too; nobody may leave the project without an admin
LAST_ADMIN = [
    ("delete", None,               401, 404, 404, 400, 400, 403),
    ("patch",  {"role": "member"}, 401, 404, 404, 400, 400, 403),
    ("put",    {"role": "viewer"}, 401, 404, 404, 400, 400, 403),
]


@pytest.mark.parametrize("method,body,expected", [(r[0], r[1], dict(zip(CALLERS, r[2:], strict=True)))
                                                  for r in LAST_ADMIN], ids=[r[0] for r in LAST_ADMIN])
def test_the_last_admin_of_a_project_stays(api_world, method, body, expected):
    from metering.models import Membership

    own = Membership.objects.get(project=api_world.a, user=api_world.users["admin"])
    url = reverse("api:membership-detail", kwargs={"pk": own.pk})
    got = {}
    for caller in CALLERS:
        cache.clear()
        response = getattr(api_world.client(caller), method)(url, body, format="json")
        got[caller] = response.status_code
        if response.status_code == 400:
            assert "admin" in response.content.decode()
    assert got == expected
    own.refresh_from_db()
    assert own.role == "admin"
    # with a second admin, the first may go
    Membership.objects.filter(project=api_world.a, user=api_world.users["member"]).update(role="admin")
    assert getattr(api_world.client("staff"), method)(url, body, format="json").status_code in (200, 204)
