"""Providers (staff): health and last run, refresh now with a status endpoint, add/edit forms that
validate through the driver and never show stored credentials."""

import pytest

from metering.models import RefreshRun
from providers.models import ProviderAccount

pytestmark = pytest.mark.django_db


def test_list_shows_health_last_run_and_counts(as_user, dashboard):
    content = as_user("staff").get("/providers/").content.decode()
    assert "fake1" in content and "Healthy" in content and "Refresh now" in content
    assert "unchanged" in content and "6 resources" in content


def test_failed_refresh_is_explained_in_words(as_user, dashboard):
    from metering import collector
    from providers.base import ProviderAuthError

    dashboard["world"].fail = ProviderAuthError("credentials refused by fake: check the token")
    collector.refresh(dashboard["account"])
    content = as_user("staff").get("/providers/").content.decode()
    assert "Unhealthy" in content and "check the token" in content


def test_refresh_now_enqueues_and_status_reports_until_done(as_user, dashboard, eager_tasks):
    client = as_user("staff")
    account = dashboard["account"]
    response = client.post(f"/providers/{account.pk}/refresh/")
    assert response.status_code == 302 and response["Location"].endswith(f"#account-{account.pk}")
    run = RefreshRun.objects.filter(trigger="web").get()
    status = client.get(f"/providers/runs/{run.pk}/").json()
    assert status["done"] is True and status["account"] == "fake1" and status["status"] in ("ok", "partial")


def test_a_queued_run_is_followed_by_the_page(as_user, dashboard):
    run = RefreshRun.objects.create(account=dashboard["account"], trigger="web")
    client = as_user("staff")
    assert f'data-run-url="/providers/runs/{run.pk}/"'.encode() in client.get("/providers/").content
    assert client.get(f"/providers/runs/{run.pk}/").json() == {
        "id": run.pk, "account": "fake1", "status": "queued", "label": "Queued", "done": False,
        "duration": None, "counts": run.counts, "error": "",
        "phrase": f"Queued since {run.queued_at:%H:%M}"}


def test_add_validates_through_the_driver_with_field_errors(as_user, dashboard):
    client = as_user("staff")
    assert b"Fake (tests)" in client.get("/providers/add/").content
    page = client.post("/providers/add/?kind=fake", {"kind": "fake", "name": "Bad Name", "refresh_interval": "5"})
    assert page.status_code == 200
    form = page.context["form"]
    assert "setting_world" in form.errors and "is required" in form.errors["setting_world"][0]
    assert "name" in form.errors and "refresh_interval" in form.errors
    assert client.get("/providers/add/?kind=nope").status_code == 404


def test_add_then_edit_never_shows_the_stored_credential(as_user, dashboard):
    client = as_user("staff")
    response = client.post("/providers/add/?kind=fake", {
        "kind": "fake", "name": "fake2", "refresh_interval": "60", "enabled": "on",
        "setting_world": "elsewhere", "credential_token": "top-secret-token"})
    assert response.status_code == 302
    account = ProviderAccount.objects.get(name="fake2")
    assert account.settings == {"world": "elsewhere"} and account.credentials == {"token": "top-secret-token"}
    edit = client.get(f"/providers/{account.pk}/edit/")
    assert b"top-secret-token" not in edit.content and b"Stored; leave empty to keep it." in edit.content
    client.post(f"/providers/{account.pk}/edit/", {
        "kind": "fake", "name": "fake2", "refresh_interval": "120", "setting_world": "elsewhere",
        "credential_token": ""})
    account.refresh_from_db()
    assert account.refresh_interval == 120 and not account.enabled
    assert account.credentials == {"token": "top-secret-token"}


def test_duplicate_name_is_a_field_error(as_user, dashboard):
    page = as_user("staff").post("/providers/add/?kind=fake", {
        "kind": "fake", "name": "fake1", "refresh_interval": "60", "setting_world": "w"})
    assert "already exists" in page.context["form"].errors["name"][0]
