"""A push-down the provider refuses or cannot take is visible and retried: the audit row records
it (what, where, the provider's words), the drift view says "not applied" until a later push
succeeds, the ``quota`` command exits 2 with the provider's message, and retries back off."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from metering import collector
from metering.choices import ChangeSource
from metering.models import ExternalProject, QuotaAudit, QuotaPush
from metering.quotas import drift, pushdown, set_limits
from providers.base import ObservedProject, ProviderDataError, ProviderUnavailable
from tests.conftest import vm

pytestmark = pytest.mark.django_db

REFUSAL = "OpenStack refused to update compute quotas (400): Invalid input for field/attribute cores."


@pytest.fixture
def mapped(fake_account, world, project):
    world.projects = [ObservedProject("kp-1", "alpha-tenant")]
    world.put(vm("v1", vcpus="2", ram_mb=2048, project="kp-1"))
    collector.refresh(fake_account)
    ExternalProject.objects.filter(external_id="kp-1").update(project=project)
    return ExternalProject.objects.get(external_id="kp-1")


def row(project, key):
    return next(d for d in drift(project) if d.key == key)


def test_a_refused_push_is_audited_and_not_applied_until_a_later_push_succeeds(mapped, world, project, eager,
                                                                              django_capture_on_commit_callbacks):
    world.quota_failures = [ProviderDataError(REFUSAL)]
    with django_capture_on_commit_callbacks(execute=True):
        set_limits(project, {"vcpus": 16}, user=None, source=ChangeSource.PORTAL)
    assert world.quota_calls == 1  # a refusal is not retried at once by the task
    failed = QuotaAudit.objects.get(source=ChangeSource.PUSH)
    assert (failed.project, failed.account, failed.external_id, failed.key) == (project, mapped.account, "kp-1", "vcpus")
    assert (failed.new, failed.outcome, failed.message) == (16, "failed", REFUSAL)
    vcpus = row(project, "vcpus")
    assert vcpus.applied is False and vcpus.push_message == REFUSAL and vcpus.pushed_at is not None
    assert vcpus.next_retry_at > timezone.now() and vcpus.as_dict()["push"]["status"] == "not applied"
    assert row(project, "vms").applied is None  # never pushed: nothing to say

    results = pushdown.push(project)  # the cloud accepts it now
    assert [r.ok for r in results] == [True] and world.quotas["kp-1"] == {"vcpus": 16}
    vcpus = row(project, "vcpus")
    assert vcpus.applied is True and vcpus.push_message == "" and vcpus.next_retry_at is None
    assert vcpus.provider_limit == 16 and not vcpus.limit_differs  # what the push left on the provider
    applied = QuotaAudit.objects.filter(source=ChangeSource.PUSH).first()
    assert (applied.outcome, applied.new, applied.message) == ("applied", 16, "")
    pushdown.push(project)  # the same value again changes nothing on either side: no new audit row
    assert QuotaAudit.objects.filter(source=ChangeSource.PUSH).count() == 2


def test_refusals_are_retried_on_a_doubling_schedule_then_left_for_a_new_save(mapped, world, project, settings):
    settings.GLASSPANE_PUSH_RETRY_BASE, settings.GLASSPANE_PUSH_RETRY_MAX = 600, 1800
    settings.GLASSPANE_PUSH_ATTEMPTS = 4
    set_limits(project, {"vcpus": 16}, user=None, source=ChangeSource.CLI, push=False)
    world.quota_failures = [ProviderDataError(REFUSAL) for _ in range(10)]
    gaps = []
    for _ in range(4):
        before = timezone.now()
        pushdown.push(project)
        state = QuotaPush.objects.get()
        gaps.append(None if state.next_retry_at is None else round((state.next_retry_at - before).total_seconds(), -1))
    assert gaps == [600, 1200, 1800, None]  # doubling, capped, and given up after 4 attempts
    assert state.failures == 4 and "gave up after 4 attempts" in row(project, "vcpus").as_dict()["push"]["retry"]
    # one audit row for the refusal, not one per identical attempt
    assert QuotaAudit.objects.filter(source=ChangeSource.PUSH, outcome="failed").count() == 1
    set_limits(project, {"vcpus": 12}, user=None, source=ChangeSource.CLI, push=False)
    pushdown.push(project)  # a new value starts a new series
    assert QuotaPush.objects.get().failures == 1 and QuotaPush.objects.get().next_retry_at is not None


def test_the_beat_queues_due_retries_only(mapped, world, project, eager):
    set_limits(project, {"vcpus": 16, "vms": 3}, user=None, source=ChangeSource.CLI, push=False)
    world.quota_failures = [ProviderDataError(REFUSAL)]
    pushdown.push(project)
    assert pushdown.retry_due() == 0  # not due yet
    assert world.quota_calls == 1
    QuotaPush.objects.update(next_retry_at=timezone.now() - timedelta(seconds=1))
    assert pushdown.retry_due() == 1  # one project queued (both keys in one push)
    assert world.quota_calls == 2 and row(project, "vcpus").applied is True and row(project, "vms").applied is True
    assert pushdown.retry_due() == 0


def test_an_unreachable_provider_is_retried_by_the_task_with_capped_exponential_backoff(mapped, world, project):
    from metering.tasks import push_quotas

    assert [pushdown.task_backoff(n) for n in range(7)] == [30, 60, 120, 240, 480, 900, 900]
    world.quota_failures = [ProviderUnavailable("cannot reach OpenStack: connection refused")] * 3
    set_limits(project, {"vcpus": 16}, user=None, source=ChangeSource.CLI, push=False)
    push_quotas.apply((project.pk,), throw=False)  # in-process; each retry runs at once
    assert world.quota_calls == 4 and world.quotas["kp-1"] == {"vcpus": 16}  # three retries, then applied
    assert row(project, "vcpus").applied is True
    outcomes = list(QuotaAudit.objects.filter(source=ChangeSource.PUSH).values_list("outcome", flat=True))
    assert outcomes == ["applied", "failed"]  # newest first; repeats of the same failure are not rows


def test_after_the_tasks_last_retry_the_schedule_takes_over(mapped, world, project):
    from metering.tasks import push_quotas

    world.quota_failures = [ProviderUnavailable("cannot reach OpenStack: connection refused")] * 20
    set_limits(project, {"vcpus": 16}, user=None, source=ChangeSource.CLI, push=False)
    push_quotas.apply((project.pk,), throw=False)  # in-process; each retry runs at once
    assert world.quota_calls == push_quotas.max_retries + 1
    state = QuotaPush.objects.get()
    assert not state.applied and not state.task_retry and state.next_retry_at > timezone.now()


def test_a_push_for_a_key_no_longer_set_is_forgotten(mapped, world, project):
    set_limits(project, {"vcpus": 16}, user=None, source=ChangeSource.CLI, push=False)
    world.quota_failures = [ProviderDataError(REFUSAL)]
    pushdown.push(project)
    set_limits(project, {"vcpus": None, "vms": 2}, user=None, source=ChangeSource.CLI, push=False)
    pushdown.push(project)
    assert list(QuotaPush.objects.values_list("key", "applied")) == [("vms", True)]
    assert row(project, "vcpus").applied is None


def run(*args) -> str:
    out = StringIO()
    call_command("quota", *args, stdout=out)
    return out.getvalue()


def test_quota_set_exits_2_with_the_providers_message_when_the_push_is_refused(mapped, world, project):
    world.quota_failures = [ProviderDataError(REFUSAL)]
    with pytest.raises(CommandError) as refused:
        run("set", "alpha", "vcpus=16")
    message = str(refused.value)
    assert refused.value.returncode == 2 and "\n" not in message
    assert "vcpus=16" in message and f"{mapped.account.name}/kp-1" in message and REFUSAL in message
    assert "next retry" in message
    assert project.quotas.get(key="vcpus").limit == 16  # saved in Glasspane all the same
    out = run("push", "alpha")  # accepted now
    assert f"pushed to {mapped.account.name}/kp-1: vcpus=16" in out
    assert row(project, "vcpus").applied is True


def test_quota_push_of_an_unmapped_project_says_so(project):
    assert "not mapped" in run("push", "alpha")


def test_the_drift_api_shows_not_applied_with_the_message(mapped, world, project, django_user_model):
    from rest_framework.test import APIClient

    set_limits(project, {"vcpus": 16}, user=None, source=ChangeSource.CLI, push=False)
    world.quota_failures = [ProviderDataError(REFUSAL)]
    pushdown.push(project)
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user("boss", is_staff=True))
    response = client.get("/api/v1/projects/alpha/quota-drift/")
    assert response.status_code == 200, response.content
    body = response.json()
    vcpus = next(r for r in body["rows"] if r["key"] == "vcpus")
    assert vcpus["limit"] == 16 and vcpus["push"]["status"] == "not applied"
    assert vcpus["push"]["message"] == REFUSAL and vcpus["push"]["next_retry_at"]
    assert json.dumps(body)  # plain JSON


def test_the_beat_runs_the_retry_scan_every_minute_through_the_task(mapped, world, project, eager):
    from metering.tasks import retry_quota_pushes
    from portal.celery import app

    assert app.conf.beat_schedule["retry-quota-pushes"] == {"task": "metering.retry_quota_pushes", "schedule": 60.0}
    set_limits(project, {"vcpus": 16}, user=None, source=ChangeSource.CLI, push=False)
    world.quota_failures = [ProviderDataError(REFUSAL)]
    pushdown.push(project)
    QuotaPush.objects.update(next_retry_at=timezone.now() - timedelta(seconds=1))
    assert retry_quota_pushes.delay().get() == 1 and row(project, "vcpus").applied is True


def test_a_task_retry_that_never_came_is_taken_over_by_the_beat(mapped, world, project):
    set_limits(project, {"vcpus": 16}, user=None, source=ChangeSource.CLI, push=False)
    world.quota_failures = [ProviderUnavailable("cannot reach OpenStack")]
    pushdown.push(project, task_retry_in=30)  # as the task does before it schedules its retry
    state = QuotaPush.objects.get()
    assert state.task_retry and pushdown.due_projects(state.next_retry_at + timedelta(seconds=1)) == []
    assert pushdown.due_projects(state.next_retry_at + pushdown.TASK_RETRY_GRACE) == [project.pk]
