"""Actions on one resource (start, stop, reboot, delete) through its driver, run in Celery.

The web page only enqueues the task ``metering.resource_action`` (in ``metering.tasks``); the task
calls ``run_action`` (a provider call never runs while a page renders) and then enqueues a refresh
of the account, so the inventory and the ledger show the result as observed, never as assumed.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.core.cache import cache
from django.utils import timezone

from metering.models import RefreshRun, Resource
from providers.base import Action, Capability, UnsupportedCapability

log = logging.getLogger(__name__)

#: what each kind of resource may be asked to do
ACTIONS_BY_KIND = {
    "vm": (Action.START, Action.STOP, Action.REBOOT, Action.DELETE),
    "container": (Action.START, Action.STOP, Action.REBOOT, Action.DELETE),
}

#: what makes sense in each observed state (no Start on a running VM); states not listed
#: (building, unknown, ...) only allow delete
ACTIONS_BY_STATE = {
    "running": (Action.STOP, Action.REBOOT, Action.DELETE),
    "paused": (Action.START, Action.STOP, Action.DELETE),
    "suspended": (Action.START, Action.STOP, Action.DELETE),
    "stopped": (Action.START, Action.DELETE),
    "crashed": (Action.START, Action.STOP, Action.DELETE),
    "error": (Action.START, Action.STOP, Action.DELETE),
}
PENDING_TTL = 15 * 60  # seconds a requested action is shown as pending at most


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
    allowed = ACTIONS_BY_STATE.get(resource.state, (Action.DELETE,))
    return tuple(a for a in ACTIONS_BY_KIND.get(resource.kind, ()) if a in allowed)


def _pending_key(resource_id: int) -> str:
    return f"glasspane:action-pending:{resource_id}"


def mark_pending(resource: Resource, action: str) -> None:
    """Remember that ``action`` was requested, until a refresh observes the resource again."""
    try:
        cache.set(_pending_key(resource.pk), {"action": action, "at": timezone.now().isoformat(), "error": ""},
                  PENDING_TTL)
    except Exception:  # the pending badge is a courtesy: an unreachable cache must not stop the action
        log.warning("cannot mark %s pending on %s: cache unreachable", action, resource, exc_info=True)


def pending_action(resource: Resource) -> dict | None:
    """The requested action not yet observed: ``{"action", "at", "error"}``, or None once a
    refresh of the account that started after the request has finished (then the page shows the
    observed state)."""
    try:
        entry = cache.get(_pending_key(resource.pk))
    except Exception:  # an unreachable cache: the page shows the observed state only
        log.warning("cannot read the pending action of %s: cache unreachable", resource, exc_info=True)
        return None
    if not entry:
        return None
    at = datetime.fromisoformat(entry["at"])
    observed = RefreshRun.objects.filter(account_id=resource.account_id, started_at__gte=at,
                                         finished_at__isnull=False).exists()
    if not entry["error"] and observed:
        cache.delete(_pending_key(resource.pk))
        return None
    return {**entry, "at": at}


def _fail_pending(resource_id: int, error: str) -> None:
    try:
        entry = cache.get(_pending_key(resource_id))
        if entry:
            cache.set(_pending_key(resource_id), {**entry, "error": error}, PENDING_TTL)
    except Exception:
        log.warning("cannot record the failed action of resource %s: cache unreachable", resource_id, exc_info=True)


def run_action(resource: Resource, action: str) -> None:
    """Ask the driver to run ``action`` on ``resource`` now, in this process."""
    if action not in available_actions(resource):
        raise UnsupportedCapability(f"{action!r} is not available for {resource.kind} {resource.name!r} "
                                    f"on {resource.account.kind}")
    with resource.account.driver() as driver:
        driver.act(resource.external_id, action)
