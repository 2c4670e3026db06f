"""Actions on one resource (start, stop, reboot, delete) through its driver, run in Celery.

The web page only enqueues ``metering.resource_action``; the task calls the driver (a provider
call never runs while a page renders) and then enqueues a refresh of the account, so the
inventory and the ledger show the result as observed, never as assumed.
"""

from __future__ import annotations

import logging

from celery import shared_task

from metering.models import Resource
from metering.tasks import enqueue_refresh
from providers.base import Action, Capability, ProviderError, ProviderUnavailable, UnsupportedCapability

log = logging.getLogger(__name__)

#: what each kind of resource may be asked to do
ACTIONS_BY_KIND = {
    "vm": (Action.START, Action.STOP, Action.REBOOT, Action.DELETE),
    "container": (Action.START, Action.STOP, Action.REBOOT, Action.DELETE),
}


def available_actions(resource: Resource) -> tuple[str, ...]:
    """The actions the resource's driver declares and its kind allows (no provider call)."""
    if resource.deleted_at is not None:
        return ()
    try:
        capabilities = resource.account.driver_class.capabilities
    except LookupError:  # the driver's package is not installed here
        return ()
    if Capability.ACTIONS not in capabilities:
        return ()
    return ACTIONS_BY_KIND.get(resource.kind, ())


def run_action(resource: Resource, action: str) -> None:
    """Ask the driver to run ``action`` on ``resource`` now, in this process."""
    if action not in available_actions(resource):
        raise UnsupportedCapability(f"{action!r} is not available for {resource.kind} {resource.name!r} "
                                    f"on {resource.account.kind}")
    with resource.account.driver() as driver:
        driver.act(resource.external_id, action)


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
        return {"resource": resource_id, "action": action, "error": str(exc)}
    log.info("action %s on %s requested by user %s", action, resource, requested_by)
    run = enqueue_refresh(resource.account, trigger="action")
    return {"resource": resource_id, "action": action, "refresh_run": run.pk}
