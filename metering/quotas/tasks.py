"""Celery tasks of the quota service: provisioning, breach webhooks and actions, push-down.

Registered when the metering app is ready (``metering.quotas.signals`` imports this module), so
the worker knows them without an entry in ``metering/tasks.py``.
"""

from __future__ import annotations

import requests
from celery import shared_task

from metering.models import Project, QuotaBreach
from metering.quotas import breaches, provisioning, pushdown
from providers.base import ProviderUnavailable

WEBHOOK_TIMEOUT = 10  # seconds


@shared_task(name="metering.provision_request")
def provision_request(request_id: int) -> str:
    """Provision one admitted request (never retried: a retry could create the resource twice;
    a failure releases the reservation and the user may ask again)."""
    return provisioning.provision(request_id).state


@shared_task(
    name="metering.breach_webhook",
    autoretry_for=(requests.RequestException,),
    retry_backoff=10,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=6,
)
def breach_webhook(breach_id: int, kind: str) -> int:
    """POST one breach event as JSON to the project's webhook; retried on network errors and
    non-2xx answers. Returns the HTTP status."""
    breach = QuotaBreach.objects.select_related("project", "account").get(pk=breach_id)
    url = breach.project.breach_webhook
    if not url:
        return 0
    response = requests.post(url, json=breaches.payload(breach, kind), timeout=WEBHOOK_TIMEOUT)
    response.raise_for_status()
    return response.status_code


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
