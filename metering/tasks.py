"""Every Celery task of the metering app, autodiscovered by the Celery app: the refresh of one
account, the dispatcher beat calls, rollups and pruning, resource actions, and the quota service's
provisioning, breach webhooks and actions, and push-down. Each task is a thin shell around a
service; services hand work to a task by name after commit (``metering.handoff``)."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from metering import collector, outbound, rollups
from metering.actions import _fail_pending, run_action
from metering.choices import RequestState, RunStatus
from metering.models import (
    BudgetAlert,
    CollectionState,
    Project,
    ProvisionRequest,
    QuotaBreach,
    RefreshRun,
    Resource,
)
from metering.quotas import breaches, provisioning, pushdown
from metering.quotas.admission import release
from providers.base import ProviderError, ProviderUnavailable
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
    """Record a queued run (``collector.new_run``) and queue its task. With the broker unreachable the
    run ends ``failed`` at once (it never holds back a later refresh) and ``BrokerError`` is raised
    within ``GLASSPANE_BROKER_TIMEOUT`` or so."""
    run = collector.new_run(account, trigger)
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


def next_refresh_at(account: ProviderAccount):
    """When the scheduler refreshes ``account`` next (also the retry after a failed run): its
    last start plus its interval; None when it never ran (due now)."""
    last = CollectionState.of(account).last_refresh_started
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
    for account in ProviderAccount.objects.filter(enabled=True).exclude(pk__in=busy).select_related("collection"):
        due = next_refresh_at(account)
        if due is None or due <= now:
            enqueue_refresh(account, trigger="schedule")
            queued.append(account.pk)
    return queued


@shared_task(name="metering.reap_runs")
def reap_runs() -> int:
    """End refresh runs nobody will finish (beat, every minute), so they never hold an account back.

    A run still ``queued`` after ``GLASSPANE_RUN_QUEUE_TIMEOUT`` seconds lost its message. A
    ``running`` run lost its worker when its lease has lapsed (the refresh renews it every
    ``GLASSPANE_LEASE_HEARTBEAT`` seconds while it works, ``collector.Heartbeat``; so within
    ``GLASSPANE_LEASE_TTL``, two minutes by default) or, in any case, after the task's hard time
    limit (+60 s). Each ends ``failed`` with ``abandoned: ...``, its lease is released, and an audit
    line is logged. A worker killed mid-run is often sooner: its task is redelivered and takes the
    run (and the lease) over.
    """
    now = timezone.now()
    queued_before = now - timedelta(seconds=settings.GLASSPANE_RUN_QUEUE_TIMEOUT)
    running_before = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    reaped = 0
    stale = (RefreshRun.objects.filter(status=RunStatus.QUEUED, queued_at__lt=queued_before)
             | RefreshRun.objects.filter(status=RunStatus.RUNNING, started_at__lt=running_before))
    # a run takes its lease before it starts, so one running past a TTL without a live lease is dead
    running = RefreshRun.objects.filter(status=RunStatus.RUNNING, started_at__gte=running_before,
                                        started_at__lt=now - timedelta(seconds=settings.GLASSPANE_LEASE_TTL))
    held = dict(CollectionState.objects.filter(account__in=running.values("account"), lease_until__gte=now)
                .values_list("account_id", "lease_owner"))
    lapsed = [r.pk for r in running.only("pk", "account_id") if held.get(r.account_id) != f"run:{r.pk}"]
    stale = stale | RefreshRun.objects.filter(pk__in=lapsed)
    for run in stale.select_related("account"):
        why = ("never started: its task was lost" if run.status == RunStatus.QUEUED
               else "its worker was lost: its lease lapsed" if run.pk in lapsed
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


@shared_task(name="metering.compact_ledger_changes")
def compact_ledger_changes() -> int:
    """Keep the ledger's change log small, so reading its version stays a millisecond."""
    from metering import ledger

    return ledger.compact()




# -- resource actions --------------------------------------------------------------------------------


@shared_task(name="metering.resource_action", autoretry_for=(ProviderUnavailable,), retry_backoff=10,
             retry_backoff_max=120, max_retries=3)
def resource_action(resource_id: int, action: str, requested_by: int | None = None) -> dict:
    """Run one action, then refresh the account so the result is observed."""
    resource = Resource.objects.select_related("account").get(pk=resource_id)
    try:
        run_action(resource, action)
    except ProviderUnavailable:
        raise
    except ProviderError as exc:
        log.warning("action %s on %s (user %s) failed: %s", action, resource, requested_by, exc)
        _fail_pending(resource_id, str(exc))
        return {"resource": resource_id, "action": action, "error": str(exc)}
    log.info("action %s on %s requested by user %s", action, resource, requested_by)
    run = enqueue_refresh(resource.account, trigger="action")
    return {"resource": resource_id, "action": action, "refresh_run": run.pk}


# -- the quota service -------------------------------------------------------------------------------

class WebhookRetry(Exception):
    """A delivery that may succeed later (a timeout, a 5xx): Celery retries it."""


@shared_task(name="metering.provision_request")
def provision_request(request_id: int) -> str:
    """Provision one admitted request (never retried: a retry could create the resource twice;
    a failure releases the reservation and the user may ask again)."""
    return provisioning.provision(request_id).state


@shared_task(name="metering.sweep_requests")
def sweep_requests() -> int:
    """Release what lost requests hold (beat, every minute): a request still ``pending`` after
    ``GLASSPANE_PROVISION_START_TIMEOUT`` seconds never reached a worker (its task was lost), one
    still ``provisioning`` after ``GLASSPANE_PROVISION_TIMEOUT`` lost its worker (a redelivered task
    finds it claimed and leaves it). Each ends ``failed`` with its reservation released and an
    audit line; the resource, if one was made after all, is counted from the inventory."""
    now = timezone.now()
    limits = {RequestState.PENDING: settings.GLASSPANE_PROVISION_START_TIMEOUT,
              RequestState.PROVISIONING: settings.GLASSPANE_PROVISION_TIMEOUT}
    swept = 0
    for state, seconds in limits.items():
        stale = ProvisionRequest.objects.filter(state=state, created_at__lt=now - timedelta(seconds=seconds))
        for request in stale:
            with transaction.atomic():
                # the state must still be the stale one: a worker may have moved it meanwhile
                if not ProvisionRequest.objects.filter(pk=request.pk, state=state).update(state=RequestState.FAILED):
                    continue
                what = "never started" if state == RequestState.PENDING else "did not finish"
                released = release(
                    request, state=RequestState.FAILED,
                    message=f"{what} within the {seconds} s timeout (its task or worker was lost); "
                            "reservation released")
            log.warning("audit: swept provision request %s (%s, %s s): reservation %s", request.pk, state, seconds,
                        "released" if released else "already released")
            swept += 1
    return swept


@shared_task(
    name="metering.breach_webhook",
    autoretry_for=(WebhookRetry,),
    retry_backoff=10,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=6,
)
def breach_webhook(breach_id: int, kind: str) -> int:
    """POST one breach event as JSON to the project's webhook (``metering.outbound``: no redirects,
    a timeout, denied addresses refused); retried on timeouts and 5xx. Each attempt's outcome is
    recorded on the breach's actions, without the receiver's body. Returns the HTTP status (0: none)."""
    breach = QuotaBreach.objects.select_related("project", "account").get(pk=breach_id)
    url = breach.project.breach_webhook
    if not url:
        return 0
    try:
        status = outbound.post_json(url, breaches.payload(breach, kind))
    except outbound.Refused as exc:
        _record(breach_id, kind, f"refused: {exc}")
        return 0
    except outbound.Failed as exc:
        _record(breach_id, kind, f"failed: {exc}")
        if exc.retry:
            raise WebhookRetry(str(exc)) from None
        return 0
    _record(breach_id, kind, f"delivered (HTTP {status})")
    return status


def _record(breach_id: int, kind: str, result: str) -> None:
    with transaction.atomic():
        breach = QuotaBreach.objects.select_for_update().get(pk=breach_id)
        breach.actions = [*breach.actions, {"webhook": kind, "result": result, "at": timezone.now().isoformat()}]
        breach.save(update_fields=["actions"])


@shared_task(name="metering.enforce_breach")
def enforce_breach(breach_id: int) -> int:
    """Apply the ``stop-newest`` policy to one open breach; returns how many actions were taken."""
    breach = QuotaBreach.objects.select_related("project").get(pk=breach_id)
    return len(breaches.enforce(breach))


@shared_task(name="metering.push_quotas", bind=True, max_retries=pushdown.TASK_RETRIES)
def push_quotas(self, project_id: int) -> dict:
    """Push one project's limits to every provider project it is mapped to (``pushdown.push``).

    Every outcome is recorded by the service. While a provider cannot be reached the task retries
    itself with exponential backoff (``pushdown.task_backoff``: 30 s doubling, capped at 15 min, no
    jitter so the drift view can say when); after its last retry the beat's schedule takes over.
    Refusals are not retried here: see ``pushdown.retry_due``.
    """
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return {}
    retries = self.request.retries or 0
    retry_in = pushdown.task_backoff(retries) if retries < self.max_retries else None
    results = pushdown.push(project, task_retry_in=retry_in)
    if retry_in is not None and any(r.transient for r in results):
        raise self.retry(countdown=retry_in)
    return {r.target: r.as_dict() for r in results}


@shared_task(name="metering.retry_quota_pushes")
def retry_quota_pushes() -> int:
    """Queue the push of every project whose failed push is due again (beat, every minute)."""
    return pushdown.retry_due()


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
    autoretry_for=(WebhookRetry,),
    retry_backoff=10,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=6,
)
def budget_webhook(self, alert_id: int) -> int:
    """POST one alert, signed, to the project's webhook (``metering.outbound``: no redirects, a
    timeout, denied addresses refused); retried with backoff on timeouts and 5xx."""
    from metering.notify import budgets, channels

    alert = BudgetAlert.objects.select_related("project").get(pk=alert_id)
    policy = budgets.policy_of(alert.project)

    def note(text: str) -> None:
        BudgetAlert.objects.filter(pk=alert_id).update(deliveries={**alert.deliveries, "webhook": text[:300]})

    try:
        status = channels.post_signed(policy.webhook_url, budgets.payload(alert), policy.webhook_secret,
                                      event="budget.threshold")
    except outbound.Refused as exc:
        note(f"refused: {exc}")
        return 0
    except outbound.Failed as exc:
        final = not exc.retry or self.request.retries >= self.max_retries
        note(f"{'failed' if final else 'retrying'}: {exc}")
        if exc.retry:
            raise WebhookRetry(str(exc)) from None
        return 0
    note("sent")
    return status


@shared_task(name="metering.send_scheduled_reports")
def send_scheduled_reports() -> int:
    """Send every subscribed report whose period has closed and was not sent yet."""
    from metering.notify import reports

    return reports.send_due()
