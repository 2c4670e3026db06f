"""Provisioning an admitted request through the driver, and settling its reservation.

The collector owns every inventory write (segments start from its observations), so this module
does not insert the new resource itself: after the driver creates it, the account is refreshed
and the reservation is kept until the inventory shows the resource (``settle``, also run after
every refresh). Until then the reservation counts; after it, the resource does. For the moment
between the refresh's commit and the settle both count, which can only refuse, never over-admit.

A reservation whose request succeeded but whose resource never shows up in the inventory (deleted
at once, or mapped to another project) is released after ``RESERVATION_TTL``.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from metering import collector
from metering.choices import RequestState
from metering.launching import platform_project
from metering.models import ProvisionRequest, Reservation, Resource
from metering.quotas.admission import release
from providers.base import ProviderError, ProviderUnavailable, ProvisionSpec

log = logging.getLogger(__name__)

RESERVATION_TTL = timedelta(hours=1)


def project_ref(request: ProvisionRequest) -> str:
    """The project as the platform knows it: a mapped tenant id (Keystone), else the slug."""
    return platform_project(request.account, request.project)


def spec_of(request: ProvisionRequest) -> ProvisionSpec:
    """The stored request as the driver's ``ProvisionSpec``, aimed at the platform's project."""
    fields = {k: v for k, v in request.spec.items() if k in ProvisionSpec.FIELDS}
    return ProvisionSpec.parse(fields, project=project_ref(request))


def provision(request_id: int) -> ProvisionRequest:
    """Create the resource of one admitted request. Safe to run twice: only a ``pending`` request
    is claimed (a conditional UPDATE), so a redelivered task does nothing."""
    claimed = ProvisionRequest.objects.filter(pk=request_id, state=RequestState.PENDING).update(
        state=RequestState.PROVISIONING)
    request = ProvisionRequest.objects.select_related("account", "project").get(pk=request_id)
    if not claimed:
        return request
    account = request.account
    try:
        with account.driver() as driver:
            found = driver.provision(spec_of(request))
    except ProviderError as exc:
        release(request, state=RequestState.FAILED, message=f"{type(exc).__name__}: {exc}")
        return request
    request.spec = {**request.spec, "external_id": found.external_id}
    request.state, request.finished_at = RequestState.DONE, timezone.now()
    request.message = f"created {found.kind} {found.name!r} ({found.external_id})"
    request.save(update_fields=["spec", "state", "finished_at", "message"])
    try:
        collector.refresh(account, trigger="provision")
    except ProviderUnavailable as exc:  # the next scheduled refresh shows it; the reservation holds till then
        log.warning("refresh after provisioning %s failed: %s", found.external_id, exc)
    settle(account)
    request.refresh_from_db()
    return request


def settle(account, now=None) -> int:
    """Release the reservations of ``account``'s finished requests whose resource the inventory
    now shows (linking the request to it), or that waited longer than ``RESERVATION_TTL``."""
    now = now or timezone.now()
    waiting = list(Reservation.objects.filter(account=account, active=True, request__state=RequestState.DONE)
                   .select_related("request"))
    if not waiting:
        return 0
    wanted = {r.request.spec.get("external_id") for r in waiting} - {None}
    found = dict(Resource.objects.filter(account=account, external_id__in=wanted).values_list("external_id", "pk"))
    released = 0
    for reservation in waiting:
        request = reservation.request
        resource_id = found.get(request.spec.get("external_id"))
        if resource_id is not None:
            ProvisionRequest.objects.filter(pk=request.pk).update(resource_id=resource_id)
        elif request.finished_at and request.finished_at > now - RESERVATION_TTL:
            continue
        released += Reservation.objects.filter(pk=reservation.pk, active=True).update(active=False, released_at=now)
    return released
