"""Editing limits: validation, the audit trail, the Django admin and the provider admin."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from metering import collector
from metering.choices import ChangeSource
from metering.models import Quota, QuotaAudit, QuotaDefault
from metering.quotas import QuotaValueError, project_usage, set_defaults, set_limits
from providers.models import ProviderAccount
from tests.conftest import vm

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user(db):
    return get_user_model().objects.create_superuser("root", "root@example.com", "pw")


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def management_forms(page: str) -> dict[str, str]:
    return dict(re.findall(r'name="([\w-]+-(?:TOTAL|INITIAL|MIN_NUM|MAX_NUM)_FORMS)"[^>]*value="(\d+)"', page))


def test_set_limits_from_the_portal_is_validated_and_audited(project, admin_user):
    audits = set_limits(project, {"vcpus": 20, "vms": "5"}, user=admin_user, source=ChangeSource.PORTAL)
    assert {(a.key, a.old, a.new, a.source, a.changed_by) for a in audits} == {
        ("vcpus", None, 20, "portal", admin_user), ("vms", None, 5, "portal", admin_user)}
    assert set_limits(project, {"vcpus": 20}, user=admin_user, source=ChangeSource.PORTAL) == []  # no change
    [change] = set_limits(project, {"vcpus": -1}, user=None, source=ChangeSource.API)
    assert (change.old, change.new, change.changed_by) == (20, -1, None)
    [removed] = set_limits(project, {"vms": None}, user=None, source=ChangeSource.API)
    assert removed.new is None and not Quota.objects.filter(key="vms").exists()
    assert QuotaAudit.objects.filter(project=project).count() == 4


@pytest.mark.parametrize("values, field, message", [
    ({"vcpus": "lots"}, "vcpus", "must be a whole number"),
    ({"vcpus": -2}, "vcpus", "must be -1 (unlimited) or more"),
    ({"vcpus": 1.5}, "vcpus", "must be a whole number"),
    ({"vcpus": True}, "vcpus", "must be a whole number"),
    ({"gpus": 1}, "gpus", "unknown quota key"),
])
def test_bad_values_are_field_errors_and_change_nothing(project, values, field, message):
    with pytest.raises(QuotaValueError) as err:
        set_limits(project, {"vms": 3, **values}, user=None, source=ChangeSource.API)
    assert message in err.value.errors[field] and list(err.value.errors) == [field]
    assert not Quota.objects.exists() and not QuotaAudit.objects.exists()


def test_a_limit_below_usage_is_allowed_and_shows_what_is_over(fake_account, world, project):
    world.put(vm("v1"))
    world.put(vm("v2"))
    collector.refresh(fake_account)
    set_limits(project, {"vms": 1}, user=None, source=ChangeSource.PORTAL)
    usage = project_usage(project)["vms"]
    assert usage.over and usage.over_by == 1


def test_set_defaults_is_audited_without_a_project(admin_user):
    [audit] = set_defaults({"vms": 10}, user=admin_user, source=ChangeSource.ADMIN)
    assert (audit.project, audit.key, audit.old, audit.new) == (None, "vms", None, 10)
    set_defaults({"vms": 12}, user=admin_user, source=ChangeSource.ADMIN)
    assert QuotaDefault.objects.get().limit == 12 and QuotaAudit.objects.count() == 2


def test_admin_edits_a_limit_on_the_project_page_and_it_is_audited(admin_client, admin_user, project):
    set_limits(project, {"vcpus": 20}, user=None, source=ChangeSource.CLI)
    quota = Quota.objects.get()
    url = reverse("admin:metering_project_change", args=[project.pk])
    page = admin_client.get(url)
    assert page.status_code == 200 and "0 used of 20 (0.0%)" in page.content.decode()
    data = {**management_forms(page.content.decode()),
            "slug": "alpha", "name": "Alpha", "description": "", "parent": "", "cost_centre": "",
            "billing_mode": "billed", "breach_policy": "alert", "breach_webhook": "",
            "quotas-TOTAL_FORMS": "2", "quotas-INITIAL_FORMS": "1",
            "quotas-0-id": str(quota.pk), "quotas-0-project": str(project.pk), "quotas-0-key": "vcpus",
            "quotas-0-account": "", "quotas-0-limit": "8",
            "quotas-1-id": "", "quotas-1-project": str(project.pk), "quotas-1-key": "vms",
            "quotas-1-account": "", "quotas-1-limit": "3"}
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert dict(Quota.objects.values_list("key", "limit")) == {"vcpus": 8, "vms": 3}
    admin_audits = QuotaAudit.objects.filter(source=ChangeSource.ADMIN, changed_by=admin_user)
    assert {(a.key, a.old, a.new) for a in admin_audits} == {("vcpus", 20, 8), ("vms", None, 3)}
    # a bad value is a field error on the page, and nothing is written
    response = admin_client.post(url, {**data, "quotas-1-id": str(Quota.objects.get(key="vms").pk),
                                       "quotas-INITIAL_FORMS": "2", "quotas-0-limit": "-5"})
    assert response.status_code == 200 and "greater than or equal to -1" in response.content.decode()
    assert Quota.objects.get(key="vcpus").limit == 8


def test_admin_bulk_action_applies_a_limit_to_many_projects(admin_client, project):
    from metering.models import Project

    beta = Project.objects.create(slug="beta", name="Beta")
    response = admin_client.post(reverse("admin:metering_project_changelist"), {
        "action": "apply_limit", "_selected_action": [project.pk, beta.pk], "key": "vcpus", "limit": "16",
        "account": ""}, follow=True)
    assert "Set vcpus = 16 on 2 project(s), 2 changed" in response.content.decode()
    assert sorted(Quota.objects.filter(key="vcpus", limit=16).values_list("project__slug", flat=True)) == [
        "alpha", "beta"]
    assert QuotaAudit.objects.filter(source=ChangeSource.ADMIN).count() == 2
    listing = admin_client.get(reverse("admin:metering_project_changelist")).content.decode()
    assert "0.0% vcpus" in listing


def test_admin_defaults_and_read_only_audit(admin_client, admin_user):
    response = admin_client.post(reverse("admin:metering_quotadefault_add"), {"key": "vms", "limit": "4"})
    assert response.status_code == 302 and QuotaDefault.objects.get().limit == 4
    audit = QuotaAudit.objects.get()
    assert (audit.source, audit.changed_by, audit.new) == ("admin", admin_user, 4)
    assert admin_client.get(reverse("admin:metering_quotaaudit_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:metering_quotaaudit_add")).status_code == 403


def test_provider_admin_validates_settings_through_the_driver_and_never_shows_credentials(admin_client, world,
                                                                                         request):
    add = reverse("admin:providers_provideraccount_add")
    base = {"name": "lab", "kind": "fake", "refresh_interval": "300", "enabled": "on"}
    response = admin_client.post(add, {**base, "settings": '{"colour": "red"}', "credentials": ""})
    body = response.content.decode()
    assert response.status_code == 200 and "world: is required" in body and "colour: unknown setting" in body
    settings = json.dumps({"world": request.node.name})
    response = admin_client.post(add, {**base, "settings": settings, "credentials": '{"token": "s3cret"}'})
    assert response.status_code == 302
    account = ProviderAccount.objects.get(name="lab")
    assert account.credentials == {"token": "s3cret"}
    change = reverse("admin:providers_provideraccount_change", args=[account.pk])
    assert "s3cret" not in admin_client.get(change).content.decode()
    response = admin_client.post(change, {**base, "settings": settings, "credentials": ""})  # empty keeps
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.credentials == {"token": "s3cret"}
