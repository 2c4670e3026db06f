"""Celery tasks of the quota service: provisioning, breach webhooks and actions, push-down.

Registered when the metering app is ready (``metering.quotas.signals`` imports this module), so
the worker knows them without an entry in ``metering/tasks.py``.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from metering import outbound
from metering.choices import RequestState
from metering.models import Project, ProvisionRequest, QuotaBreach
from metering.quotas import breaches, provisioning, pushdown
from metering.quotas.admission import release
from providers.base import ProviderUnavailable

log = logging.getLogger(__name__)


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


@shared_task(
    name="metering.push_quotas",
    autoretry_for=(ProviderUnavailable,),
    retry_backoff=30,
    retry_backoff_max=900,
    retry_jitter=True,
    max_retries=8,
)
def push_quotas(project_id: int) -> dict:
    """Push one project's limits to every OpenStack tenant it is mapped to."""
    return pushdown.push(Project.objects.get(pk=project_id))
