"""``/recommendations/[?project=SLUG][&window=14|30][&format=csv]``: idle, oversized and long-stopped
VMs and containers of the projects the user can see, with evidence and the monthly saving; members
(and staff) dismiss or snooze one (``POST``), audited. The rules live in
``metering.recommendations``."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from metering import access, recommendations
from metering.choices import Role
from metering.export import csv_stream
from metering.models import Resource

SNOOZE_DAYS = (7, 30, 90)


def _scope(request):
    projects = access.visible_projects(request.user).order_by("slug")
    slug = request.GET.get("project", "")
    if slug:
        projects = projects.filter(slug=slug)
        if not projects.exists():
            raise Http404("no such project")
    return list(projects), slug


@login_required
def recommendation_list(request):
    if request.method == "POST":
        return _decide(request)
    projects, slug = _scope(request)
    window = request.GET.get("window", "14")
    window = int(window) if window in ("14", "30") else 14
    recs = recommendations.recommend(projects, window_days=window)
    if request.GET.get("format") == "csv":
        response = StreamingHttpResponse(csv_stream(recommendations.rows(recs)), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="recommendations-{slug or "all"}-{window}d.csv"'
        return response
    totals: dict[str, object] = {}
    for r in recs:
        if r.monthly_saving is not None:
            totals[r.currency] = totals.get(r.currency, 0) + r.monthly_saving
    query = request.GET.copy()
    query["format"] = "csv"
    return render(request, "web/recommendations.html", {
        "title": "Recommendations",
        "recs": recs,
        "window": window,
        "project_slug": slug,
        "projects": projects,
        "savings": sorted(totals.items()),
        "snooze_days": SNOOZE_DAYS,
        "csv_query": "?" + query.urlencode(),
        "thresholds": {"idle_cpu": recommendations.IDLE_CPU_PCT, "over_cpu": recommendations.OVERSIZED_CPU_PCT,
                       "over_mem": int(recommendations.OVERSIZED_MEM_RATIO * 100),
                       "stopped_days": recommendations.STOPPED_DAYS},
    })


def _decide(request):
    raw = request.POST.get("resource", "")
    resource = Resource.objects.select_related("project").filter(pk=raw if raw.isdigit() else 0).first()
    if resource is None or resource.project is None or not access.has_role(request.user, resource.project, Role.VIEWER):
        raise Http404("no such resource")
    if not access.has_role(request.user, resource.project, Role.MEMBER):
        raise PermissionDenied("members and admins of the project dismiss or snooze its recommendations")
    action, days = request.POST.get("action", ""), request.POST.get("days", "")
    until = timezone.now() + timedelta(days=int(days)) if action == "snooze" and days.isdigit() and int(days) in SNOOZE_DAYS else None
    try:
        recommendations.decide(resource, request.POST.get("kind", ""), action, user=request.user, until=until,
                               note=request.POST.get("note", ""))
    except ValueError as exc:
        messages.error(request, f"Not recorded: {exc}.")
    else:
        messages.success(request, f"{'Dismissed' if action == 'dismiss' else 'Snoozed'} the recommendation for "
                                  f"{resource.name}.")
    return redirect(request.get_full_path())
