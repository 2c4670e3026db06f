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

On PostgreSQL the same steps (check on committed data, lock only when the request fits, re-check
and reserve) are one network round trip: ``metering.quotas.roundtrip``, so the lock is held only
while the server runs the re-check and the commit. SQLite, embedded, keeps the steps in Python
(``_decide_in_python``); both give the same answers and run the same tests.

The budget is priced once per request: the month's forecast and what the request adds to it,
only when a budget limit applies to the request's scopes.
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

from metering import launching
from metering.choices import BreachPolicy, QuotaKey, RequestState
from metering.handoff import task
from metering.models import Project, ProvisionRequest, QuotaBreach, Reservation
from metering.quotas import roundtrip
from metering.quotas.contributions import adds
from metering.quotas.limits import KEYS
from metering.quotas.usage import ZERO, budget_delta, budget_forecast, number, usage_by_scope
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


#: Nova's wording of a refusal; PostgreSQL's statement words it from this same template
EXCEEDED = "Quota exceeded for {key}{scope}: Requested {requested}, but already used {used} of {limit} {key}"


def scope_text(account) -> str:
    """How a refusal names a limit narrowed to ``account`` (nothing for a global limit)."""
    return f" on {account}" if account is not None else ""


def exceeded_message(key: str, requested, used, limit: int, account=None) -> str:
    return EXCEEDED.format(key=key, scope=scope_text(account), requested=number(requested), used=number(used),
                           limit=limit)


# -- the request -------------------------------------------------------------------------------------


def check_account(account, project) -> None:
    """Whether ``account`` takes requests for ``project`` (the launch form's rule,
    ``launching.refusal``); raises ``SpecError`` on ``account`` if not."""
    why = launching.refusal(account, project)
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


def requested(spec: ProvisionSpec) -> dict[str, Decimal]:
    """What a request counts against each key, by the table live usage counts with
    (``metering.quotas.contributions``); the budget is priced by ``_with_cost`` when it applies."""
    want = dict.fromkeys(KEYS, ZERO)
    want.update(adds(spec.kind, spec))
    return want


def build_spec(account, fields: Mapping) -> ProvisionSpec:
    """A request's fields as the driver's ``ProvisionSpec``: a flavor's sizes filled in from the
    platform, then ``ProvisionSpec.parse``. The API serializer, the launch form and ``submit`` all
    build specs here; raises ``SpecError``."""
    return ProvisionSpec.parse(with_flavor_sizes(account, fields) if account is not None else fields)


def _price(project, account, want: dict[str, Decimal], kind: str) -> Decimal:
    """What the request adds to the month's forecast (the chargeback engine's rates)."""
    return budget_delta(project, account, vcpus=want[QuotaKey.VCPUS], ram_mb=int(want[QuotaKey.RAM_MB]),
                        disk_gb=want[QuotaKey.DISK_GB], kind=kind)


def _with_cost(project, account, want: dict[str, Decimal], kind: str, scopes) -> dict[str, Decimal]:
    """``want`` with its budget priced, where a budget limit applies to the request's scopes
    (pricing needs the chargeback engine's rates, so it is skipped otherwise)."""
    if all(usage[QuotaKey.BUDGET].unlimited for usage in scopes.values()):
        return want
    return {**want, QuotaKey.BUDGET.value: _price(project, account, want, kind)}


def _forecast_of(scopes) -> Decimal | None:
    """The month's forecast ``usage_by_scope`` computed for these scopes, or None if it did not
    (no budget limit in any scope of the project)."""
    if all(usage[QuotaKey.BUDGET].unlimited for usage in scopes.values()):
        return None
    return scopes[None][QuotaKey.BUDGET].used


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
    """The request's scopes: global, and the account's (unlimited where nothing is narrowed);
    ``forecast`` is the month's forecast when it is known already (it is not computed again)."""
    known = {project.pk: forecast} if forecast is not None else None
    return usage_by_scope([project.pk], accounts=(account.pk,), forecasts=known)[project.pk]


def _blocked(project: Project, want: dict[str, Decimal]) -> QuotaExceeded | None:
    """The refusal of a block-new project while a breach is open (the oldest one), or None."""
    breach = QuotaBreach.objects.filter(project=project, closed_at__isnull=True).order_by("opened_at").first()
    if breach is None:
        return None
    return QuotaExceeded(
        breach.key, want.get(breach.key, ZERO), breach.used, breach.limit,
        f"Quota exceeded for {breach.key}: the project is over its limit ({number(breach.used)} of "
        f"{breach.limit} {breach.key}, since {breach.opened_at:%Y-%m-%d %H:%M} UTC) and new requests "
        f"are blocked until it is back under",
    )


def _refusal(project: Project, account, want: dict[str, Decimal], policy: str, scopes) -> QuotaExceeded | None:
    """The first limit the request would pass, or None."""
    if policy == BreachPolicy.BLOCK_NEW and (blocked := _blocked(project, want)) is not None:
        return blocked
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
    ask = _Ask(project, account, spec, requested(spec), requester, source, idempotency_key)
    if connection.vendor == "postgresql":
        request, refusal = _decide_in_one_round_trip(ask)
    else:
        request, refusal = _decide_in_python(ask)
    if refusal is not None:
        raise refusal
    transaction.on_commit(lambda: hand_off(request.pk))  # at once when no transaction is open
    return request


@dataclass
class _Ask:
    """One request being decided, and how it is recorded."""

    project: Project
    account: object
    spec: ProvisionSpec
    want: dict[str, Decimal]
    requester: object
    source: str
    idempotency_key: str

    def fields(self) -> dict:
        return {"project": self.project, "account": self.account, "requested_by": self.requester,
                "kind": self.spec.kind, "spec": {**self.spec.as_json(), "source": self.source},
                "idempotency_key": self.idempotency_key}

    def record(self, refusal: QuotaExceeded | None) -> ProvisionRequest:
        return ProvisionRequest.objects.create(
            **self.fields(), state=RequestState.REFUSED if refusal else RequestState.PENDING,
            message=refusal.message if refusal else "", finished_at=timezone.now() if refusal else None)


def _decide_in_python(ask: _Ask) -> tuple[ProvisionRequest | None, QuotaExceeded | None]:
    """The decision in Python (SQLite): checked on committed data, then re-checked under the lock."""
    project, account = ask.project, ask.account
    first = assess(project, account, ask.spec)  # on committed data, no lock (what a preview shows)
    forecast = _forecast_of(first.scopes)
    want = first.want

    def admit() -> tuple[ProvisionRequest, QuotaExceeded | None]:
        policy = lock_project(project)
        refusal = _refusal(project, account, want, policy, _scopes(project, account, forecast))
        request = ask.record(refusal)
        if refusal is None:
            Reservation.objects.create(
                request=request, project=project, account=account,
                vms=int(want[QuotaKey.VMS]), containers=int(want[QuotaKey.CONTAINERS]),
                vcpus=want[QuotaKey.VCPUS], ram_mb=int(want[QuotaKey.RAM_MB]), disk_gb=want[QuotaKey.DISK_GB],
                volumes=int(want[QuotaKey.VOLUMES]), cost=want[QuotaKey.BUDGET],
            )
        return request, refusal

    if first.refusal is not None:
        return ask.record(first.refusal), first.refusal
    return serialised(admit)


def _decide_in_one_round_trip(ask: _Ask) -> tuple[ProvisionRequest | None, QuotaExceeded | None]:
    """The decision as ``roundtrip.decide`` makes it (PostgreSQL). A second round trip only when
    a budget limit applies (the request is priced first) or block-new refuses (worded here)."""
    project, account = ask.project, ask.account
    cost = forecast = None
    now = timezone.now()
    for _ in range(3):
        decision = roundtrip.decide(
            project_id=project.pk, account_id=account.pk,
            requester_id=ask.requester.pk if ask.requester is not None else None, kind=ask.spec.kind,
            spec=ask.fields()["spec"], idempotency_key=ask.idempotency_key, now=now, scope=scope_text(account),
            want=ask.want, cost=cost, forecast=forecast, template=EXCEEDED)
        if decision.verdict == "admitted":
            request = ProvisionRequest(pk=decision.request_id, **ask.fields(), state=RequestState.PENDING,
                                       message="", created_at=now)
            request._state.adding, request._state.db = False, connection.alias
            return request, None
        if decision.verdict == "refused":
            return None, QuotaExceeded(decision.key, decision.requested, decision.used, decision.limit,
                                       decision.message, account=account if decision.narrowed else None)
        if decision.verdict == "price":
            forecast = budget_forecast(project)
            cost = _price(project, account, ask.want, ask.spec.kind)
        elif decision.verdict == "blocked":
            refusal = _blocked(project, ask.want)
            if refusal is not None:  # else closed since: decide again
                return ask.record(refusal), refusal
    raise RuntimeError(f"admission did not settle: last verdict {decision.verdict!r}")


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
