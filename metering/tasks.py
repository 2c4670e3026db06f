"""Celery tasks: the refresh of one account, the dispatcher beat calls, rollups and pruning."""

from __future__ import annotations

from datetime import timedelta

import requests
from celery import shared_task
from django.conf import settings
from django.utils import timezone

from metering import collector, rollups
from metering.choices import RunStatus
from metering.models import BudgetAlert, RefreshRun
from metering.notify.channels import DeliveryError
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


def next_refresh_at(account: ProviderAccount):
    """When the scheduler refreshes ``account`` next (also the retry after a failed run): its
    last start plus its interval; None when it never ran (due now)."""
    last = account.last_refresh_started
    return None if last is None else last + timedelta(seconds=account.refresh_interval)


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
        due = next_refresh_at(account)
        if due is None or due <= now:
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




# -- budget alerts and scheduled reports (metering.notify) -------------------------------------------


@shared_task(name="metering.check_budgets")
def check_budgets() -> int:
    """Fire the budget thresholds every project has crossed this month (each once)."""
    from metering.notify import budgets

    return budgets.evaluate_all()


@shared_task(name="metering.notify_budget_alerts")
def notify_budget_alerts(alert_ids: list[int]) -> dict:
    """Email one project's newly fired alerts to its admins and addresses; queue the webhook."""
    from metering.notify import budgets, channels

    alerts = list(BudgetAlert.objects.filter(pk__in=alert_ids).select_related("project"))
    if not alerts:
        return {}
    project = alerts[0].project
    policy = budgets.policy_of(project)
    to = budgets.recipients(project, policy)
    subject, body = budgets.message(alerts)
    try:
        result = "sent" if channels.send_email(subject, body, to) else "skipped: no recipients"
    except Exception as exc:  # noqa: BLE001 - SMTP errors come in many classes; record, don't lose the alert
        result = f"failed: {type(exc).__name__}: {str(exc)[:200]}"
    for alert in alerts:
        BudgetAlert.objects.filter(pk=alert.pk).update(deliveries={**alert.deliveries, "email": result})
    if policy.webhook_url:
        for alert in alerts:
            budget_webhook.delay(alert.pk)
    return {"email": result, "recipients": len(to)}


@shared_task(
    name="metering.budget_webhook",
    bind=True,
    autoretry_for=(requests.RequestException, DeliveryError),
    retry_backoff=10,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=6,
)
def budget_webhook(self, alert_id: int) -> int:
    """POST one alert, signed, to the project's webhook; retried with backoff, never redirected."""
    from metering.notify import budgets, channels

    alert = BudgetAlert.objects.select_related("project").get(pk=alert_id)
    policy = budgets.policy_of(alert.project)
    try:
        status = channels.post_signed(policy.webhook_url, budgets.payload(alert), policy.webhook_secret,
                                      event="budget.threshold")
    except (requests.RequestException, DeliveryError) as exc:
        final = self.request.retries >= self.max_retries
        note = f"{'failed' if final else 'retrying'}: {exc}"[:300]
        BudgetAlert.objects.filter(pk=alert_id).update(deliveries={**alert.deliveries, "webhook": note})
        raise
    BudgetAlert.objects.filter(pk=alert_id).update(deliveries={**alert.deliveries, "webhook": "sent"})
    return status


@shared_task(name="metering.send_scheduled_reports")
def send_scheduled_reports() -> int:
    """Send every subscribed report whose period has closed and was not sent yet."""
    from metering.notify import reports

    return reports.send_due()
