"""After a quota edit in any of the four places (Django admin, the portal's quota page, the API, the
``quota`` command) the overview's breach banner, its doughnuts, the quotas page and the API agree at
once, without waiting for a refresh.

The dashboard's project alpha has two VMs (one stopped, which still counts). A VM limit of 1 puts it
over by one; a limit of 10 brings it back under.
"""

from __future__ import annotations

import json
import re

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from metering.models import QuotaBreach

pytestmark = pytest.mark.django_db

PERIOD = "?start=2026-11-01&end=2026-11-02"


def _admin(client, dashboard, limit: int) -> None:
    """Edit the project's VM limit in its Django admin change page (the quota inline)."""
    from django.contrib.auth import get_user_model

    alpha = dashboard["alpha"]
    root = get_user_model().objects.filter(username="root").first() or get_user_model().objects.create_superuser(
        "root", password="pw-for-tests-1")
    client.force_login(root)
    url = f"/admin/metering/project/{alpha.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    data = _form_data(page.context["adminform"].form)
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        data.update({formset.management_form.add_prefix(k): v
                     for k, v in formset.management_form.initial.items()})
        for form in formset.forms:
            values = _form_data(form)
            if formset.model.__name__ == "Quota":
                if form.instance.pk is None or form.instance.key == "vms":
                    values.update({form.add_prefix("key"): "vms", form.add_prefix("limit"): str(limit)})
            data.update(values)
        if formset.model.__name__ == "Quota" and all(f.instance.pk for f in formset.forms):
            raise AssertionError("the quota inline offers no empty row")
    response = client.post(url, data)
    assert response.status_code == 302, response.context and [
        f.errors for i in response.context["inline_admin_formsets"] for f in i.formset.forms if f.errors]


def _form_data(form) -> dict:
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is None or value is False:
            continue
        if value is True:
            value = "on"
        data[form.add_prefix(name)] = value if isinstance(value, list) else str(value)
    return data


def _portal(client, dashboard, limit: int) -> None:
    response = client.post("/quotas/alpha/edit/", {"vms": str(limit)})
    assert response.status_code == 302


def _api(client, dashboard, limit: int) -> None:
    api = APIClient()
    api.force_authenticate(dashboard["users"]["staff"])
    response = api.patch("/api/v1/projects/alpha/quotas/", {"limits": {"vms": limit}}, format="json")
    assert response.status_code == 200, response.content


def _command(client, dashboard, limit: int) -> None:
    call_command("quota", "set", "alpha", f"vms={limit}")


def _doughnut(content: str, title: str) -> dict:
    found = re.findall(r'<script id="chart-limit-\d+" type="application/json">(.*?)</script>', content, re.S)
    return {c["title"]: c for c in map(json.loads, found)}[title]


def _views(client, dashboard) -> dict:
    """What each of the four views says about alpha's VM limit."""
    overview = client.get("/projects/alpha/" + PERIOD).content.decode()
    banner = overview.split('id="breach-banner"', 1)[1].split("</div>", 1)[0] if "breach-banner" in overview else ""
    doughnut = _doughnut(overview, "VMs")
    row = next(r for r in client.get("/quotas/").context["rows"] if r["project"].slug == "alpha")
    bar = next(b for b in row["bars"] if b["key"] == "vms")
    api = APIClient()
    api.force_authenticate(dashboard["users"]["staff"])
    limits = api.get("/api/v1/projects/alpha/limits/").json()
    vms = next(q for q in limits["scopes"][0]["quotas"] if q["key"] == "vms")
    open_breaches = api.get("/api/v1/quota-breaches/", {"project": "alpha"}).json()["results"]
    return {
        "banner": "VMs uses 2 of 1 (over by 1" in banner,
        "doughnut": doughnut["level"] == "over",
        "quotas page": bar["level"] == "over",
        "api limits": vms["over"],
        "api breaches": any(b["key"] == "vms" and b["closed_at"] is None for b in open_breaches),
    }


@pytest.mark.parametrize("edit", [_admin, _portal, _api, _command], ids=["admin", "portal", "api", "command"])
def test_banner_doughnuts_quotas_page_and_api_agree_right_after_an_edit(as_user, dashboard, edit):
    client = as_user("staff")
    assert not any(_views(client, dashboard).values())
    edit(client, dashboard, 1)
    assert _views(client, dashboard) == dict.fromkeys(
        ["banner", "doughnut", "quotas page", "api limits", "api breaches"], True)
    assert QuotaBreach.objects.filter(project=dashboard["alpha"], key="vms", closed_at__isnull=True).count() == 1
    edit(client, dashboard, 10)
    assert not any(_views(client, dashboard).values())
    assert not QuotaBreach.objects.filter(closed_at__isnull=True).exists()


def test_a_changed_site_default_opens_and_closes_breaches_at_once(as_user, dashboard):
    client = as_user("staff")
    call_command("quota", "defaults", "vms=1")
    assert all(_views(client, dashboard).values())
    response = client.post("/quotas/defaults/", {"vms": "5"})
    assert response.status_code == 302
    assert not any(_views(client, dashboard).values())
