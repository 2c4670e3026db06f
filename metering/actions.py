"""Actions on one resource (start, stop, reboot, delete) through its driver, run in Celery.

The web page only enqueues the task ``metering.resource_action`` (in ``metering.tasks``); the task
calls ``run_action`` (a provider call never runs while a page renders) and then enqueues a refresh
of the account, so the inventory and the ledger show the result as observed, never as assumed.
"""

from __future__ import annotations

from metering.models import Resource
from providers.base import Action, Capability, UnsupportedCapability

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
