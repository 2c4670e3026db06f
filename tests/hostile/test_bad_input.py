"""A walk of every page, form, CSV, API operation and command with hostile input (issue 17, item 7).

Each input is tried as staff (who reaches every code path); the walk counts what it tried and
every answer >= 500 or traceback, and fails listing them. The inputs: dates far in the past and
future, 40-digit numbers, NaN/Infinity/1e999999, an unknown currency, over-long text, JSON
nested 100,000 deep, a 20 MB body.
"""

from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stderr, redirect_stdout
from html.parser import HTMLParser

import pytest
from django.core.cache import cache
from django.core.management import ManagementUtility
from django.db import transaction
from django.test import Client
from django.urls import reverse

from metering.models import RatePlan

pytestmark = pytest.mark.django_db

BAD_TEXT = [
    "0001-01-02", "9999-12-31", "0001-01", "9999-12", "1" * 40, "-" + "9" * 40, "NaN", "Infinity",
    "-Infinity", "1e999999", "1e23", "abc", "ZZZ", "a" * 300, "-1", "2026-02-30",
]
#: raw JSON tokens put in place of one value of a valid body (Python's json reads NaN and Infinity)
BAD_JSON = [
    "NaN", "Infinity", "-Infinity", "1e999999", "1" * 40, "-" + "9" * 40, '"0001-01-02"', '"9999-12-31"',
    '"9999-12-31T23:59:59Z"', '"ZZZ"', '"' + "a" * 300 + '"', '"NaN"', '"1e999999"', "-1", "[]", "{}", "null",
]
#: query parameters pages and the API read
PARAMS = ["start", "end", "period", "tz", "page", "page_size", "window", "sort", "revision", "format", "kind",
          "account", "share_idle", "cursor", "currency"]


class Tally:
    def __init__(self):
        self.tried = 0
        self.failures: list[str] = []

    def check(self, what: str, response):
        self.tried += 1
        if response.status_code >= 500:
            body = b"<stream>" if response.streaming else response.content[:200]
            self.failures.append(f"{response.status_code} {what}: {body!r}")
        elif response.streaming:
            try:  # a CSV may fail while it streams, after its 200
                b"".join(response.streaming_content)
            except Exception as exc:  # noqa: BLE001 - what the client sees as a cut-off download
                self.failures.append(f"stream {what}: {type(exc).__name__}: {exc}")


class Forms(HTMLParser):
    """Collects every form on a page: action, method, field names with their values."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action") or "", "method": (a.get("method") or "get").lower(),
                               "fields": {}})
        elif tag in ("input", "select", "textarea") and self.forms and a.get("name"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                self.forms[-1]["fields"].setdefault(a["name"], "")
                return
            self.forms[-1]["fields"][a["name"]] = a.get("value") or ""


PERIOD = ("start", "end", "format", "page")
STATEMENT = ("period", "start", "end", "revision", "format", "page", "share_idle", "currency")
INVENTORY = ("project", "provider", "kind", "state", "label", "q", "include_deleted", "sort", "page")


def page_urls(w) -> list[tuple[str, tuple[str, ...]]]:
    """Every page with the query parameters it reads."""
    a, res = w.a.slug, w.resources["A"].pk
    names = [("web:home", {}, PERIOD), ("web:project_overview", {"slug": a}, PERIOD),
             ("web:inventory", {}, INVENTORY), ("web:inventory_tree", {}, INVENTORY),
             ("web:resource_detail", {"pk": res}, ("window",)), ("web:provider_list", {}, ()),
             ("web:provider_add", {}, ("kind",)), ("web:provider_edit", {"pk": w.account.pk}, ()),
             ("web:run_status", {"pk": w.run.pk}, ()), ("web:admin_overview", {}, PERIOD),
             ("web:quota_list", {}, ()), ("web:quota_defaults", {}, ()), ("web:quota_edit", {"slug": a}, ("account",)),
             ("web:chargeback_overview", {}, STATEMENT), ("web:project_chargeback", {"slug": a}, STATEMENT),
             ("web:project_members", {"slug": a}, ()),
             ("web:cost_by_label", {}, ("key", "key2", *STATEMENT)),
             ("web:recommendations", {}, ("project", "window", "format", "page")),
             ("web:project_reports", {"slug": a}, ()),
             ("web:launch", {"slug": a}, ("account", "kind", "name", "image", "vcpus", "ram_mb", "network")),
             ("web:launch_request", {"slug": a, "pk": w.requests["A"].pk}, ()),
             ("web:launch_request_status", {"slug": a, "pk": w.requests["A"].pk}, ())]
    urls = [(reverse(name, kwargs=kw), params) for name, kw, params in names]
    urls.append((reverse("web:provider_add") + "?kind=openstack", ()))
    return urls


@pytest.fixture
def staff_client(api_world):
    client = Client(raise_request_exception=False)
    client.force_login(api_world.users["staff"])
    return client


@pytest.mark.timeout(900)
def test_pages_forms_and_csv_never_answer_5xx(api_world, staff_client, eager_tasks):
    tally = Tally()
    for url, params in page_urls(api_world):
        base = staff_client.get(url)
        tally.check(f"GET {url}", base)
        for name in params:
            for value in BAD_TEXT:
                for fmt in ({}, {"format": "csv"}) if "format" in params and name != "format" else ({},):
                    r = staff_client.get(url, {name: value, **fmt})
                    tally.check(f"GET {url} {name}={value[:20]} {fmt}", r)
        parser = Forms()
        parser.feed(base.content.decode(errors="replace"))
        for form in parser.forms:
            action = form["action"] or url
            if action.startswith(("/logout", "/admin", "/preferences/timezone")) and form["method"] == "post" \
                    and "logout" in action:
                continue
            for field in form["fields"]:
                if field == "csrfmiddlewaretoken":
                    continue
                for value in BAD_TEXT:
                    data = {**form["fields"], field: value}
                    r = staff_client.post(action, data) if form["method"] == "post" else staff_client.get(action, data)
                    tally.check(f"{form['method'].upper()} {action} {field}={value[:20]}", r)
    print(f"pages: {tally.tried} bad inputs tried, {len(tally.failures)} answered 5xx")
    assert not tally.failures, "\n".join(tally.failures)


# -- the API, from its own schema -------------------------------------------------------------------

def valid_bodies(w) -> dict[tuple[str, str], dict]:
    """A valid body per writing operation; each of its leaves is replaced by each bad token in turn."""
    a = w.a.slug
    plan = {"name": "p2", "currency": "EUR",
            "rates": [{"measure": "vcpu_hours", "price": "0.01", "tiers": [{"above": "10", "price": "0.005"}]}]}
    return {
        ("/api/v1/projects/", "post"): {"slug": "new", "name": "New", "cost_centre": "cc"},
        (f"/api/v1/projects/{a}/", "patch"): {"name": "Renamed", "description": "d"},
        (f"/api/v1/projects/{a}/quotas/", "patch"): {"limits": {"vms": 5, "vcpus": 10, "budget": 100}},
        (f"/api/v1/projects/{a}/quotas/", "put"): {"limits": {"vms": 5}},
        ("/api/v1/memberships/", "post"): {"project": a, "user": "newbie", "role": "viewer"},
        (f"/api/v1/memberships/{w.memberships['A'].pk}/", "patch"): {"role": "member"},
        ("/api/v1/providers/", "post"): {"name": "acct2", "kind": "fake", "settings": {"world": "x"},
                                         "credentials": {"token": "t"}, "refresh_interval": 300},
        (f"/api/v1/providers/{w.account.name}/", "patch"): {"refresh_interval": 600, "enabled": True},
        ("/api/v1/providers/test-connection/", "post"): {"kind": "fake", "settings": {"world": "x"},
                                                         "credentials": {"token": "t"}},
        (f"/api/v1/providers/{w.account.name}/test/", "post"): {"settings": {"world": "x"},
                                                                "credentials": {"token": "t"}},
        ("/api/v1/refresh-runs/", "post"): {"provider": w.account.name},
        ("/api/v1/quota-defaults/", "patch"): {"limits": {"vms": 10}},
        ("/api/v1/provision-requests/", "post"): {"project": a, "provider": w.account.name, "name": "n1",
                                                  "kind": "vm", "vcpus": "1", "ram_mb": 512, "disk_gb": "1"},
        ("/api/v1/provision-requests/preview/", "post"): {"project": a, "provider": w.account.name, "name": "n1",
                                                          "kind": "vm", "vcpus": "1", "ram_mb": 512, "disk_gb": "1"},
        ("/api/v1/rate-plans/", "post"): plan,
        ("/api/v1/recommendation-decisions/", "post"): {"resource": w.resources["A"].pk, "kind": "idle",
                                                        "action": "snooze", "until": "2026-12-01T00:00:00Z",
                                                        "note": "n"},
        (f"/api/v1/rate-plans/{w.plan.pk}/", "patch"): plan | {"name": "p3"},
    }


def leaves(value, path=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaves(v, (*path, i))
    yield path


def replaced(body, path, token: str) -> str:
    """``body`` as JSON text with the value at ``path`` replaced by the raw JSON ``token``."""
    marker = "\u2603MARK\u2603"
    copy = json.loads(json.dumps(body))
    if not path:
        return token
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = marker
    return json.dumps(copy).replace(json.dumps(marker), token)


def api_gets(w) -> list[str]:
    a, res = w.a.slug, w.resources["A"].pk
    return ["/api/v1/projects/", f"/api/v1/projects/{a}/", f"/api/v1/projects/{a}/usage/",
            f"/api/v1/projects/{a}/limits/", f"/api/v1/projects/{a}/quotas/", "/api/v1/memberships/",
            "/api/v1/providers/", "/api/v1/resources/", f"/api/v1/resources/{res}/",
            f"/api/v1/resources/{res}/utilization/", "/api/v1/refresh-runs/", "/api/v1/quota-breaches/",
            "/api/v1/provision-requests/", "/api/v1/statements/", f"/api/v1/statements/{w.statements['A'].pk}/",
            "/api/v1/rate-plans/", "/api/v1/quota-defaults/", "/api/v1/costs-by-label/",
            "/api/v1/recommendations/"]


def schema_params() -> set[str]:
    from drf_spectacular.generators import SchemaGenerator

    found = set()
    for operations in SchemaGenerator().get_schema(public=True)["paths"].values():
        for operation in operations.values():
            found |= {p["name"] for p in operation.get("parameters", ()) if p.get("in") == "query"}
    return found


@pytest.mark.timeout(900)
def test_api_never_answers_5xx(api_world, eager_tasks):
    from rest_framework.test import APIClient

    client = APIClient(raise_request_exception=False)
    client.force_authenticate(api_world.users["staff"])
    tally = Tally()
    params = sorted(schema_params() | set(PARAMS))
    for url in api_gets(api_world):
        for name in params:
            for value in BAD_TEXT:
                cache.clear()
                r = client.get(url, {name: value})
                tally.check(f"GET {url}?{name}={value[:20]}", r)
                if "/usage/" in url or "/utilization/" in url:
                    other = "end" if name == "start" else "start"
                    r = client.get(url, {name: value, other: "2026-11-01"})
                    tally.check(f"GET {url}?{name}={value[:20]}&{other}", r)
    for (url, method), body in valid_bodies(api_world).items():
        for path in list(leaves(body)):
            for token in BAD_JSON:
                cache.clear()
                payload = replaced(body, path, token)
                r = getattr(client, method)(url, payload, content_type="application/json")
                tally.check(f"{method.upper()} {url} {'.'.join(map(str, path))}={token[:20]}", r)
        deep = "[" * 100_000 + "]" * 100_000
        for payload in (deep, '{"a":' * 100_000 + "1" + "}" * 100_000, "x" * (20 * 1024 * 1024),
                        '{"name": "' + "a" * (20 * 1024 * 1024) + '"}'):
            cache.clear()
            r = getattr(client, method)(url, payload, content_type="application/json")
            tally.check(f"{method.upper()} {url} <{len(payload)} bytes>", r)
            if r.status_code == 400 or r.status_code == 413:
                assert r["Content-Type"].startswith("application/json"), (url, r.status_code, r.content[:200])
    print(f"api: {tally.tried} bad inputs tried, {len(tally.failures)} answered 5xx")
    assert not tally.failures, "\n".join(tally.failures)


def test_rate_plan_rejects_an_unknown_currency(api_world):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(api_world.users["staff"])
    r = client.post("/api/v1/rate-plans/", {"name": "p9", "currency": "ZZZ", "rates": []}, format="json")
    assert r.status_code == 400 and "currency" in r.json(), r.content
    assert not RatePlan.objects.filter(name="p9").exists()


# -- commands ----------------------------------------------------------------------------------------

def run_command(*argv: str) -> tuple[int, str]:
    """Runs ``manage.py argv`` in this process as a shell would: (exit status, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with redirect_stdout(out), redirect_stderr(err):
        try:
            ManagementUtility(["manage.py", *argv]).execute()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except Exception as exc:  # what a shell would show as a traceback
            return 1, f"Traceback: {type(exc).__name__}: {exc}"
    return code, err.getvalue()


COMMANDS = [
    ("chargeback", "--project", "alpha", "--period", "9999-12"),
    ("chargeback", "--project", "alpha", "--period", "0001-01"),
    ("chargeback", "--project", "alpha", "--period", "2026-11", "--start", "0001-01-02", "--end", "9999-12-31"),
    ("chargeback", "--project", "alpha", "--period", "1" * 40),
    ("chargeback", "--all-projects", "--period", "9999-12", "--format", "csv"),
    ("usage", "--project", "alpha", "--start", "0001-01-02", "--end", "0001-01-05"),
    ("usage", "--project", "alpha", "--start", "9999-12-30", "--end", "9999-12-31"),
    ("usage", "--project", "alpha", "--start", "9999-12-31", "--end", "9999-12-31", "--tz", "Pacific/Kiritimati"),
    ("usage", "--project", "alpha", "--start", "0001-01-01", "--end", "0001-01-02", "--tz", "America/New_York"),
    ("usage", "--project", "alpha", "--start", "1" * 40, "--end", "2026-01-01"),
    ("quota", "set", "alpha", "vms=1e23"),
    ("quota", "set", "alpha", "vms=" + "9" * 40),
    ("quota", "set", "alpha", "budget=NaN"),
    ("quota", "set", "alpha", "budget=1e999999"),
    ("quota", "set", "alpha", "vcpus=-" + "9" * 40),
    ("quota", "defaults", "ram_mb=" + "9" * 40),
    ("quota", "set", "a" * 300, "vms=1"),
    ("token", "create", "staff", "--expires", "99999999999"),
    ("token", "create", "staff", "--expires", "1e14"),
    ("token", "create", "staff", "--expires", "-1"),
    ("token", "create", "a" * 300),
    ("token", "revoke", "9" * 40),
    ("token", "list", "a" * 300),
    ("provider", "add", "x1", "--kind", "fake", "--setting", "world=w", "--interval", "1e14"),
    ("provider", "add", "x2", "--kind", "fake", "--setting", "world=w", "--interval", "9" * 40),
    ("provider", "add", "x3", "--kind", "openstack", "--setting", "auth_url=http://127.0.0.1:1/v3",
     "--setting", "page_size=abc", "--credential", "username=a", "--credential", "password=b"),
    ("provider", "add", "x4", "--kind", "openstack", "--setting", "auth_url=http://127.0.0.1:1/v3",
     "--setting", "page_size=" + "9" * 40, "--credential", "username=a", "--credential", "password=b"),
    ("provider", "add", "x5", "--kind", "docker", "--setting", "base_url=tcp://127.0.0.1:1", "--setting",
     "timeout=1e999999"),
    ("provider", "add", "a" * 300, "--kind", "fake", "--setting", "world=w"),
    ("provider", "add", "x6", "--kind", "openstack", "--setting", "auth_url=http://127.0.0.1:99999/v3", "--test"),
    ("provider", "test", "--kind", "docker", "--setting", "base_url=tcp://127.0.0.1:99999"),
    ("provider", "test", "--kind", "fake", "--setting", "world=w", "--timeout", "1e999"),
    ("provider", "test", "a" * 300),
    ("provider", "test"),
    ("provider", "remove", "a" * 300),
    ("project", "add", "a" * 300),
    ("project", "add", "okslug", "--name", "n" * 300),
    ("inventory", "--project", "a" * 300),
    ("inventory", "--provider", "a" * 300),
    ("refresh", "--provider", "a" * 300),
]


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda argv: " ".join(a[:24] for a in argv)[:80])
def test_commands_print_one_line_and_exit_2_on_bad_input(argv, api_world):
    code, err = run_command(*argv)
    assert "Traceback" not in err, err
    assert code == 2, f"exit {code}: {err}"
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert not re.search(r"Error:.*Error", lines[0]), lines[0]


# -- Django admin ------------------------------------------------------------------------------------

#: fewer here: admin forms are many and slow; the same parsers meet the rest of BAD_TEXT on the pages
ADMIN_BAD = ["9999-12-31", "1" * 40, "NaN", "a" * 300]
SUBMIT_BUTTONS = ("_save", "_continue", "_addanother", "_saveasnew")


@pytest.mark.timeout(900)
def test_admin_forms_never_answer_5xx(api_world):
    """Every add and change form of Django admin (inlines included), and every changelist's search."""
    from django.contrib import admin
    from django.contrib.auth import get_user_model

    root = get_user_model().objects.create_superuser("root", "root@example.net", "pw")
    client = Client(raise_request_exception=False)
    client.force_login(root)
    tally = Tally()
    for model in list(admin.site._registry):
        meta = model._meta
        base = f"/admin/{meta.app_label}/{meta.model_name}/"
        for value in ADMIN_BAD[:3]:
            tally.check(f"GET {base}?q={value[:20]}", client.get(base, {"q": value}))
        first = model.objects.order_by("pk").first()
        pages = [base + "add/"] + ([f"{base}{first.pk}/change/"] if first is not None else [])
        for url in pages:
            page = client.get(url)
            tally.check(f"GET {url}", page)
            if page.status_code != 200:
                continue
            parser = Forms()
            parser.feed(page.content.decode(errors="replace"))
            forms = [f for f in parser.forms if f["method"] == "post" and "csrfmiddlewaretoken" in f["fields"]
                     and not f["action"].startswith(("/logout", "/preferences"))]
            for form in forms:
                fields = [name for name in form["fields"] if name not in ("csrfmiddlewaretoken", *SUBMIT_BUTTONS)
                          and not name.endswith(("-TOTAL_FORMS", "-INITIAL_FORMS", "-MIN_NUM_FORMS",
                                                 "-MAX_NUM_FORMS")) and "__prefix__" not in name]
                for field in fields:
                    for value in ADMIN_BAD:
                        with transaction.atomic():
                            r = client.post(form["action"] or url, {**form["fields"], field: value})
                            tally.check(f"POST {url} {field}={value[:20]}", r)
                            transaction.set_rollback(True)
    print(f"admin: {tally.tried} bad inputs tried, {len(tally.failures)} answered 5xx")
    assert not tally.failures, "\n".join(tally.failures)
