"""The project overview: limits, the period's usage summary, a daily chart, the usage table, CSV.

Horizon's project overview is the floor. The page and its CSV are one view and one report
(``?format=csv`` streams ``metering.export.usage_rows`` of the same ``usage_report``), so the
download is exactly the table. Everything is read from the database; no provider is called.
"""

from __future__ import annotations

import re

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe

from metering import ledger
from metering.chargeback.costs import month_of, resource_costs
from metering.choices import BillingMode, Measure
from metering.export import csv_stream, usage_rows
from metering.reports import usage_report
from portal import units
from portal.web import charts, panels
from portal.web.daily import vcpu_hours_by_day
from portal.web.forms import PeriodForm, quick_picks, today
from portal.web.home import all_projects_home
from portal.web.selection import select, selected_project, visible_project_or_404
from providers.base import State

PAGE_SIZE = 100
#: where a row's uptime goes in the cached rows: a raw "<" only comes from the templates, never from data
UPTIME = re.compile(r"<uptime (\d+)>")


@login_required
def home(request):
    """``/``: staff land on the all-projects home; others on their selected project's overview,
    or what to do when there is none."""
    if request.user.is_staff and not request.GET:
        return all_projects_home(request)
    project = selected_project(request)
    if project is None:
        return render(request, "web/no_projects.html", {"title": "Overview"})
    url = f"/projects/{project.slug}/"
    if request.GET:
        url += "?" + request.GET.urlencode()
    return redirect(url)


def _period_links(request) -> list[dict]:
    return [{"label": label, "query": f"?start={a.isoformat()}&end={b.isoformat()}"}
            for label, a, b in quick_picks(today())]


@login_required
def project_overview(request, slug: str):
    project = visible_project_or_404(request, slug)
    select(request, project)
    form = PeriodForm(request.GET)
    start, end = form.range_or_default()
    if request.GET.get("format") == "csv":
        if not form.is_valid():
            errors = "; ".join(e for errs in form.errors.values() for e in errs)
            return HttpResponse(f"invalid period: {errors}\n", status=400, content_type="text/plain")
        report = usage_report(start, end, project=project)
        costs = resource_costs(project, start, end, report)
        response = StreamingHttpResponse(csv_stream(usage_rows(report, costs=costs)),
                                         content_type="text/csv; charset=utf-8")
        first, last = form.cleaned_data["start"], form.cleaned_data["end"]
        response["Content-Disposition"] = f'attachment; filename="usage-{project.slug}-{first}-{last}.csv"'
        return response

    now = timezone.now()
    lo, hi = month_of(now)
    this_month = start == lo and now <= end <= hi
    tz = timezone.get_current_timezone()
    # what the ledger decides, computed once per ledger version (metering.ledger)
    view = ledger.cached("overview/2", (project.pk, start, end, this_month, str(tz), request.GET.get("page")),
                         lambda: _ledger_view(project, start, end, this_month, tz, request.GET.get("page")))
    # the month's cost panel reads the clock (fixed costs to date, the forecast from now): read live,
    # from the month-to-date statement cached by ledger and rate book
    cost, _ = panels.month_cost(project)
    page = Paginator(range(view["row_count"]), PAGE_SIZE).get_page(view["page"])
    uptimes = [humanize_seconds(max(0.0, (now - started).total_seconds())) if started is not None else ""
               for started in view["started"]]
    table_rows = mark_safe(UPTIME.sub(lambda m: escape(uptimes[int(m.group(1))]), view["table_rows"]))
    costs = view["costs"]
    totals = view["totals"]
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("format", None)
    context = {
        "title": f"Overview · {project.name}",
        "project": project,
        "form": form,
        "period_links": _period_links(request),
        "start": start,
        "end": end,
        "active": view["active"],
        "totals": totals,
        "summary": [
            ("vCPU-hours", totals[Measure.VCPU_HOURS]),
            (Measure.RAM_GB_HOURS.label, totals[Measure.RAM_GB_HOURS]),
            (Measure.DISK_GB_HOURS.label, totals[Measure.DISK_GB_HOURS]),
            ("Estimated hours", totals[Measure.ESTIMATED_HOURS]),
        ],
        "limits": panels.limits(project, cost),
        "breaches": panels.open_breaches(project),
        "budget_alerts": panels.budget_alerts(project),
        "cost": cost,
        "daily_chart": view["daily_chart"],
        "has_usage": view["has_usage"],
        "rows": bool(view["started"]),
        "table_rows": table_rows,
        "page": page,
        "row_count": view["row_count"],
        "show_cost": costs is not None,
        "cost_currency": costs if costs is not None else "",
        "csv_query": _csv_query(query),
        "page_query": query.urlencode(),
    }
    return render(request, "web/overview.html", context)


def _ledger_view(project, start, end, this_month: bool, tz, page_number) -> dict:
    """Everything on the overview that the ledger alone decides (usage, each row's cost, the daily
    chart), for one page of the table; small enough to cache. ``started_at`` stays a time so the
    page shows uptime at its own clock."""
    report = usage_report(start, end, project=project)
    # one statement per page: when the period is this month, the month-to-date statement (cached)
    # gives each row's cost
    cost, month_costs = panels.month_cost(project, report=report if this_month else None, report_end=end)
    if project.billing_mode == BillingMode.SHOWBACK:
        costs = None
    elif this_month and (month_costs is not None or not cost.currency):
        costs = month_costs
    else:
        costs = resource_costs(project, start, end, report)
    days, series = vcpu_hours_by_day(start, end, tz, [project.pk])
    page = Paginator(report.rows, PAGE_SIZE).get_page(page_number)
    rows = []
    for i, r in enumerate(page.object_list):
        row = _row(r, costs)
        row["uptime"] = mark_safe(f"<uptime {i}>")  # filled in per request: it moves with the clock
        rows.append(row)
    return {
        "row_count": len(report.rows),
        "page": page.number,
        # the page's rows as HTML, the expensive part of rendering the page
        "table_rows": render_to_string("web/_usage_rows.html", {"rows": rows, "show_cost": costs is not None}),
        "started": [r.started_at if r.state == State.RUNNING else None for r in page.object_list],
        "totals": report.totals,
        "active": report.active(),
        "costs": costs.currency if costs is not None else None,
        "daily_chart": charts.stacked_bars("vCPU-hours per day", [d.isoformat() for d in days], series, "vCPU-hours"),
        "has_usage": any(any(v for v in values) for values in series.values()),
    }


def _csv_query(query) -> str:
    q = query.copy()
    q["format"] = "csv"
    return "?" + q.urlencode()


def _row(r, costs) -> dict:
    """One table row, formatted here (cheaper than template filters on every cell); uptime is the
    caller's (it moves with the clock)."""
    hours = r.measures[Measure.INSTANCE_HOURS] + r.measures[Measure.CONTAINER_HOURS]
    unlimited = "unlimited" if r.kind == "container" else ""
    return {
        "url": reverse("web:resource_detail", args=[r.resource_id]),
        "name": r.name,
        "kind": r.kind,
        "provider": r.provider,
        "vcpus": units.number(r.vcpus) if r.vcpus is not None else unlimited,
        "ram_gib": units.gib_from_mib(r.ram_mb) if r.ram_mb is not None else unlimited,
        "disk_gb": units.number(r.disk_gb) if r.disk_gb is not None else "",
        "state": r.state,
        "hours": units.number(hours, 2) if r.kind in ("vm", "container") else "—",
        "vcpu_hours": units.number(r.measures[Measure.VCPU_HOURS], 2),
        "cost": costs.get(r.resource_id) if costs is not None else None,
        "estimated": r.estimated,
        "estimated_hours": f"{r.measures[Measure.ESTIMATED_HOURS]:.2f}",
    }


def humanize_seconds(seconds: float) -> str:
    """3 d 4 h, 5 h 12 min, 7 min: the two largest units, to the minute (``portal.units``)."""
    return units.duration(int(seconds // 60) * 60) if seconds >= 60 else "0 min"

