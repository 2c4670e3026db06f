"""Pushing Glasspane's limits down to the providers' own quotas, and comparing the two (drift).

The provider-neutral contract (``providers.base.Driver``): a driver that can hold limits declares
which of our keys it maps (``quota_keys``), reads them (``read_quotas``, and ``Inventory.quotas``
at every refresh, stored on ``ExternalProject.quotas``) and applies them (``apply_quota``). Nothing
here knows a provider's field names.

A Glasspane project mapped to a provider project (``ExternalProject.project`` on an account whose
driver declares ``quota_keys``) gets its limits written whenever they change. Only the keys set in
Glasspane (the project's own value, narrowed or global, or a site default) are pushed: a key set
nowhere leaves the provider's own limit as the operator set it. Where both a global and a narrowed
limit are set, the tighter one is pushed.

Every push is recorded per provider project and key (``QuotaPush``: applied or not, the provider's
message, when it is tried again) and audited when its outcome changes (``QuotaAudit`` of source
``push``), so a refused push is never silent. Retries:

* the provider cannot be reached (``ProviderUnavailable``): the push task retries itself after
  ``task_backoff(n)`` seconds (30 s doubling to 15 min, ``TASK_RETRIES`` times), then hands over to
  the schedule below;
* the provider refused (4xx: a value it will not hold, a missing role): the same request would be
  refused again at once, so it is not retried blindly. The beat's ``retry_due`` asks again after
  ``GLASSPANE_PUSH_RETRY_BASE`` seconds, doubling up to ``GLASSPANE_PUSH_RETRY_MAX``, at most
  ``GLASSPANE_PUSH_ATTEMPTS`` times (an operator may fix the cloud side meanwhile: grant a role,
  raise a cloud-wide maximum); then it waits for a new save of the limit or ``quota push SLUG``.

``drift(project)`` compares, per mapped project and key, what the provider holds (its limit and its
own usage, as read at the last refresh or written by the last push) with Glasspane's limit and
counted usage, and says whether the last push of that key was applied, for the quota page and API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from metering.choices import ChangeSource, PushOutcome
from metering.handoff import task
from metering.models import UNLIMITED, ExternalProject, Project, Quota, QuotaAudit, QuotaDefault, QuotaPush
from metering.quotas.usage import number, project_usage
from providers import registry
from providers.base import ProviderError, ProviderUnavailable

#: how many times the push task retries itself while the provider cannot be reached
TASK_RETRIES = 8
#: a retry the task scheduled that has not happened this long after its time is taken over by the beat
TASK_RETRY_GRACE = timedelta(minutes=5)
#: while the beat's retry of a project is queued, its rows are not picked again for this long
RETRY_CLAIM = timedelta(minutes=10)


def quota_kinds() -> list[str]:
    """Provider kinds whose driver holds limits of its own (``openstack`` among the built-in ones)."""
    return [k for k in registry.kinds() if registry.driver_class(k).quota_keys]


def pushable_keys() -> frozenset[str]:
    """Every key some installed driver can hold."""
    return frozenset().union(*(registry.driver_class(k).quota_keys for k in quota_kinds()))


def mappings(project: Project):
    """The provider projects ``project`` is mapped to on accounts that hold quotas."""
    return (ExternalProject.objects.filter(project=project, account__kind__in=quota_kinds())
            .select_related("account").prefetch_related("pushes").order_by("account__name", "external_id"))


def tighter(a: int | None, b: int | None) -> int | None:
    """The tighter of two limits, either of which may be unset (None) or unlimited (-1)."""
    if a is None or a == UNLIMITED:
        return b if b is not None else a
    if b is None or b == UNLIMITED:
        return a
    return min(a, b)


def limits_for(project: Project, account) -> dict[str, int]:
    """What the provider should enforce for ``project`` on ``account``: only the keys set in
    Glasspane (own global value, else the site default; and a value narrowed to ``account``),
    among the keys the account's driver holds."""
    keys = account.driver_class.quota_keys
    overall = dict(QuotaDefault.objects.filter(key__in=keys).values_list("key", "limit"))
    overall.update(Quota.objects.filter(project=project, account__isnull=True, key__in=keys)
                   .values_list("key", "limit"))
    narrowed = dict(Quota.objects.filter(project=project, account=account, key__in=keys).values_list("key", "limit"))
    return {key: tighter(overall.get(key), narrowed.get(key)) for key in sorted(set(overall) | set(narrowed))}


def task_backoff(retries: int) -> int:
    """Seconds before the push task's retry number ``retries + 1`` (the provider was unreachable)."""
    return min(30 * 2**retries, 900)


def schedule_backoff(failures: int) -> timedelta | None:
    """When a refused push is asked again after its ``failures``-th refusal; None: given up."""
    if failures >= settings.GLASSPANE_PUSH_ATTEMPTS:
        return None
    return timedelta(seconds=min(settings.GLASSPANE_PUSH_RETRY_BASE * 2 ** (failures - 1),
                                 settings.GLASSPANE_PUSH_RETRY_MAX))


@dataclass
class PushResult:
    """One push to one provider project: what was pushed and how it ended."""

    account: str
    external_id: str
    limits: dict[str, int]
    applied: dict[str, int] = field(default_factory=dict)  # what the provider holds now (on success)
    error: str = ""  # the provider's message (on failure)
    transient: bool = False  # the provider could not be reached
    next_retry_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def target(self) -> str:
        return f"{self.account}/{self.external_id}"

    @property
    def pushed(self) -> str:
        return " ".join(f"{key}={value}" for key, value in sorted(self.limits.items()))

    def as_dict(self) -> dict:
        return {"target": self.target, "pushed": self.limits, "applied": self.applied, "error": self.error,
                "transient": self.transient,
                "next_retry_at": self.next_retry_at.isoformat() if self.next_retry_at else None}


def push(project: Project, *, task_retry_in: int | None = None) -> list[PushResult]:
    """Write the limits set in Glasspane to every mapped provider project, one result each.

    A provider's failure never raises: it is recorded (``QuotaPush``, ``QuotaAudit``) with its
    retry time, and the other provider projects are still pushed. ``task_retry_in``: the caller
    (the push task) retries itself that many seconds after an unreachable provider.
    """
    results = []
    for mapping in mappings(project):
        limits = limits_for(project, mapping.account)
        result = PushResult(mapping.account.name, mapping.external_id, limits)
        if limits:
            try:
                with mapping.account.driver() as driver:
                    result.applied = {k: int(v) for k, v in driver.apply_quota(mapping.external_id, limits).items()}
            except (ProviderError, ValueError) as exc:
                result.error = str(exc) or type(exc).__name__
                result.transient = isinstance(exc, ProviderUnavailable)
        _record(project, mapping, result, task_retry_in if result.transient else None)
        if limits:
            results.append(result)
    return results


def _record(project: Project, mapping: ExternalProject, result: PushResult, task_retry_in: int | None) -> None:
    """Keep the outcome per key (``QuotaPush``); audit it when it differs from the last one."""
    now = timezone.now()
    with transaction.atomic():
        # one push of a provider project records at a time (two workers, or the command and a worker)
        locked = ExternalProject.objects.select_for_update().filter(pk=mapping.pk).values_list("quotas", flat=True)
        fresh = locked.first()
        states = {p.key: p for p in QuotaPush.objects.filter(external=mapping)}
        # a key no longer set in Glasspane, or one the provider skipped (its service is absent): no state
        keys = [k for k in result.limits if not result.ok or k in result.applied]
        for key in set(states) - set(keys):
            states.pop(key).delete()
        theirs = dict(fresh or {})
        audits = []
        for key in keys:
            value = result.limits[key]
            state = states.get(key) or QuotaPush(external=mapping, key=key, value=value, attempted_at=now)
            before = (theirs.get(key) or {}).get("limit")
            if result.ok:
                changed = state.pk is None or not state.applied or state.value != value or before != value
                state.applied, state.message, state.failures, state.next_retry_at = True, "", 0, None
                state.task_retry = False
                theirs[key] = {**(theirs.get(key) or {}), "limit": result.applied.get(key, value)}
            else:
                again = state.pk is not None and not state.applied and state.value == value
                changed = not again or state.message != result.error
                state.failures = (state.failures if again else 0) + 1
                state.applied, state.message = False, result.error
                if task_retry_in is not None:
                    state.next_retry_at, state.task_retry = now + timedelta(seconds=task_retry_in), True
                else:
                    wait = (timedelta(seconds=task_backoff(state.failures - 1)) if result.transient
                            else schedule_backoff(state.failures))
                    state.next_retry_at, state.task_retry = (now + wait if wait else None), False
                result.next_retry_at = state.next_retry_at
            state.value, state.attempted_at = value, now
            state.save()
            if changed:
                audits.append(QuotaAudit(
                    project=project, account=mapping.account, external_id=mapping.external_id, key=key,
                    old=before, new=value, source=ChangeSource.PUSH,
                    outcome=PushOutcome.APPLIED if result.ok else PushOutcome.FAILED, message=result.error))
        QuotaAudit.objects.bulk_create(audits)
        if result.ok and result.limits:
            ExternalProject.objects.filter(pk=mapping.pk).update(quotas=theirs)


def due_projects(now: datetime | None = None) -> list[int]:
    """Projects with a failed push whose retry is due (a task's own retry only once overdue)."""
    now = now or timezone.now()
    due = (Q(task_retry=False, next_retry_at__lte=now) | Q(task_retry=True, next_retry_at__lte=now - TASK_RETRY_GRACE))
    return sorted(set(QuotaPush.objects.filter(due, applied=False, external__project__isnull=False)
                      .values_list("external__project", flat=True)))


def retry_due(now: datetime | None = None) -> int:
    """Queue a push for every project whose failed push is due again (the beat, every minute);
    how many were queued. Rows are claimed for ``RETRY_CLAIM`` so a slow worker is not sent twice."""
    now = now or timezone.now()
    queued = 0
    for project in Project.objects.filter(pk__in=due_projects(now)):
        QuotaPush.objects.filter(external__project=project, applied=False, next_retry_at__lte=now).update(
            next_retry_at=now + RETRY_CLAIM, task_retry=False)
        queued += queue_push(project)
    return queued


def queue_push(project: Project) -> bool:
    """Queue a push-down when ``project`` is mapped to a provider that holds quotas; whether one was."""
    if not mappings(project).exists():
        return False
    task("metering.push_quotas").delay(project.pk)
    return True


def queue_push_for_defaults(keys: list[str]) -> int:
    """After defaults changed: queue a push for each mapped project relying on one of ``keys``."""
    queued = 0
    for project in Project.objects.filter(external__account__kind__in=quota_kinds()).distinct().iterator():
        own = set(project.quotas.filter(account__isnull=True).values_list("key", flat=True))
        if set(keys) - own:
            queued += queue_push(project)
    return queued


@dataclass(frozen=True)
class Drift:
    """One key of one mapped provider project: Glasspane's limit and usage beside the provider's."""

    account: str
    external_id: str
    key: str
    limit: int | None  # None: not set in Glasspane (the provider's own limit is left alone)
    provider_limit: int | None  # None: the provider has not reported it (yet)
    used: object
    provider_used: object | None
    #: the last push of this key: None = never pushed (or nothing to push); else whether it was applied
    applied: bool | None = None
    pushed: int | None = None
    push_message: str = ""
    pushed_at: datetime | None = None
    next_retry_at: datetime | None = None
    failures: int = 0

    @property
    def limit_differs(self) -> bool:
        return None not in (self.limit, self.provider_limit) and self.provider_limit != self.limit

    @property
    def usage_differs(self) -> bool:
        return self.provider_used is not None and number(self.provider_used) != number(self.used)

    @property
    def not_applied(self) -> bool:
        return self.applied is False

    @property
    def retry(self) -> str:
        """When a not-applied push is tried again, in words (times are shown by the caller)."""
        if not self.not_applied:
            return ""
        if self.next_retry_at is None:
            return (f"gave up after {self.failures} attempts: save the limit again or run "
                    f"`quota push` once the cause is fixed")
        return "next retry scheduled"

    @property
    def push(self) -> dict | None:
        if self.applied is None:
            return None
        return {"status": "applied" if self.applied else "not applied", "value": self.pushed,
                "message": self.push_message, "at": self.pushed_at, "next_retry_at": self.next_retry_at,
                "failures": self.failures, "retry": self.retry}

    def as_dict(self) -> dict:
        return {"account": self.account, "external_id": self.external_id, "key": self.key,
                "limit": self.limit, "provider_limit": self.provider_limit,
                "used": number(self.used),
                "provider_used": None if self.provider_used is None else number(self.provider_used),
                "limit_differs": self.limit_differs, "usage_differs": self.usage_differs, "push": self.push}


def drift(project: Project) -> list[Drift]:
    """Per mapped provider project and key its driver holds, what each side holds (see module doc)."""
    rows = []
    for mapping in mappings(project):
        ours = limits_for(project, mapping.account)
        usage = project_usage(project, mapping.account)
        theirs = mapping.quotas or {}
        pushes = {p.key: p for p in mapping.pushes.all()}
        for key in sorted(mapping.account.driver_class.quota_keys):
            reading = theirs.get(key) or {}
            used = reading.get("used")
            last = pushes.get(key)
            rows.append(Drift(
                account=mapping.account.name, external_id=mapping.external_id, key=key, limit=ours.get(key),
                provider_limit=reading.get("limit"), used=usage[key].used,
                provider_used=None if used is None else Decimal(used),
                **({} if last is None else {
                    "applied": last.applied, "pushed": last.value, "push_message": last.message,
                    "pushed_at": last.attempted_at, "next_retry_at": last.next_retry_at,
                    "failures": last.failures}),
            ))
    return rows
