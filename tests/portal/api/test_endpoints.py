"""What the endpoints do, beyond who may call them: strict input, usage and CSV, inventory
filters and cursor paging, providers' write-only credentials, refresh runs, quotas (audited),
admission (403 with the quota's message), statements, /metrics and the schema and docs pages."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.staticfiles import finders
from django.test import override_settings

from metering.choices import ChangeSource, RunStatus
from metering.models import (
    CollectionState,
    ProvisionRequest,
    Quota,
    QuotaAudit,
    QuotaDefault,
    RefreshRun,
    Resource,
)
from providers.models import ProviderAccount
from tests.conftest import T0

pytestmark = pytest.mark.django_db

USAGE = "/api/v1/projects/alpha/usage/"


# -- strict input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("query,field,message", [
    ("?projet=alpha", "projet", "unknown query parameter"),
    ("?kind=vm&kind=container", "kind", "given more than once"),
    ("?kind=", "kind", "empty"),
    ("?kind=mainframe", "kind", "Select a valid choice"),
    ("?format=xml", "format", "unknown format"),
    ("?label=env", "label", "expected key=value"),
    ("?include_deleted=maybe", "include_deleted", "expected true or false"),
    ("?project=bravo", "project", "Select a valid choice"),  # invisible = nonexistent: no leak
    ("?page_size=0", "page_size", "whole number from 1"),
    ("?cursor=garbage", "cursor", "Invalid cursor"),
])
def test_bad_query_parameters_are_400_naming_the_parameter(api_world, query, field, message):
    response = api_world.client("viewer").get("/api/v1/resources/" + query)
    assert response.status_code == 400
    assert message in json.dumps(response.json()[field])


@pytest.mark.parametrize("query,message", [
    ("?start=2026-10-01&end=2028-10-02", "longer than the maximum of 731 days"),
    ("?start=2026-11-02&end=2026-11-01", "must be after start"),
    ("?start=2026-13-01&end=2026-11-01", "Date has wrong format"),
    ("?start=2026-10-01", "This field is required"),
    ("?start=2026-10-01&end=2026-10-02&tz=Mars/Olympus", "unknown timezone"),
])
def test_bad_periods_are_400_with_a_message(api_world, query, message):
    response = api_world.client("member").get(USAGE + query)
    assert response.status_code == 400 and message in json.dumps(response.json())


def test_a_shorter_maximum_period_is_enforced(api_world):
    with override_settings(GLASSPANE_MAX_PERIOD_DAYS=7):
        too_long = api_world.client("member").get(USAGE + "?start=2026-10-01&end=2026-10-09")
        fine = api_world.client("member").get(USAGE + "?start=2026-10-01&end=2026-10-08")
    assert too_long.status_code == 400 and "maximum of 7 days" in too_long.json()["end"][0]
    assert fine.status_code == 200


def test_wrong_json_types_are_400(api_world):
    staff = api_world.client("staff")
    assert staff.patch("/api/v1/projects/alpha/", {"name": 42}, format="json").json() == {"name": ["expected a string"]}
    bad = staff.patch("/api/v1/providers/fake1/", {"enabled": "yes", "refresh_interval": "600"}, format="json")
    assert bad.status_code == 400 and set(bad.json()) == {"enabled", "refresh_interval"}
    assert staff.post("/api/v1/projects/", {"slug": "c", "name": "C", "parent": ""}, format="json").status_code == 400


# -- usage --------------------------------------------------------------------------------------------


def test_usage_json_counts_only_the_projects_resources(api_world):
    data = api_world.client("viewer").get(USAGE + "?start=2026-10-31&end=2026-11-02").json()
    assert data["project"] == "alpha" and [r["name"] for r in data["resources"]] == ["web-a"]
    # one 2-vCPU VM observed for 2 hours (the collector's gap rule marks them estimated)
    assert Decimal(data["totals"]["vcpu_hours"]) == Decimal(4) and Decimal(data["totals"]["instance_hours"]) == 2
    assert data["active"]["vms"] == 1 and data["start"] == "2026-10-31T00:00:00Z"


def test_usage_csv_streams_the_export(api_world):
    response = api_world.client("viewer").get(USAGE + "?start=2026-10-31&end=2026-11-02&format=csv")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="usage-alpha-2026-10-31-2026-11-02.csv"'
    text = b"".join(response.streaming_content).decode()
    assert text.startswith("Usage summary,alpha\r\n") and "web-a" in text and "web-b" not in text


def test_an_error_of_a_csv_request_is_json(api_world):
    response = api_world.client("viewer").get(USAGE + "?start=2026-11-02&end=2026-11-01&format=csv")
    assert response.status_code == 400 and response["Content-Type"] == "application/json"


# -- inventory ----------------------------------------------------------------------------------------


def names(response):
    assert response.status_code == 200, response.content
    return [r["name"] for r in response.json()["results"]]


def test_resource_filters_and_search(api_world):
    staff = api_world.client("staff")
    assert names(staff.get("/api/v1/resources/?label=env=prod")) == ["web-a", "web-b"]
    assert names(staff.get("/api/v1/resources/?project=bravo")) == ["web-b"]
    assert names(staff.get("/api/v1/resources/?q=STRAY")) == ["stray"]
    assert names(staff.get("/api/v1/resources/?q=prod&provider=fake1&kind=vm&state=running")) == ["web-a", "web-b"]
    assert names(staff.get("/api/v1/resources/?ordering=-name")) == ["web-b", "web-a", "stray"]
    Resource.objects.filter(name="web-a").update(deleted_at=api_world.resources["A"].last_seen)
    assert names(staff.get("/api/v1/resources/?project=alpha")) == []
    assert names(staff.get("/api/v1/resources/?project=alpha&include_deleted=true")) == ["web-a"]
    # a deleted resource's own URL still answers
    assert staff.get(f"/api/v1/resources/{api_world.resources['A'].pk}/").status_code == 200


def test_cursor_pages_walk_the_whole_inventory(api_world):
    staff = api_world.client("staff")
    seen, url = [], "/api/v1/resources/?page_size=1"
    while url:
        page = staff.get(url).json()
        seen += [r["name"] for r in page["results"]]
        url = page["next"]
    assert seen == ["stray", "web-a", "web-b"]


def test_a_parent_in_a_hidden_project_is_not_shown(api_world):
    a, b = api_world.resources["A"], api_world.resources["B"]
    Resource.objects.filter(pk=a.pk).update(parent=b)
    assert api_world.client("viewer").get(f"/api/v1/resources/{a.pk}/").json()["parent"] is None
    assert api_world.client("staff").get(f"/api/v1/resources/{a.pk}/").json()["parent"] == b.pk


def test_utilization_lists_the_rollups_in_the_range(api_world):
    rid = api_world.resources["A"].pk
    hours = api_world.client("viewer").get(f"/api/v1/resources/{rid}/utilization/?start=2026-10-31&end=2026-11-02")
    assert [h["cpu_pct_avg"] for h in hours.json()["hours"]] == [50.0]
    empty = api_world.client("viewer").get(f"/api/v1/resources/{rid}/utilization/?start=2026-11-02&end=2026-11-03")
    assert empty.json()["hours"] == []


# -- providers and refresh runs -----------------------------------------------------------------------


def test_credentials_are_write_only_and_kept_when_omitted(api_world):
    staff = api_world.client("staff")
    created = staff.post("/api/v1/providers/", {"name": "p2", "kind": "fake", "settings": {"world": "w2"},
                                                "credentials": {"token": "sup3r-s3cret"}}, format="json")
    assert created.status_code == 201 and created.json()["has_credentials"] is True
    responses = [created, staff.get("/api/v1/providers/p2/"), staff.get("/api/v1/providers/"),
                 staff.patch("/api/v1/providers/p2/", {"refresh_interval": 60}, format="json")]
    assert all("sup3r-s3cret" not in r.content.decode() for r in responses)
    shown = [created.json(), responses[1].json(), *responses[2].json()["results"], responses[3].json()]
    assert all("credentials" not in account and "credentials_encrypted" not in account for account in shown)
    assert ProviderAccount.objects.get(name="p2").credentials == {"token": "sup3r-s3cret"}


def test_settings_are_validated_by_the_driver(api_world):
    response = api_world.client("staff").post(
        "/api/v1/providers/", {"name": "p3", "kind": "fake", "settings": {"wrld": "x"},
                               "credentials": {"tokn": "x"}}, format="json")
    assert response.status_code == 400
    assert response.json() == {"settings": {"wrld": ["unknown setting (known: world)"], "world": ["is required"]},
                               "credentials": {"tokn": ["unknown credential (known: token)"]}}
    unknown_kind = api_world.client("staff").post("/api/v1/providers/", {"name": "p4", "kind": "vmware"},
                                                   format="json")
    assert unknown_kind.status_code == 400 and "kind" in unknown_kind.json()


def test_starting_a_refresh_answers_202_with_the_run_to_poll(api_world, eager_tasks, world):
    world.now = T0 + timedelta(hours=2, minutes=5)
    response = api_world.client("staff").post("/api/v1/refresh-runs/", {"provider": "fake1"}, format="json")
    assert response.status_code == 202
    run = RefreshRun.objects.get(pk=response.json()["id"])
    assert run.trigger == "api" and response["Location"].endswith(f"/api/v1/refresh-runs/{run.pk}/")
    status = api_world.client("staff").get(response["Location"]).json()
    assert (status["status"], status["unchanged"], status["error"]) == (RunStatus.OK, 3, "")
    assert status["provider"] == "fake1" and status["observed_at"] == "2026-11-01T02:05:00Z"


# -- quotas and admission ------------------------------------------------------------------------------


def test_quota_put_and_patch_are_audited_and_put_replaces(api_world):
    staff = api_world.client("staff")
    put = staff.put("/api/v1/projects/alpha/quotas/", {"limits": {"vms": 3, "vcpus": 8}}, format="json")
    assert put.status_code == 200
    glob = put.json()["scopes"][0]
    assert glob["account"] is None and glob["limits"]["vms"] == 3 and glob["effective"]["vms"] == 3
    staff.patch("/api/v1/projects/alpha/quotas/", {"limits": {"ram_mb": 4096}}, format="json")
    staff.put("/api/v1/projects/alpha/quotas/", {"limits": {"vms": 5}}, format="json")
    assert dict(Quota.objects.filter(project=api_world.a).values_list("key", "limit")) == {"vms": 5}
    audits = list(QuotaAudit.objects.filter(project=api_world.a).order_by("id").values_list("key", "old", "new"))
    assert audits == [("vms", None, 3), ("vcpus", None, 8), ("ram_mb", None, 4096), ("vms", 3, 5),
                      ("vcpus", 8, None), ("ram_mb", 4096, None)]
    assert set(QuotaAudit.objects.values_list("source", "changed_by__username")) == {(ChangeSource.API, "staff")}


def test_quota_narrowed_to_a_provider_shows_as_its_own_scope(api_world):
    staff = api_world.client("staff")
    staff.patch("/api/v1/projects/alpha/quotas/", {"provider": "fake1", "limits": {"vms": 1}}, format="json")
    scopes = staff.get("/api/v1/projects/alpha/limits/").json()["scopes"]
    assert [s["account"] for s in scopes] == [None, "fake1"]
    vms = next(q for q in scopes[1]["quotas"] if q["key"] == "vms")
    assert (vms["limit"], Decimal(vms["used"]), vms["over"]) == (1, 1, False)


@pytest.mark.parametrize("body,field", [
    ({"limits": {"vms": -2}}, "vms"),
    ({"limits": {"gpus": 1}}, "gpus"),
    ({"limits": {"vms": "10"}}, "vms"),
    ({"provider": "nope", "limits": {}}, "provider"),
])
def test_bad_quota_values_are_400_naming_the_field(api_world, body, field):
    response = api_world.client("staff").patch("/api/v1/projects/alpha/quotas/", body, format="json")
    assert response.status_code == 400 and field in json.dumps(response.json())
    assert not Quota.objects.exists()


def test_defaults_change_is_audited_without_a_project(api_world):
    response = api_world.client("staff").patch("/api/v1/quota-defaults/", {"vcpus": 100}, format="json")
    assert response.status_code == 200 and response.json()["vcpus"] == 100 and response.json()["vms"] == -1
    assert QuotaDefault.objects.get(key="vcpus").limit == 100
    assert QuotaAudit.objects.get(project=None).new == 100


def test_provisioning_over_quota_is_403_with_the_quota_message(api_world):
    Quota.objects.create(project=api_world.a, key="vcpus", limit=3)  # web-a already uses 2
    member = api_world.client("member")
    body = {"project": "alpha", "provider": "fake1", "name": "big", "kind": "vm", "vcpus": 2, "ram_mb": 512}
    refused = member.post("/api/v1/provision-requests/", body, format="json")
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("Quota exceeded for vcpus") and refused.json()["limit"] == 3
    admitted = member.post("/api/v1/provision-requests/", {**body, "vcpus": "1"}, format="json")
    assert admitted.status_code == 202 and admitted.json()["state"] == "pending"
    assert admitted["Location"] == admitted.json()["url"]
    assert ProvisionRequest.objects.get(pk=admitted.json()["id"]).requested_by == api_world.users["member"]
    # the answer is the request as stored (admission builds it without reading it back)
    assert member.get(admitted["Location"]).json() == admitted.json()


def test_a_bad_provisioning_spec_is_400_naming_the_field(api_world):
    body = {"project": "alpha", "provider": "fake1", "name": "x", "kind": "vm", "vcpus": 1}
    response = api_world.client("member").post("/api/v1/provision-requests/", body, format="json")
    assert response.status_code == 400 and "ram_mb" in response.json()


# -- statements, rate plans ---------------------------------------------------------------------------


def test_statement_detail_and_csv(api_world):
    sid = api_world.statements["A"].pk
    detail = api_world.client("viewer").get(f"/api/v1/statements/{sid}/")
    assert detail.status_code == 200 and detail.json()["project"] == "alpha" and detail.json()["revision"] == 1
    csv = api_world.client("viewer").get(f"/api/v1/statements/{sid}/?format=csv")
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    assert b"".join(csv.streaming_content).decode().startswith("Statement,alpha\r\n")
    assert api_world.client("viewer").get("/api/v1/statements/?format=csv").status_code == 400


def test_rate_plan_with_rates_and_one_default(api_world):
    staff = api_world.client("staff")
    body = {"name": "gold", "currency": "EUR", "is_default": True, "rates": [
        {"measure": "vcpu_hours", "unit_price": "0.02", "effective_from": "2026-01-01T00:00:00Z",
         "tiers": [{"from": "0", "unit_price": "0.02"}, {"from": "100", "unit_price": "0.01"}]}]}
    created = staff.post("/api/v1/rate-plans/", body, format="json")
    assert created.status_code == 201 and created.json()["rates"][0]["unit_price"] == "0.02000000"
    second = staff.post("/api/v1/rate-plans/", {**body, "name": "silver"}, format="json")
    assert second.status_code == 400 and "is_default" in second.json()
    bad_tiers = staff.post("/api/v1/rate-plans/", {"name": "x", "rates": [
        {"measure": "vcpu_hours", "unit_price": 1, "effective_from": "2026-01-01T00:00:00Z",
         "tiers": [{"from": "-1", "unit_price": "1"}]}]}, format="json")
    assert bad_tiers.status_code == 400 and "must not be negative" in json.dumps(bad_tiers.json())


# -- memberships ----------------------------------------------------------------------------------------


def test_project_admin_manages_members_of_their_project_only(api_world):
    admin = api_world.client("admin")
    added = admin.post("/api/v1/memberships/", {"project": "alpha", "user": "newbie", "role": "member"},
                       format="json")
    assert added.status_code == 201
    changed = admin.patch(f"/api/v1/memberships/{added.json()['id']}/", {"role": "admin", "project": "bravo"},
                          format="json")
    assert changed.status_code == 200 and changed.json()["project"] == "alpha" and changed.json()["role"] == "admin"
    dup = admin.post("/api/v1/memberships/", {"project": "alpha", "user": "newbie"}, format="json")
    assert dup.status_code == 400
    listed = {(m["project"], m["user"]) for m in admin.get("/api/v1/memberships/").json()["results"]}
    assert ("alpha", "newbie") in listed and all(p == "alpha" for p, _ in listed)


# -- metrics, schema, docs ------------------------------------------------------------------------------


def test_metrics_are_computed_from_the_database(api_world, client):
    text = client.get("/metrics").content.decode()
    assert 'glasspane_provider_up{account="fake1",kind="fake"} 1.0' in text
    assert 'glasspane_resources{account="fake1",kind="vm",state="running"} 3.0' in text
    assert 'glasspane_refresh_runs_total{account="fake1",status="ok"} 2.0' in text
    assert "glasspane_provider_last_refresh_duration_seconds{account=\"fake1\"}" in text
    assert "glasspane_provider_last_refresh_timestamp_seconds{account=\"fake1\"}" in text
    CollectionState.objects.update(health="unhealthy")
    assert 'glasspane_provider_up{account="fake1",kind="fake"} 0.0' in client.get("/metrics").content.decode()


def test_schema_describes_every_operation_with_its_errors(client):
    schema = client.get("/api/schema/?format=json").json()
    operations = [(path, method, op) for path, item in schema["paths"].items() for method, op in item.items()]
    assert len(operations) >= 40
    for path, method, op in operations:
        assert {"400", "401", "403", "429"} <= set(op["responses"]), (path, method)
        assert ("404" in op["responses"]) == ("{" in path), (path, method)
    assert schema["components"]["securitySchemes"]["tokenAuth"]["scheme"] == "bearer"


def test_docs_page_serves_swagger_ui_from_local_static_files(client):
    page = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower() and "/api/schema/" in page
    for asset in ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"):
        assert finders.find(f"drf_spectacular_sidecar/swagger-ui-dist/{asset}"), asset


def test_unknown_api_paths_are_json_404(api_world):
    response = api_world.client("staff").post("/api/v1/nothing/here/", {}, format="json")
    assert response.status_code == 404 and response.json() == {"detail": "Not found."}


@pytest.mark.parametrize("body", [
    '{"project": "alpha\\u0000", "provider": "fake1", "name": "x", "kind": "vm"}',
    '{"project": "alpha", "provider": "fake1", "name": "x", "kind": "vm", "labels": {"k\\u0000": "v"}}',
    '{"project": "\\ud800", "provider": "fake1", "name": "x", "kind": "vm"}',
])
def test_text_no_database_can_store_is_400(api_world, body):
    response = api_world.client("member").post("/api/v1/provision-requests/", body, content_type="application/json")
    assert response.status_code == 400 and "JSON parse error" in response.json()["detail"]
    nul = api_world.client("member").get("/api/v1/resources/?q=a%00b")
    assert nul.status_code == 400 and "NUL" in nul.json()["q"][0]
