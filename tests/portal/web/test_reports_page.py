"""Reports and alerts page: project admins and staff subscribe addresses, remove subscriptions and
set budget alerts; bad input is refused with the field named; viewers and members get 403."""

import pytest

from metering.models import BudgetAlertPolicy, Membership, ReportSubscription

pytestmark = pytest.mark.django_db

URL = "/projects/alpha/reports/"


@pytest.fixture
def project_admin(dashboard, client):
    from django.contrib.auth import get_user_model

    from tests.portal.web.conftest import PASSWORD

    user = get_user_model().objects.create_user("ada", password=PASSWORD)
    Membership.objects.create(user=user, project=dashboard["alpha"], role="admin")
    client.login(username="ada", password=PASSWORD)
    return client


def test_who_may_open_the_page(client, as_user):
    assert client.get(URL)["Location"].startswith("/login/?next=")
    assert as_user("viewer").get(URL).status_code == 403
    assert as_user("member").post(URL, {"action": "subscribe"}).status_code == 403
    assert as_user("outsider").get(URL).status_code == 404
    assert as_user("staff").get("/projects/beta/reports/").status_code == 200


def test_an_admin_subscribes_and_unsubscribes(project_admin):
    page = project_admin.get(URL).content.decode()
    assert "No report is scheduled" in page and 'href="/projects/alpha/reports/"' in page
    response = project_admin.post(URL, {"action": "subscribe", "kind": "focus", "frequency": "monthly",
                                        "timezone": "Europe/Berlin", "recipients": "fin@example.test, cfo@example.test"})
    assert response.status_code == 302
    sub = ReportSubscription.objects.get()
    assert (sub.project.slug, sub.kind, sub.recipient_list, sub.created_by.username) == (
        "alpha", "focus", ["fin@example.test", "cfo@example.test"], "ada")
    assert "FOCUS 1.0 cost and usage CSV" in project_admin.get(URL).content.decode()
    project_admin.post(URL, {"action": "unsubscribe", "subscription": str(sub.pk)})
    assert not ReportSubscription.objects.exists()
    assert project_admin.post(URL, {"action": "unsubscribe", "subscription": "abc"}).status_code == 404


def test_bad_addresses_and_timezones_are_refused_with_the_field_named(project_admin):
    page = project_admin.post(URL, {"action": "subscribe", "kind": "usage_csv", "frequency": "weekly",
                                    "timezone": "Mars/Olympus", "recipients": "ok@example.test, not-an-address"})
    text = page.content.decode()
    assert page.status_code == 200 and "not an email address: &#x27;not-an-address&#x27;" in text
    assert "unknown timezone" in text and not ReportSubscription.objects.exists()


def test_alert_settings_are_saved_and_validated(project_admin, dashboard):
    bad = project_admin.post(URL, {"action": "policy", "enabled": "on", "thresholds": "50, lots",
                                   "email_admins": "on"})
    assert bad.status_code == 200 and "whole percentages" in bad.content.decode()
    bad = project_admin.post(URL, {"action": "policy", "enabled": "on", "thresholds": "0, 5000"})
    assert "whole percentages from 1 to 1000" in bad.content.decode()
    ok = project_admin.post(URL, {"action": "policy", "thresholds": "80%, 100", "extra_emails": "fin@example.test"})
    assert ok.status_code == 302
    policy = BudgetAlertPolicy.objects.get(project=dashboard["alpha"])
    assert (policy.enabled, policy.thresholds, policy.email_admins, policy.extra_emails) == (
        False, [80, 100], False, "fin@example.test")
