"""Celery tasks: the refresh of one account, the dispatcher beat calls, rollups and pruning."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from metering import collector, rollups
from metering.choices import RunStatus
from metering.models import RefreshRun
from providers.base import ProviderUnavailable
from providers.models import ProviderAccount

log = logging.getLogger(__name__)


@shared_task(
    name="metering.refresh_account",
    bind=True,
    autoretry_for=(ProviderUnavailable,),
    retry_backoff=30,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=5,
)
def refresh_account(self, account_id: int, run_id: int | None = None, trigger: str = "schedule") -> dict:
    """Refresh one account; retried with exponential backoff while the provider is unavailable."""
    account = ProviderAccount.objects.get(pk=account_id)
    run = RefreshRun.objects.filter(pk=run_id).first() if run_id else None
    if run is not None and run.status in (RunStatus.OK, RunStatus.PARTIAL, RunStatus.SKIPPED):
        # a redelivery of a task whose run already finished: start a fresh run (the ledger
        # ignores observations it already has). A run left "running" by a killed worker is
        # taken over: its lease is this run's.
        run = None
    if run is not None and self.request.id:
        run.task_id = self.request.id
    run = collector.refresh(account, run=run, trigger=trigger)
    return {"run": run.pk, "status": run.status, **run.counts}


#: how long the web may wait before answering 503 when the broker is down (the Retry-After header)
RETRY_AFTER = 30


def enqueue_refresh(account: ProviderAccount, trigger: str = "manual") -> RefreshRun:
    """Queue a refresh. With the broker unreachable the run ends ``failed`` at once (it never holds
    back a later refresh) and ``BrokerError`` is raised within ``GLASSPANE_BROKER_TIMEOUT`` or so."""
    run = RefreshRun.objects.create(account=account, trigger=trigger)
    try:
        # no result subscription: the run record is the result, and a dead result store must not block
        result = refresh_account.apply_async((account.pk, run.pk, trigger), ignore_result=True)
    except BrokerError as exc:
        RefreshRun.objects.filter(pk=run.pk).update(
            status=RunStatus.FAILED, finished_at=timezone.now(),
            error=f"not started: the task queue could not be reached ({exc})")
        raise
    RefreshRun.objects.filter(pk=run.pk).update(task_id=result.id or "")
    return run


@shared_task(name="metering.dispatch_refreshes")
def dispatch_refreshes() -> list[int]:
    """Enqueue a refresh for every enabled account whose interval has passed and that has no
    refresh queued or running (beat calls this every ``GLASSPANE_SCHEDULER_TICK`` seconds)."""
    now = timezone.now()
    busy_since = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    busy = set(
        RefreshRun.objects.filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING], queued_at__gte=busy_since)
        .values_list("account_id", flat=True)
    )
    queued = []
    for account in ProviderAccount.objects.filter(enabled=True).exclude(pk__in=busy):
        last = account.last_refresh_started
        if last is None or last + timedelta(seconds=account.refresh_interval) <= now:
            enqueue_refresh(account, trigger="schedule")
            queued.append(account.pk)
    return queued


@shared_task(name="metering.reap_runs")
def reap_runs() -> int:
    """End refresh runs nobody will finish (beat, every minute), so they never hold an account back.

    A run still ``queued`` after ``GLASSPANE_RUN_QUEUE_TIMEOUT`` seconds lost its message; one still
    ``running`` after the task's hard time limit (+60 s) lost its worker (no task can run longer).
    Each ends ``failed`` with ``abandoned: ...``, its lease on the account is released, and an
    audit line is logged. A worker killed mid-run is usually sooner: its task is redelivered and
    takes the run (and the lease) over.
    """
    now = timezone.now()
    queued_before = now - timedelta(seconds=settings.GLASSPANE_RUN_QUEUE_TIMEOUT)
    running_before = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    reaped = 0
    stale = (RefreshRun.objects.filter(status=RunStatus.QUEUED, queued_at__lt=queued_before)
             | RefreshRun.objects.filter(status=RunStatus.RUNNING, started_at__lt=running_before))
    for run in stale.select_related("account"):
        why = ("never started: its task was lost" if run.status == RunStatus.QUEUED
               else "its worker was lost or killed past the time limit")
        if not RefreshRun.objects.filter(pk=run.pk, status=run.status).update(
                status=RunStatus.FAILED, finished_at=now, error=f"abandoned: {why}"):
            continue  # it finished meanwhile
        collector.release_lease(run.account, f"run:{run.pk}")
        log.warning("audit: reaped refresh run %s of %s (%s); lease released", run.pk, run.account.name, why)
        reaped += 1
    return reaped


@shared_task(name="metering.rollup_utilization")
def rollup_utilization() -> int:
    now = timezone.now()
    return rollups.rollup_hours(now - timedelta(hours=2), now)


@shared_task(name="metering.prune_samples")
def prune_samples() -> int:
    return rollups.prune_samples()


__all__ = ["dispatch_refreshes", "enqueue_refresh", "prune_samples", "reap_runs", "refresh_account",
           "rollup_utilization"]
