"""Celery tasks: the refresh of one account, the dispatcher beat calls, rollups and pruning."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from metering import collector, rollups
from metering.choices import RunStatus
from metering.models import RefreshRun
from providers.base import ProviderUnavailable
from providers.models import ProviderAccount


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


def enqueue_refresh(account: ProviderAccount, trigger: str = "manual") -> RefreshRun:
    run = RefreshRun.objects.create(account=account, trigger=trigger)
    result = refresh_account.delay(account.pk, run.pk, trigger)
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


@shared_task(name="metering.rollup_utilization")
def rollup_utilization() -> int:
    now = timezone.now()
    return rollups.rollup_hours(now - timedelta(hours=2), now)


@shared_task(name="metering.prune_samples")
def prune_samples() -> int:
    return rollups.prune_samples()


__all__ = ["dispatch_refreshes", "enqueue_refresh", "prune_samples", "refresh_account", "rollup_utilization"]
