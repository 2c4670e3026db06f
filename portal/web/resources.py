"""Resource detail: properties, utilization charts from hourly rollups, segment history, actions.

Charts read ``UtilizationRollup`` for the last 24 hours, 7 or 30 days up to the resource's newest
observation. Actions are POSTed (CSRF-protected), allowed for members and up where the driver
declares ``Capability.ACTIONS``, and only enqueued here (the task ``metering.resource_action``).
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from metering import access
from metering.actions import available_actions, mark_pending, pending_action
from metering.choices import Role
from metering.models import Resource, UtilizationRollup
from metering.tasks import resource_action
from portal import units
from portal.web import charts, resource_facts

WINDOWS = {"24h": ("24 hours", timedelta(hours=24)), "7d": ("7 days", timedelta(days=7)),
           "30d": ("30 days", timedelta(days=30))}
HISTORY_LIMIT = 200
SIZE_FIELDS = (("state", "state"), ("vcpus", "vCPUs"), ("ram_mb", "RAM GiB"), ("disk_gb", "disk GiB"),
               ("flavor", "flavor"), ("project_id", "project"))


def _resource_or_404(request, pk: int) -> Resource:
    qs = access.scope(Resource.objects.select_related("account", "project", "parent"), request.user)
    return get_object_or_404(qs, pk=pk)


def may_act(user, resource: Resource) -> bool:
    if resource.project is None:
        return user.is_staff
    return access.has_role(user, resource.project, Role.MEMBER)


@login_required
def resource_detail(request, pk: int):
    resource = _resource_or_404(request, pk)
    window = request.GET.get("window", "24h")
    if window not in WINDOWS:
        window = "24h"
    label, span = WINDOWS[window]
    end = resource.deleted_at or resource.last_seen  # the newest data there is
    start = end - span
    rollups = list(UtilizationRollup.objects.filter(resource=resource, hour__gte=start, hour__lte=end)
                   .order_by("hour").values("hour", "cpu_pct_avg", "cpu_pct_max", "memory_avg_mb", "memory_max_mb"))
    tz = timezone.get_current_timezone()
    hours = [r["hour"].astimezone(tz).strftime("%m-%d %H:00") for r in rollups]
    cpu = charts.lines(f"CPU use, % of one vCPU, per hour ({label})", hours, {
        "average": [r["cpu_pct_avg"] for r in rollups], "peak": [r["cpu_pct_max"] for r in rollups]}, "%")
    memory = charts.lines(f"Memory used, GiB, per hour ({label})", hours, {
        "average": [_gib(r["memory_avg_mb"]) for r in rollups],
        "peak": [_gib(r["memory_max_mb"]) for r in rollups]}, "GiB")
    pending = pending_action(resource)
    busy = pending is not None and not pending["error"]  # a failed action offers the actions again
    actions = available_actions(resource) if may_act(request.user, resource) and not busy else ()
    parent = (access.scope(Resource.objects.filter(pk=resource.parent_id), request.user).first()
              if resource.parent_id else None)
    return render(request, "web/resource_detail.html", {
        "title": f"{resource.get_kind_display()} {resource.name}",
        "resource": resource,
        "parent": parent,
        "children": access.scope(resource.children.select_related("account"), request.user).order_by("kind", "name"),
        "window": window,
        "windows": [(k, v[0]) for k, v in WINDOWS.items()],
        "cpu_chart": cpu,
        "memory_chart": memory,
        "has_utilization": bool(rollups),
        "history": history(resource),
        "actions": actions,
        "pending": pending,
        "uptime": (end - resource.started_at) if resource.started_at else None,
        "disks": resource_facts.disks(resource.properties),
        "nics": resource_facts.nics(resource.properties),
        "addresses": resource_facts.addresses(resource.properties),
        "host": resource_facts.host_name(resource, parent is not None),
        "other_properties": resource_facts.other_properties(resource.properties),
    })


def _gib(mib):
    return None if mib is None else round(float(mib) / 1024, 3)


def history(resource: Resource) -> list[dict]:
    """Segments newest first, each with what changed from the one before it."""
    segments = list(resource.segments.select_related("project").order_by("-start")[:HISTORY_LIMIT])
    out = []
    for i, seg in enumerate(segments):
        before = segments[i + 1] if i + 1 < len(segments) else None
        changes = []
        if before is None:
            changes.append("first observed")
        else:
            for field, name in SIZE_FIELDS:
                old, new = getattr(before, field), getattr(seg, field)
                if old != new:
                    if field == "project_id":
                        old, new = before.project or "none", seg.project or "none"
                    elif field == "ram_mb":
                        old, new = units.gib_from_mib(old), units.gib_from_mib(new)
                    elif field in ("vcpus", "disk_gb"):
                        old, new = units.number(old), units.number(new)
                    changes.append(f"{name} {old if old not in (None, '') else '—'} → "
                                   f"{new if new not in (None, '') else '—'}")
            if not changes and before.estimated != seg.estimated:
                changes.append("observed again after a gap" if before.estimated else "gap without observations")
        out.append({"segment": seg, "changes": changes or ["no change (continued)"],
                    "duration": seg.end - seg.start})
    return out


@login_required
@require_POST
def resource_action_view(request, pk: int):
    resource = _resource_or_404(request, pk)
    action = request.POST.get("action", "")
    if not may_act(request.user, resource):
        raise PermissionDenied("members and above may act on resources")
    if action not in available_actions(resource):
        return HttpResponseBadRequest(f"action {action!r} is not available for this resource")
    mark_pending(resource, action)
    resource_action.delay(resource.pk, action, request.user.pk)
    messages.success(request, f"{action.capitalize()} requested for {resource.name}; "
                              "this page follows it until a refresh observes the result.")
    return redirect("web:resource_detail", pk=resource.pk)
