"""What must hold after any fault: the ledger and the reservations, checked from the database.

Ledger: per resource, no two segments overlap, at most one is open (exactly one while the
resource is live), and the time its segments cover adds up to last seen - first seen (for a
resource with no provider start time, as the fake driver's here). Reservations: every active
reservation belongs to a request that is still pending or provisioning.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from metering.choices import RequestState
from metering.models import Reservation, Resource, UsageSegment


def violations() -> list[str]:
    found: list[str] = []
    segments = defaultdict(list)
    for seg in UsageSegment.objects.order_by("resource_id", "start"):
        segments[seg.resource_id].append(seg)
    for resource in Resource.objects.all():
        segs = segments.get(resource.pk, [])
        for before, after in zip(segs, segs[1:], strict=False):
            if after.start < before.end:
                found.append(f"resource {resource.pk}: segments {before.pk} and {after.pk} overlap")
        open_count = sum(s.open for s in segs)
        if open_count > 1 or (resource.deleted_at is None and open_count != 1):
            found.append(f"resource {resource.pk}: {open_count} open segments")
        covered = sum((s.end - s.start for s in segs), timedelta())
        if resource.started_at is None and covered != resource.last_seen - resource.first_seen:
            found.append(f"resource {resource.pk}: segments cover {covered}, "
                         f"last seen - first seen is {resource.last_seen - resource.first_seen}")
    live = [RequestState.PENDING, RequestState.PROVISIONING]
    for reservation in Reservation.objects.filter(active=True).exclude(request__state__in=live):
        found.append(f"reservation {reservation.pk} is active for a {reservation.request.state} request")
    return found
