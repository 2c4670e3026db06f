"""Breach detection after every refresh, and the per-project breach policies.

Admission keeps Glasspane's own requests within the limits; what is created behind Glasspane's
back (straight in virsh, docker or Horizon) can still push a project over. After each refresh the
projects the account touched are counted from the inventory alone (reservations are Glasspane's
own, already-admitted requests) in every scope (global and narrowed to an account). For each key
the worst scope over its limit keeps one ``QuotaBreach`` open (the model allows one open breach per
project and key); once no scope is over it is closed. Opening and closing are sent to the
project's webhook, and the policy acts:

* ``alert`` (default): the breach is recorded, shown and sent; nothing else.
* ``block-new``: ``metering.quotas.admission`` refuses new requests while a breach is open.
* ``stop-newest`` (opt-in): the most recently created resources that make up the excess are
  stopped through their driver (each at most once per breach), and every attempt is recorded in
  ``QuotaBreach.actions``. A
  stopped VM still holds its allocation, so the breach stays open until something is deleted or
  the limit raised; resources already stopped are left alone. Volumes cannot be stopped, and a
  budget breach has no resource to attribute the money to: both are alerted only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from metering.choices import BreachPolicy
from metering.handoff import after_commit
from metering.models import Project, QuotaBreach, Resource
from metering.quotas.contributions import CONTRIBUTIONS
from metering.quotas.usage import ZERO, QuotaUsage, number, usage_by_scope
from providers.base import Action, Capability, Kind, ProviderError, State

log = logging.getLogger(__name__)

OPENED, CLOSED = "breach.opened", "breach.closed"
STOPPABLE = (Kind.VM, Kind.CONTAINER)
RUNNING_STATES = (State.RUNNING, State.PAUSED, State.SUSPENDED, State.BUILDING, State.UNKNOWN)


@dataclass(frozen=True)
class Event:
    kind: str  # OPENED | CLOSED
    breach: QuotaBreach


def _worst(scopes: dict[int | None, dict[str, QuotaUsage]]) -> dict[str, QuotaUsage]:
    """Per key, the scope furthest over its limit."""
    worst: dict[str, QuotaUsage] = {}
    for usage in scopes.values():
        for key, quota in usage.items():
            if quota.over and (key not in worst or quota.over_by > worst[key].over_by):
                worst[key] = quota
    return worst


def detect(project_ids, now: datetime | None = None) -> list[Event]:
    """Open, update and close breaches of ``project_ids``; return what opened and closed.

    Counting is done for all projects at once; only a project whose breaches change is locked
    (the admission lock), so detection and admission never interleave for one project.
    """
    now = now or timezone.now()
    project_ids = list(project_ids)
    usage = usage_by_scope(project_ids, reserved=False)
    open_now = {(b.project_id, b.key): b for b in QuotaBreach.objects.filter(
        project_id__in=project_ids, closed_at__isnull=True)}
    events: list[Event] = []
    for pid in project_ids:
        worst = _worst(usage.get(pid, {}))
        keys = set(worst) | {key for (p, key) in open_now if p == pid}
        for key in sorted(keys):
            events.extend(_apply(pid, key, worst.get(key), open_now.get((pid, key)), now))
    return events


def _apply(project_id: int, key: str, quota: QuotaUsage | None, breach: QuotaBreach | None, now) -> list[Event]:
    if quota is None and breach is None:
        return []
    if quota is not None and breach is not None and (breach.used, breach.over_by, breach.limit) == (
            quota.used, quota.over_by, quota.limit):
        return []
    with transaction.atomic():
        Project.objects.filter(pk=project_id).update(slug=F("slug"))  # the admission lock
        breach = QuotaBreach.objects.filter(project_id=project_id, key=key, closed_at__isnull=True).first()
        if quota is None:
            if breach is None:
                return []
            breach.closed_at = now
            breach.save(update_fields=["closed_at"])
            return [Event(CLOSED, breach)]
        if breach is None:
            breach = QuotaBreach.objects.create(
                project_id=project_id, account_id=quota.account_id, key=key, limit=quota.limit,
                used=quota.used, over_by=quota.over_by, opened_at=now)
            return [Event(OPENED, breach)]
        breach.account_id, breach.limit, breach.used, breach.over_by = (
            quota.account_id, quota.limit, quota.used, quota.over_by)
        breach.save(update_fields=["account", "limit", "used", "over_by"])
        return []


def reevaluate(project_ids, now: datetime | None = None) -> list[Event]:
    """Detect breaches of ``project_ids``, then queue the webhook and the policy's actions after
    commit. Runs after every refresh and after every change of a limit or a default, so the banner,
    the doughnuts and the quotas page agree as soon as a change is saved."""
    project_ids = sorted(set(project_ids))
    if not project_ids:
        return []
    events = detect(project_ids, now)
    dispatch(events)
    enforce_open(project_ids)
    return events


def after_refresh(account, now: datetime | None = None) -> list[Event]:
    """Re-evaluate every project with resources on ``account`` or an open breach."""
    project_ids = set(Resource.objects.filter(account=account, project__isnull=False)
                      .order_by().values_list("project_id", flat=True).distinct())
    project_ids |= set(QuotaBreach.objects.filter(closed_at__isnull=True).values_list("project_id", flat=True))
    return reevaluate(project_ids, now)


def dispatch(events: list[Event]) -> None:
    """Queue a webhook call for each event of a project that has a webhook."""
    hooked = set(Project.objects.filter(pk__in={e.breach.project_id for e in events})
                 .exclude(breach_webhook="").values_list("pk", flat=True))
    for event in events:
        if event.breach.project_id in hooked:
            after_commit("metering.breach_webhook", event.breach.pk, event.kind)


def enforce_open(project_ids) -> None:
    """Queue ``stop-newest`` enforcement for the open breaches of projects with that policy."""
    for breach_id in QuotaBreach.objects.filter(
            project_id__in=list(project_ids), closed_at__isnull=True,
            project__breach_policy=BreachPolicy.STOP_NEWEST).values_list("pk", flat=True):
        after_commit("metering.enforce_breach", breach_id)


def payload(breach: QuotaBreach, kind: str) -> dict:
    """The webhook's JSON body."""
    return {
        "event": kind,
        "breach": breach.pk,
        "project": breach.project.slug,
        "policy": breach.project.breach_policy,
        "key": breach.key,
        "account": breach.account.name if breach.account_id else None,
        "limit": breach.limit,
        "used": str(number(breach.used)),
        "over_by": str(number(breach.over_by)),
        "opened_at": breach.opened_at.isoformat(),
        "closed_at": breach.closed_at.isoformat() if breach.closed_at else None,
    }


# -- stop-newest -----------------------------------------------------------------------------------


def excess_resources(breach: QuotaBreach) -> list[Resource]:
    """The newest resources whose removal would bring the breach's scope back under its limit."""
    if breach.key not in CONTRIBUTIONS:
        return []  # the budget: no resource to attribute the money to
    contribution = CONTRIBUTIONS[breach.key]

    def amount(resource):
        return contribution.amount(resource.kind, resource)

    qs = (Resource.objects.live().filter(project_id=breach.project_id, kind__in=contribution.kinds)
          .select_related("account"))
    if breach.account_id:
        qs = qs.filter(account_id=breach.account_id)
    resources = list(qs.order_by(Coalesce("created_at", "first_seen").desc(), "-pk"))
    excess = sum((amount(r) for r in resources), ZERO) - breach.limit
    chosen = []
    for resource in resources:
        if excess <= 0:
            break
        if amount(resource) > 0:
            chosen.append(resource)
            excess -= amount(resource)
    return chosen


def enforce(breach: QuotaBreach, now: datetime | None = None) -> list[dict]:
    """Apply ``stop-newest`` to an open breach; append and return what was done."""
    now = now or timezone.now()
    if breach.closed_at is not None or breach.project.breach_policy != BreachPolicy.STOP_NEWEST:
        return []
    done = []
    seen = {(a.get("resource"), a.get("result")) for a in breach.actions}
    for resource in excess_resources(breach):
        if resource.kind not in STOPPABLE or resource.state not in RUNNING_STATES or (resource.pk, "stopped") in seen:
            continue
        record = {"at": now.isoformat(), "action": Action.STOP, "resource": resource.pk,
                  "external_id": resource.external_id, "name": resource.name, "account": resource.account.name}
        if Capability.ACTIONS not in resource.account.driver_class.capabilities:
            record["result"] = f"not possible: {resource.account.kind} does not support actions"
        else:
            try:
                with resource.account.driver() as driver:
                    driver.act(resource.external_id, Action.STOP)
                record["result"] = "stopped"
            except ProviderError as exc:
                record["result"] = f"failed: {exc}"
                log.warning("stop-newest could not stop %s: %s", resource, exc)
        if (resource.pk, record["result"]) in seen:
            continue  # the same failure again: keep the audit short
        done.append(record)
    if done:
        with transaction.atomic():
            fresh = QuotaBreach.objects.select_for_update().get(pk=breach.pk)
            fresh.actions = [*fresh.actions, *done]
            fresh.save(update_fields=["actions"])
            breach.actions = fresh.actions
    return done
