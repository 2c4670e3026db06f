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

import random
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from django.db import OperationalError, connection, transaction
from django.utils import timezone

from metering.choices import BreachPolicy, QuotaKey, RequestState
from metering.models import Project, ProvisionRequest, QuotaBreach, Reservation
from metering.quotas.limits import KEYS
from metering.quotas.usage import ZERO, budget_delta, budget_forecast, number, usage_by_scope
from providers.base import Capability, Kind, ProviderError

T = TypeVar("T")
LOCK_WAIT = 30.0  # seconds a SQLite admission keeps retrying for the write lock

#: what each provider kind calls the things it provisions, mapped to our kinds
KIND_ALIASES = {"vm": Kind.VM, "server": Kind.VM, "instance": Kind.VM, "container": Kind.CONTAINER,
                "volume": Kind.VOLUME}


class QuotaExceeded(Exception):
    """A request refused by a limit; ``message`` says which, as Nova does."""

    def __init__(self, key: str, requested, used, limit: int, message: str = "", account=None):
        self.key, self.requested, self.used, self.limit, self.account = key, requested, used, limit, account
        self.message = message or exceeded_message(key, requested, used, limit, account)
        super().__init__(self.message)


class SpecError(ValueError):
    """A malformed provisioning request; ``errors`` maps each bad field to a message."""

    def __init__(self, errors):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{field}: {message}" for field, message in self.errors.items()))


def exceeded_message(key: str, requested, used, limit: int, account=None) -> str:
    scope = f" on {account}" if account is not None else ""
    return (f"Quota exceeded for {key}{scope}: Requested {number(requested)}, "
            f"but already used {number(used)} of {limit} {key}")


# -- the request -------------------------------------------------------------------------------------


def _decimal(errors, spec, name, *, whole=False):
    raw = spec.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        errors[name] = f"must be a number, got {raw!r}"
        return None
    if not value.is_finite() or value <= 0 or (whole and value != value.to_integral_value()):
        errors[name] = f"must be a positive {'whole ' if whole else ''}number, got {raw!r}"
        return None
    return int(value) if whole else value


def _flavor_size(account, flavor: str, errors: dict, vcpus, ram_mb, disk_gb):
    """Fill the sizes a request left out from its flavor, as the platform defines it (a driver
    that knows flavors has ``flavor_size``); a flavor the platform does not know is a bad field."""
    try:
        with account.driver() as driver:
            if not hasattr(driver, "flavor_size"):
                return vcpus, ram_mb, disk_gb
            f_vcpus, f_ram, f_disk = driver.flavor_size(flavor)
    except ProviderError as exc:
        errors["flavor"] = str(exc)
        return vcpus, ram_mb, disk_gb
    return (vcpus if vcpus is not None else f_vcpus, ram_mb if ram_mb is not None else f_ram,
            disk_gb if disk_gb is not None else (f_disk or None))


def clean_spec(account, spec: dict) -> dict:
    """The request as stored on ``ProvisionRequest.spec``; raises ``SpecError`` naming bad fields."""
    errors: dict[str, str] = {}
    if not account.enabled:
        errors["account"] = f"provider account {account.name!r} is disabled"
    elif Capability.PROVISION not in account.driver_class.capabilities:
        errors["account"] = f"provider account {account.name!r} ({account.kind}) cannot provision"
    name = str(spec.get("name") or "").strip()
    if not name:
        errors["name"] = "is required"
    kind = KIND_ALIASES.get(str(spec.get("kind") or "").lower())
    if kind is None:
        errors["kind"] = f"must be one of {', '.join(KIND_ALIASES)}, got {spec.get('kind')!r}"
    vcpus = _decimal(errors, spec, "vcpus")
    ram_mb = _decimal(errors, spec, "ram_mb", whole=True)
    disk_gb = _decimal(errors, spec, "disk_gb")
    if kind == Kind.VM and spec.get("flavor") and (vcpus is None or ram_mb is None) and not errors:
        vcpus, ram_mb, disk_gb = _flavor_size(account, str(spec["flavor"]), errors, vcpus, ram_mb, disk_gb)
    if kind == Kind.VM:
        for field, value in (("vcpus", vcpus), ("ram_mb", ram_mb)):
            if value is None and field not in errors:
                errors[field] = "is required for a VM (give the flavor's size too)"
    if kind == Kind.VOLUME and disk_gb is None and "disk_gb" not in errors:
        errors["disk_gb"] = "is required for a volume"
    command = spec.get("command") or []
    if not isinstance(command, list) or not all(isinstance(c, str) for c in command):
        errors["command"] = "must be a list of strings"
    labels = spec.get("labels") or {}
    if not isinstance(labels, dict):
        errors["labels"] = "must be a mapping of strings"
    unknown = set(spec) - {"name", "kind", "vcpus", "ram_mb", "disk_gb", "image", "flavor", "command", "labels",
                           "network"}
    for field in sorted(unknown):
        errors[field] = "unknown field"
    if errors:
        raise SpecError(errors)
    return {
        "name": name, "kind": kind,
        "vcpus": str(vcpus) if vcpus is not None else None, "ram_mb": ram_mb,
        "disk_gb": str(disk_gb) if disk_gb is not None else None,
        "image": str(spec.get("image") or ""), "flavor": str(spec.get("flavor") or ""),
        "command": command, "labels": {str(k): str(v) for k, v in labels.items()},
        "network": str(spec.get("network") or ""),
    }


def requested(spec: dict) -> dict[str, Decimal]:
    """What a cleaned request counts against each key, by the same rules as live usage."""
    kind = spec["kind"]
    vcpus = Decimal(spec["vcpus"] or 0)
    ram = Decimal(spec["ram_mb"] or 0)
    disk = Decimal(spec["disk_gb"] or 0)
    want = dict.fromkeys(KEYS, ZERO)
    if kind == Kind.VM:
        want.update(vms=Decimal(1), vcpus=vcpus, ram_mb=ram, disk_gb=disk)
    elif kind == Kind.CONTAINER:
        want.update(containers=Decimal(1), vcpus=vcpus, ram_mb=ram)
    elif kind == Kind.VOLUME:
        want.update(volumes=Decimal(1), disk_gb=disk)
    return want


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


def _refusal(project: Project, account, want: dict[str, Decimal], spec: dict, policy: str,
             priced: dict) -> QuotaExceeded | None:
    """The first limit the request would pass, or None.

    The budget is priced only when a budget limit applies (``want["budget"]`` is set then, so the
    reservation holds the forecast cost); pricing needs the chargeback engine's rates. ``priced``
    keeps the month's forecast between the unlocked check and the locked one: it comes from the
    inventory, which admissions do not change (their reservations are counted apart).
    """
    if policy == BreachPolicy.BLOCK_NEW:
        breach = QuotaBreach.objects.filter(project=project, closed_at__isnull=True).order_by("opened_at").first()
        if breach is not None:
            return QuotaExceeded(
                breach.key, want.get(breach.key, ZERO), breach.used, breach.limit,
                f"Quota exceeded for {breach.key}: the project is over its limit ({number(breach.used)} of "
                f"{breach.limit} {breach.key}, since {breach.opened_at:%Y-%m-%d %H:%M} UTC) and new requests "
                f"are blocked until it is back under",
            )
    scopes = usage_by_scope([project.pk])[project.pk]  # global, and each account with narrowed limits
    for scope_account in (None, account):
        usage = scopes.get(scope_account.pk if scope_account is not None else None)
        if usage is None:
            continue  # nothing narrowed to this account
        for key in KEYS:
            quota = usage[key]
            if key == QuotaKey.BUDGET:
                if quota.unlimited:
                    continue
                if "forecast" not in priced:
                    priced["forecast"] = budget_forecast(project)
                    want[QuotaKey.BUDGET] = budget_delta(
                        project, account, vcpus=want[QuotaKey.VCPUS], ram_mb=int(want[QuotaKey.RAM_MB]),
                        disk_gb=want[QuotaKey.DISK_GB], kind=spec["kind"])
                cost = want[QuotaKey.BUDGET]
                in_use = priced["forecast"] + quota.reserved
                if cost > 0 and in_use + cost > quota.limit:
                    return QuotaExceeded(key, cost, in_use, quota.limit, account=scope_account)
            elif not quota.allows(want[key]):
                return QuotaExceeded(key, want[key], quota.in_use, quota.limit, account=scope_account)
    return None


def submit(project: Project, account, spec: dict, *, user, source: str, idempotency_key: str = "") -> ProvisionRequest:
    """Admit and reserve a provisioning request, or raise ``QuotaExceeded`` (or ``SpecError``).

    An admitted request is ``pending`` with an active reservation; the provisioning task is
    queued when the transaction commits. A refused one is recorded too (state ``refused``, with
    the message) so the project's request history shows it.
    """
    cleaned = clean_spec(account, spec)
    want = requested(cleaned)
    requester = user if user is not None and getattr(user, "is_authenticated", False) else None
    priced: dict = {}

    def record(refusal: QuotaExceeded | None) -> ProvisionRequest:
        return ProvisionRequest.objects.create(
            project=project, account=account, requested_by=requester, kind=cleaned["kind"],
            spec={**cleaned, "source": source}, idempotency_key=idempotency_key,
            state=RequestState.REFUSED if refusal else RequestState.PENDING,
            message=refusal.message if refusal else "",
            finished_at=timezone.now() if refusal else None,
        )

    def admit() -> tuple[ProvisionRequest, QuotaExceeded | None]:
        refusal = _refusal(project, account, want, cleaned, lock_project(project), priced)
        request = record(refusal)
        if refusal is None:
            Reservation.objects.create(
                request=request, project=project, account=account,
                vms=int(want[QuotaKey.VMS]), containers=int(want[QuotaKey.CONTAINERS]),
                vcpus=want[QuotaKey.VCPUS], ram_mb=int(want[QuotaKey.RAM_MB]), disk_gb=want[QuotaKey.DISK_GB],
                volumes=int(want[QuotaKey.VOLUMES]), cost=want[QuotaKey.BUDGET],
            )
            transaction.on_commit(lambda: enqueue_provision(request.pk))
        return request, refusal

    policy = Project.objects.filter(pk=project.pk).values_list("breach_policy", flat=True).get()
    refusal = _refusal(project, account, want, cleaned, policy, priced)  # on committed data, no lock
    if refusal is not None:
        record(refusal)
        raise refusal
    request, refusal = serialised(admit)
    if refusal is not None:
        raise refusal
    return request


def enqueue_provision(request_id: int) -> None:
    """Queue the provisioning task (tests and benchmarks replace this to provision in-process)."""
    from metering.quotas.tasks import provision_request

    provision_request.delay(request_id)


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
