"""Atomic admission of provisioning requests: check every applicable limit, then reserve.

``submit`` checks a request against the project's global limits and the limits narrowed to the
request's account, the ``block-new`` breach policy and the monthly budget, and either records a
``ProvisionRequest`` with its ``Reservation`` (then queues the provisioning task after commit) or
raises ``QuotaExceeded`` with Nova's wording.

Why it is atomic: the check and the reservation happen in one transaction that first locks the
project row, so admissions of one project run one at a time and each sees every reservation the
previous ones committed; admissions of different projects do not wait for each other.

Why refusals do not wait for that lock: a request is first checked against what is committed,
without the lock. A request that does not fit what was committed at that instant is rightly
refused for that instant (only admissions must serialise, since only they add reservations), so
it is refused there and then, in parallel with everything else. Only a request that fits is checked again under the lock and
reserved. A project at its limit (the case where many requests arrive at once) thus answers most
of them without queueing.

* PostgreSQL: ``SELECT ... FOR UPDATE`` on the project row. This relies on READ COMMITTED
  (Django's default), where every statement after the lock sees what was committed before it.
* SQLite has no row locks: the first write of a transaction takes the database's single write
  lock, which serialises every writer. So the transaction starts with an UPDATE of the project
  row (the same lock on PostgreSQL, where it is a row lock); starting with a read instead could
  fail with "database is locked" when the read snapshot must be upgraded to a write.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from django.db import OperationalError, connection, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from metering.choices import BreachPolicy, QuotaKey, RequestState
from metering.handoff import task
from metering.launching import refusal
from metering.models import Project, ProvisionRequest, QuotaBreach, Reservation
from metering.quotas.contributions import adds
from metering.quotas.limits import KEYS
from metering.quotas.usage import ZERO, budget_delta, number, usage_by_scope
from providers.base import KIND_ALIASES, Kind, ProviderError, ProvisionSpec, SpecError

log = logging.getLogger(__name__)
T = TypeVar("T")
LOCK_WAIT = 30.0  # seconds a SQLite admission keeps retrying for the write lock

class QuotaExceeded(Exception):
    """A request refused by a limit; ``message`` says which, as Nova does."""

    def __init__(self, key: str, requested, used, limit: int, message: str = "", account=None):
        self.key, self.requested, self.used, self.limit, self.account = key, requested, used, limit, account
        self.message = message or exceeded_message(key, requested, used, limit, account)
        super().__init__(self.message)


def exceeded_message(key: str, requested, used, limit: int, account=None) -> str:
    scope = f" on {account}" if account is not None else ""
    return (f"Quota exceeded for {key}{scope}: Requested {number(requested)}, "
            f"but already used {number(used)} of {limit} {key}")


# -- the request -------------------------------------------------------------------------------------


def check_account(account, project) -> None:
    """Whether ``account`` takes requests for ``project`` (the launch form's rule,
    ``launching.refusal``); raises ``SpecError`` on ``account`` if not."""
    why = refusal(account, project)
    if why:
        raise SpecError({"account": why})


def with_flavor_sizes(account, fields: Mapping) -> dict:
    """A VM request that names a flavor but leaves out its sizes gets them from the flavor as the
    platform defines it (a driver that knows flavors has ``flavor_size``); raises ``SpecError`` on
    ``flavor`` when the platform does not know it. Called before ``ProvisionSpec.parse`` by the API
    serializer and by ``submit``, so both accept the same requests."""
    fields = dict(fields)
    kind = str(fields.get("kind") or "").lower()
    if not fields.get("flavor") or KIND_ALIASES.get(kind) != Kind.VM or (
            fields.get("vcpus") not in (None, "") and fields.get("ram_mb") not in (None, "")):
        return fields
    try:
        with account.driver() as driver:
            if not hasattr(driver, "flavor_size"):
                return fields
            vcpus, ram_mb, disk_gb = driver.flavor_size(str(fields["flavor"]))
    except ProviderError as exc:
        raise SpecError({"flavor": str(exc)}) from None
    if fields.get("vcpus") in (None, ""):
        fields["vcpus"] = str(vcpus)
    if fields.get("ram_mb") in (None, ""):
        fields["ram_mb"] = ram_mb
    if fields.get("disk_gb") in (None, "") and disk_gb:
        fields["disk_gb"] = str(disk_gb)
    return fields


def build_spec(account, fields: Mapping) -> ProvisionSpec:
    """A request's fields as the driver's ``ProvisionSpec``: a flavor's sizes filled in from the
    platform, then ``ProvisionSpec.parse``. The API serializer, the launch form and ``submit`` all
    build specs here; raises ``SpecError``."""
    return ProvisionSpec.parse(with_flavor_sizes(account, fields) if account is not None else fields)


def requested(spec: ProvisionSpec) -> dict[str, Decimal]:
    """What a request counts against each key, by the table live usage counts with
    (``metering.quotas.contributions``); the budget is priced by ``_with_cost`` when it applies."""
    want = dict.fromkeys(KEYS, ZERO)
    want.update(adds(spec.kind, spec))
    return want


def _with_cost(project, account, want: dict[str, Decimal], kind: str, scopes) -> dict[str, Decimal]:
    """``want`` with its budget priced: what it adds to the month's forecast, where a budget
    limit applies (pricing needs the chargeback engine's rates, so it is skipped otherwise)."""
    if all(usage[QuotaKey.BUDGET].unlimited for usage in scopes.values()):
        return want
    return {**want, QuotaKey.BUDGET.value: budget_delta(
        project, account, vcpus=want[QuotaKey.VCPUS], ram_mb=int(want[QuotaKey.RAM_MB]),
        disk_gb=want[QuotaKey.DISK_GB], kind=kind)}


# -- admission ---------------------------------------------------------------------------------------


def serialised(work: Callable[[], T]) -> T:
    """Run ``work`` in a transaction; on SQLite, retry it while the write lock is taken.

    Inside an outer transaction there is no retry (the outer one would be half rolled back).
    """
    retry = connection.vendor == "sqlite" and not connection.in_atomic_block
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        try:
            with transaction.atomic():
                return work()
        except OperationalError as exc:
            if not retry or "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(random.uniform(0.001, 0.02))


def lock_project(project: Project) -> str:
    """Take the per-project admission lock for the rest of the current transaction; return the
    project's breach policy as read under the lock."""
    if connection.features.has_select_for_update:
        return Project.objects.select_for_update().filter(pk=project.pk).values_list("breach_policy", flat=True).get()
    Project.objects.filter(pk=project.pk).update(slug=project.slug)
    return Project.objects.filter(pk=project.pk).values_list("breach_policy", flat=True).get()


def _scopes(project: Project, account, forecast: Decimal | None = None) -> dict:
    """The request's scopes: global, and the account's (unlimited where nothing is narrowed)."""
    known = {project.pk: forecast} if forecast is not None else None
    return usage_by_scope([project.pk], accounts=(account.pk,), forecasts=known)[project.pk]


def _refusal(project: Project, account, want: dict[str, Decimal], policy: str, scopes) -> QuotaExceeded | None:
    """The first limit the request would pass, or None."""
    if policy == BreachPolicy.BLOCK_NEW:
        breach = QuotaBreach.objects.filter(project=project, closed_at__isnull=True).order_by("opened_at").first()
        if breach is not None:
            return QuotaExceeded(
                breach.key, want.get(breach.key, ZERO), breach.used, breach.limit,
                f"Quota exceeded for {breach.key}: the project is over its limit ({number(breach.used)} of "
                f"{breach.limit} {breach.key}, since {breach.opened_at:%Y-%m-%d %H:%M} UTC) and new requests "
                f"are blocked until it is back under",
            )
    for scope_account in (None, account):
        usage = scopes[scope_account.pk if scope_account is not None else None]
        for key in KEYS:
            quota = usage[key]
            if not quota.allows(want[key]):
                return QuotaExceeded(key, want[key], quota.in_use, quota.limit, account=scope_account)
    return None


@dataclass(frozen=True)
class Assessment:
    """A request checked against what is committed, without the lock: the first step of ``submit``
    and the whole of a preview (``metering.quotas.preview``), so both word a refusal the same."""

    scopes: dict  # {account id or None: {key: QuotaUsage}}
    want: dict[str, Decimal]  # what the request counts against each key (budget priced where limited)
    refusal: QuotaExceeded | None


def assess(project: Project, account, spec: ProvisionSpec, *, forecast: Decimal | None = None) -> Assessment:
    """What ``spec`` would add to each key of its scopes, and the first limit it would pass, if any.
    ``forecast`` is the month's forecast when the caller already has it."""
    scopes = _scopes(project, account, forecast)
    want = _with_cost(project, account, requested(spec), spec.kind, scopes)
    policy = Project.objects.filter(pk=project.pk).values_list("breach_policy", flat=True).get()
    return Assessment(scopes, want, _refusal(project, account, want, policy, scopes))


def submit(project: Project, account, spec: ProvisionSpec | Mapping, *, user, source: str,
           idempotency_key: str = "") -> ProvisionRequest:
    """Admit and reserve a provisioning request, or raise ``QuotaExceeded`` (or ``SpecError``).

    ``spec`` is the request as ``ProvisionSpec.parse`` built it (the API serializer does), or its
    raw fields, parsed here by the same function. Admission itself checks only the account, the
    project and the limits.

    An admitted request is ``pending`` with an active reservation; the provisioning task is
    queued when the transaction commits. A refused one is recorded too (state ``refused``, with
    the message) so the project's request history shows it.
    """
    if not isinstance(spec, ProvisionSpec):
        spec = build_spec(account, spec)
    check_account(account, project)
    requester = user if user is not None and getattr(user, "is_authenticated", False) else None
    first = assess(project, account, spec)  # on committed data, no lock
    want = first.want

    def record(refusal: QuotaExceeded | None) -> ProvisionRequest:
        return ProvisionRequest.objects.create(
            project=project, account=account, requested_by=requester, kind=spec.kind,
            spec={**spec.as_json(), "source": source}, idempotency_key=idempotency_key,
            state=RequestState.REFUSED if refusal else RequestState.PENDING,
            message=refusal.message if refusal else "",
            finished_at=timezone.now() if refusal else None,
        )

    def admit() -> tuple[ProvisionRequest, QuotaExceeded | None]:
        policy = lock_project(project)
        refusal = _refusal(project, account, want, policy, _scopes(project, account))
        request = record(refusal)
        if refusal is None:
            Reservation.objects.create(
                request=request, project=project, account=account,
                vms=int(want[QuotaKey.VMS]), containers=int(want[QuotaKey.CONTAINERS]),
                vcpus=want[QuotaKey.VCPUS], ram_mb=int(want[QuotaKey.RAM_MB]), disk_gb=want[QuotaKey.DISK_GB],
                volumes=int(want[QuotaKey.VOLUMES]), cost=want[QuotaKey.BUDGET],
            )
            transaction.on_commit(lambda: hand_off(request.pk))
        return request, refusal

    if first.refusal is not None:
        record(first.refusal)
        raise first.refusal
    request, refusal = serialised(admit)
    if refusal is not None:
        raise refusal
    return request


class QueueUnavailable(Exception):
    """The request was admitted, but its task could not be queued: it is failed and released."""


def hand_off(request_id: int) -> None:
    """After commit: queue the provisioning task. If the broker cannot be reached, the request ends
    ``failed`` and its reservation is released at once (no reservation outlives its request), and
    ``QueueUnavailable`` tells the caller to answer 503. A process that dies between the commit and
    this call leaves a pending request that ``sweep_requests`` releases after its timeout."""
    try:
        enqueue_provision(request_id)
    except BrokerError as exc:
        request = ProvisionRequest.objects.get(pk=request_id)
        release(request, state=RequestState.FAILED,
                message="not started: the task queue could not be reached; nothing was provisioned, ask again")
        log.warning("audit: released the reservation of provision request %s: the task queue could not be "
                    "reached (%s)", request_id, exc)
        raise QueueUnavailable(str(exc)) from exc


def enqueue_provision(request_id: int) -> None:
    """Queue the provisioning task (tests and benchmarks replace this to provision in-process)."""
    task("metering.provision_request").apply_async((request_id,), ignore_result=True)


def release(request: ProvisionRequest, *, state: str | None = None, message: str = "") -> bool:
    """Release ``request``'s reservation (idempotent); optionally finish the request as ``state``.

    Returns whether a reservation was active.
    """
    now = timezone.now()
    released = Reservation.objects.filter(request=request, active=True).update(active=False, released_at=now)
    if state is not None:
        ProvisionRequest.objects.filter(pk=request.pk).update(state=state, message=message, finished_at=now)
        request.state, request.message, request.finished_at = state, message, now
    return released == 1
