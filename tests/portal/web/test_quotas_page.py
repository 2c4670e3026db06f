"""The quotas page (staff): every project x every limit with usage bars, editing a project's limits
through the audited quota service, the site defaults, breaches, and drift against OpenStack."""

import re
from decimal import Decimal

import pytest

from metering.choices import ChangeSource
from metering.models import ExternalProject, Quota, QuotaAudit, QuotaBreach, QuotaDefault
from tests.conftest import T0
from tests.portal.web.test_panels import limit_charts

pytestmark = pytest.mark.django_db


def bar(content: str, slug: str, key: str) -> str:
    row = content.split(f'id="quota-{slug}"', 1)[1].split("</tr>", 1)[0]
    return row.split(f'data-key="{key}"', 1)[1].split("</div>", 1)[0]


@pytest.mark.parametrize("url", ["/quotas/", "/quotas/defaults/", "/quotas/alpha/edit/"])
def test_anonymous_logs_in_and_non_staff_are_refused(client, as_user, dashboard, url):
    assert client.get(url)["Location"].startswith("/login/?next=")
    for role in ("viewer", "member", "outsider"):
        assert as_user(role).get(url).status_code == 403, role
    assert as_user("member").post(url, {"vcpus": "100"}).status_code == 403
    assert not QuotaAudit.objects.exists()


def test_every_project_and_limit_with_usage_bars(as_user, dashboard):
    Quota.objects.create(project=dashboard["alpha"], key="vcpus", limit=4)  # 6.5 in use: red
    Quota.objects.create(project=dashboard["alpha"], key="vms", limit=2)  # 2 of 2: at the limit
    QuotaDefault.objects.create(key="containers", limit=10)
    content = as_user("staff").get("/quotas/").content.decode()
    assert re.findall(r'id="quota-([a-z]+)"', content) == ["alpha", "beta"]
    vcpus = bar(content, "alpha", "vcpus")
    assert "6.5 / 4" in vcpus and "over by 2.5" in vcpus and 'high="4"' in vcpus and 'max="6.5"' in vcpus
    assert "at the limit" in bar(content, "alpha", "vms") and 'low="1.6' in bar(content, "alpha", "vms")
    assert "1 / 10" in bar(content, "alpha", "containers")  # the default applies
    assert "0 / 10" in bar(content, "beta", "containers")
    assert "2 / unlimited" in bar(content, "beta", "vcpus") and "<meter" not in bar(content, "beta", "vcpus")
    assert "RAM" in content and "10.5 / unlimited" in bar(content, "alpha", "ram_mb")  # MB shown as GB
    assert "1 project over a limit" in content and content.count("Modify quotas") == 2


def test_invalid_value_is_an_inline_error_and_nothing_is_saved(as_user, dashboard):
    client = as_user("staff")
    response = client.post("/quotas/alpha/edit/", {"vcpus": "-2", "vms": "many", "containers": "5"})
    content = response.content.decode()
    assert response.status_code == 200
    assert "Ensure this value is greater than or equal to -1." in content
    assert "Enter a whole number." in content and content.count('class="field invalid"') == 2
    assert not Quota.objects.exists() and not QuotaAudit.objects.exists()


def test_valid_edit_is_audited_as_portal_and_the_overview_shows_it(as_user, dashboard):
    client = as_user("staff")
    response = client.post("/quotas/alpha/edit/", {"vcpus": "4", "vms": "-1", "ram_mb": ""}, follow=True)
    content = response.content.decode()
    assert response.redirect_chain[-1][0] == "/quotas/alpha/edit/"
    audits = {a.key: a for a in QuotaAudit.objects.all()}
    assert set(audits) == {"vcpus", "vms"}
    assert (audits["vcpus"].old, audits["vcpus"].new, audits["vcpus"].source) == (None, 4, ChangeSource.PORTAL)
    assert audits["vcpus"].changed_by == dashboard["users"]["staff"]
    # below usage is allowed, and the page says what is over
    assert "alpha is now over vCPUs (6.5 in use of 4)" in content
    trail = content.split('id="audit-table"', 1)[1]
    assert "admin" in trail and "Portal" in trail and "default → 4" in trail and "default → unlimited" in trail
    overview = as_user("viewer").get("/projects/alpha/").content.decode()
    charts = limit_charts(overview)
    assert (charts["vCPUs"]["limit"], charts["vCPUs"]["level"]) == ("4", "over")
    assert charts["VMs"]["limit"] == "unlimited"
    # emptying a field removes the project's own value: the default applies again
    client = as_user("staff")
    client.post("/quotas/alpha/edit/", {"vcpus": "", "vms": "-1"})
    assert not Quota.objects.filter(key="vcpus").exists()
    assert QuotaAudit.objects.filter(key="vcpus").latest("id").new is None


def test_limits_narrowed_to_an_account(as_user, dashboard):
    account = dashboard["account"]
    client = as_user("staff")
    client.post(f"/quotas/alpha/edit/?account={account.pk}", {"vms": "1"})
    quota = Quota.objects.get()
    assert (quota.account, quota.key, quota.limit) == (account, "vms", 1)
    page = client.get(f"/quotas/alpha/edit/?account={account.pk}").content.decode()
    assert "Limits narrowed to fake1" in page and 'value="1"' in page
    assert client.get("/quotas/alpha/edit/?account=999").status_code == 404
    assert "per account" in client.get("/quotas/").content.decode()


def test_defaults_form_like_horizon(as_user, dashboard):
    client = as_user("staff")
    bad = client.post("/quotas/defaults/", {"vcpus": "1.5"})
    assert b"Enter a whole number." in bad.content and not QuotaDefault.objects.exists()
    client.post("/quotas/defaults/", {"vcpus": "8", "budget": "500"})
    assert dict(QuotaDefault.objects.values_list("key", "limit")) == {"vcpus": 8, "budget": 500}
    audit = QuotaAudit.objects.get(key="vcpus")
    assert audit.project is None and audit.source == ChangeSource.PORTAL
    page = client.get("/quotas/defaults/").content.decode()
    assert 'name="vcpus" value="8"' in page and "none → 8" in page
    assert "Empty: site default (8)" in client.get("/quotas/beta/edit/").content.decode()
    assert "2 / 8" in bar(client.get("/quotas/").content.decode(), "beta", "vcpus")


def test_open_and_recent_breaches_are_listed(as_user, dashboard):
    alpha = dashboard["alpha"]
    QuotaBreach.objects.create(project=alpha, key="vcpus", limit=4, used=Decimal("6.5"), over_by=Decimal("2.5"),
                               opened_at=T0)
    from django.utils import timezone

    QuotaBreach.objects.create(project=alpha, key="vms", limit=1, used=2, over_by=1, opened_at=T0,
                               closed_at=timezone.now())
    client = as_user("staff")
    for url in ("/quotas/", "/quotas/alpha/edit/"):
        content = client.get(url).content.decode()
        open_rows = content.split('id="open-breaches"', 1)[1].split("</table>", 1)[0]
        assert "vCPUs" in open_rows and "2.5" in open_rows and "VMs" not in open_rows
        assert "VMs" in content.split('id="closed-breaches"', 1)[1].split("</table>", 1)[0]
    assert "No open breach." in client.get("/quotas/beta/edit/").content.decode()


def test_drift_against_openstack_where_the_project_is_mapped(as_user, dashboard, make_account):
    account = make_account(name="cloud", kind="openstack", world_name="unused")
    Quota.objects.create(project=dashboard["alpha"], key="vcpus", limit=20)
    ExternalProject.objects.create(account=account, external_id="t-1", name="alpha", project=dashboard["alpha"],
                                   quotas={"vcpus": {"limit": 10, "used": "3"}, "vms": {"limit": 5, "used": None}})
    client = as_user("staff")
    content = client.get("/quotas/alpha/edit/").content.decode()
    table = content.split('id="drift-table"', 1)[1].split("</table>", 1)[0]
    row = table.split("<td>vcpus</td>", 1)[1].split("</tr>", 1)[0]
    assert "cloud / t-1" in table and ">20<" in row and "10" in row and row.count("differs") == 2
    assert 'id="drift-table"' not in client.get("/quotas/beta/edit/").content.decode()


def test_drift_says_not_applied_with_the_providers_message_until_a_push_succeeds(as_user, dashboard, make_account):
    from devsim.fake import FakeDriver, FakeWorld
    from metering.quotas import pushdown
    from providers.base import ProviderDataError

    FakeDriver.worlds["pushes"] = world = FakeWorld(now=T0)
    account = make_account(name="cloud2", world_name="pushes")
    ExternalProject.objects.create(account=account, external_id="t-9", name="alpha", project=dashboard["alpha"])
    Quota.objects.create(project=dashboard["alpha"], key="vcpus", limit=20)
    world.quota_failures = [ProviderDataError("OpenStack refused to update compute quotas (400): too big")]
    try:
        pushdown.push(dashboard["alpha"])
        client = as_user("staff")
        content = client.get("/quotas/alpha/edit/").content.decode()
        table = content.split('id="drift-table"', 1)[1].split("</table>", 1)[0]
        row = table.split("<td>vcpus</td>", 1)[1].split("</tr>", 1)[0]
        assert "not applied" in row and "(400): too big" in row and "next retry" in row
        audit = content.split('id="audit-table"', 1)[1].split("</table>", 1)[0]
        assert "cloud2/t-9" in audit and "Not applied" in audit and "too big" in audit
        pushdown.push(dashboard["alpha"])
        row = client.get("/quotas/alpha/edit/").content.decode().split('id="drift-table"', 1)[1]
        row = row.split("<td>vcpus</td>", 1)[1].split("</tr>", 1)[0]
        assert "not applied" not in row and "applied" in row
    finally:
        FakeDriver.worlds.pop("pushes", None)
