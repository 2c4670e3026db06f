"""Refresh, quotas and usage on the real control plane (Keystone, Nova with the fake driver,
Placement, Glance; no Cinder): the collector against Nova's own os-simple-tenant-usage."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError

from metering import collector
from metering.choices import AccountHealth as Health
from metering.choices import ChangeSource, Measure, PushOutcome, RunStatus
from metering.models import CollectionState, Project, QuotaAudit, Resource
from metering.quotas import drift, pushdown
from metering.reports import usage_report
from providers.base import State
from providers.openstack.driver import NO_VOLUMES
from providers.openstack.mapping import parse_time
from tests.providers.openstack.real.conftest import add_account, run

pytestmark = [pytest.mark.real_openstack, pytest.mark.integration, pytest.mark.django_db]

TOLERANCE = Decimal("0.001")  # 0.1 %


def nova_times(tenant, server_id):
    """Nova's launched_at and terminated_at of a server, deleted or not (changes-since shows both)."""
    records = tenant.admin.compute.get(
        f"/servers/detail?all_tenants=1&tenant_id={tenant.id}&changes-since=2000-01-01T00:00:00Z",
        microversion="2.1").json()["servers"]
    record = next(r for r in records if r["id"] == server_id)
    return (parse_time(record["OS-SRV-USG:launched_at"], "launched_at"),
            parse_time(record.get("OS-SRV-USG:terminated_at"), "terminated_at"))


def ours(project: Project, start, end) -> dict[str, Decimal]:
    totals = usage_report(start, end, project=project).totals
    return {"vcpu": totals[Measure.VCPU_HOURS], "ram_mb": totals[Measure.RAM_GB_HOURS] * 1024,
            "disk": totals[Measure.DISK_GB_HOURS]}


def novas(account, tenant_id, start, end) -> dict[str, Decimal]:
    with account.driver() as driver:
        totals = driver.usage_report(tenant_id, start, end)
    return {"vcpu": totals.vcpu_hours, "ram_mb": totals.ram_mb_hours, "disk": totals.disk_gb_hours}


def agreement(a: dict, b: dict) -> dict[str, Decimal]:
    return {k: abs(a[k] - b[k]) / b[k] for k in a}


def test_refresh_without_a_volume_service_collects_the_rest_and_says_so_once(tenant):
    t = tenant("novol")
    server = t.boot("novol-1")
    account = add_account()
    out = run("refresh", "--provider", "real", "--wait")
    assert "real: ok" in out, out
    assert out.count(NO_VOLUMES) == 1, out
    state = CollectionState.objects.get(account=account)
    assert state.health == Health.OK and NO_VOLUMES in state.health_message
    run_row = account.runs.first()
    assert run_row.status == RunStatus.OK and run_row.skipped == [NO_VOLUMES] and not run_row.issues
    row = Resource.objects.get(account=account, external_id=server.id)
    assert (row.vcpus, row.ram_mb, row.disk_gb) == (Decimal(1), 512, Decimal(1))
    assert not Resource.objects.filter(account=account, kind="volume").exists()


def test_quota_pushdown_writes_only_the_keys_set_in_glasspane(tenant):
    t = tenant("quota")
    t.admin.set_compute_quotas(t.id, instances=7, ram=12345)  # the operator's own limits on the cloud
    account = add_account()
    collector.refresh(account)
    project = Project.objects.get(external__account=account, external__external_id=t.id)
    out = run("quota", "set", project.slug, "vcpus=9", "volumes=4")  # pushes at once
    assert f"pushed to real/{t.id}: vcpus=9" in out, out
    applied = {r.target: r.applied for r in pushdown.push(project)}
    quota = t.admin.get_compute_quotas(t.id)
    assert (quota.cores, quota.instances, quota.ram) == (9, 7, 12345)
    assert applied[f"real/{t.id}"] == {"vms": 7, "vcpus": 9, "ram_mb": 12345}  # no volume service: no volume keys
    rows = {d.key: d for d in drift(project)}
    assert rows["vcpus"].applied is True and rows["volumes"].applied is None  # volumes: skipped, not "applied"


def test_a_push_nova_refuses_exits_2_is_audited_and_not_applied_until_a_push_succeeds(tenant):
    t = tenant("refused")
    t.admin.set_compute_quotas(t.id, instances=7)
    account = add_account()
    collector.refresh(account)
    project = Project.objects.get(external__account=account, external__external_id=t.id)
    # Glasspane holds limits up to 2**62; Nova's quota schema stops at 2**31 - 1 and answers 400
    with pytest.raises(CommandError) as refused:
        run("quota", "set", project.slug, "vms=3000000000")
    message = str(refused.value)
    nova_says = "Invalid input for field/attribute instances. Value: 3000000000. 3000000000 is greater than the maximum"
    assert refused.value.returncode == 2 and "\n" not in message and nova_says in message, message
    assert f"not applied on real/{t.id}" in message and "next retry" in message
    assert t.admin.get_compute_quotas(t.id).instances == 7  # the cloud keeps its own limit
    audit = QuotaAudit.objects.get(source=ChangeSource.PUSH, project=project)
    assert (audit.account, audit.external_id, audit.key, audit.old, audit.new, audit.outcome) == (
        account, t.id, "vms", 7, 3000000000, PushOutcome.FAILED)
    assert nova_says in audit.message and "(400)" in audit.message
    vms = next(d for d in drift(project) if d.key == "vms")
    assert vms.not_applied and nova_says in vms.push_message and vms.next_retry_at > vms.pushed_at
    assert vms.provider_limit == 7 and vms.limit_differs
    collector.refresh(account)  # a refresh alone does not make it applied
    assert next(d for d in drift(project) if d.key == "vms").not_applied

    out = run("quota", "set", project.slug, "vms=5")
    assert f"pushed to real/{t.id}: vms=5" in out, out
    assert t.admin.get_compute_quotas(t.id).instances == 5
    vms = next(d for d in drift(project) if d.key == "vms")
    assert vms.applied is True and vms.push_message == "" and vms.next_retry_at is None and not vms.limit_differs
    assert QuotaAudit.objects.filter(source=ChangeSource.PUSH, project=project).first().outcome == PushOutcome.APPLIED


def test_first_refresh_dates_servers_by_nova_and_records_those_deleted_before(tenant):
    t = tenant("first")
    running, gone = t.boot_many(("first-running", "m1.tiny"), ("first-gone", "m1.small"))
    t.delete(gone)
    time.sleep(3)
    account = add_account()
    collector.refresh(account)
    launched, _ = nova_times(t, running.id)
    segments = Resource.objects.get(account=account, external_id=running.id).segments.order_by("start")
    assert segments[0].start == launched  # not our first observation
    launched_gone, terminated_gone = nova_times(t, gone.id)
    row = Resource.objects.get(account=account, external_id=gone.id)
    assert row.state == State.DELETED and row.deleted_at == terminated_gone
    assert [(s.start, s.end, s.vcpus, s.ram_mb) for s in row.segments.all()] == [
        (launched_gone, terminated_gone, Decimal(1), 2048)]


def test_our_hours_equal_novas_for_servers_before_between_and_after_refreshes(tenant):
    t = tenant("agree")
    a, b, c = t.boot_many(("agree-a", "m1.tiny"), ("agree-b", "m1.small"), ("agree-c", "m1.medium"))
    t.delete(c)  # deleted before the first refresh
    time.sleep(5)
    account = add_account()
    start = collector.refresh(account).observed_at - timedelta(hours=1)
    d, e = t.boot_many(("agree-d", "m1.tiny"), ("agree-e", "m1.small"))
    t.delete(b)  # deleted between refreshes
    t.delete(e)  # created and deleted between refreshes
    time.sleep(3)
    collector.refresh(account)
    time.sleep(5)
    end = collector.refresh(account).observed_at
    project = Project.objects.get(external__account=account, external__external_id=t.id)
    mine, theirs = ours(project, start, end), novas(account, t.id, start, end)
    diff = agreement(mine, theirs)
    print(f"\nagreement (never resized): ours {mine} nova {theirs} relative difference {diff}")
    assert all(d <= TOLERANCE for d in diff.values()), (mine, theirs)
    assert set(Resource.objects.filter(account=account, project=project).values_list("external_id", flat=True)) \
        == {a.id, b.id, c.id, d.id, e.id}


def test_a_resized_server_is_billed_per_flavor_and_differs_from_nova_by_the_old_flavor(tenant):
    t = tenant("resize")
    server = t.boot("resize-me")
    account = add_account()
    start = collector.refresh(account).observed_at - timedelta(hours=1)
    launched_old, _ = nova_times(t, server.id)
    time.sleep(5)
    t.conn.compute.resize_server(server, t.admin.compute.find_flavor("m1.small").id)
    t.conn.compute.wait_for_server(server, status="VERIFY_RESIZE", wait=120)
    t.conn.compute.confirm_server_resize(server)
    t.conn.compute.wait_for_server(server, status="ACTIVE", wait=120)
    launched_new, _ = nova_times(t, server.id)
    time.sleep(2)
    collector.refresh(account)
    time.sleep(3)
    end = collector.refresh(account).observed_at
    project = Project.objects.get(external__account=account, external__external_id=t.id)
    mine, theirs = ours(project, start, end), novas(account, t.id, start, end)
    old_hours = Decimal((launched_new - launched_old).total_seconds()) / 3600
    tiny = {"vcpu": Decimal(1), "ram_mb": Decimal(512), "disk": Decimal(1)}
    small = {"vcpu": Decimal(1), "ram_mb": Decimal(2048), "disk": Decimal(20)}
    new_hours = Decimal((end - launched_new).total_seconds()) / 3600
    print(f"\nresize: ours {mine} nova {theirs}; {old_hours * 3600:.0f}s at m1.tiny")
    for key in mine:
        expected = tiny[key] * old_hours + small[key] * new_hours  # time-weighted
        assert abs(mine[key] - expected) <= expected * TOLERANCE, (key, mine[key], expected)
        assert abs((mine[key] - theirs[key]) - tiny[key] * old_hours) <= expected * TOLERANCE, key
