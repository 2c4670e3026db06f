"""Admin overview (staff): every project's usage for a period, like Horizon's admin overview.

Rows come from one ``usage_report`` over every project, grouped with ``by_project()``; the CSV is
the same rows (``?format=csv``), streamed.
"""

from __future__ import annotations

from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render

from metering import ledger
from metering.choices import Measure
from metering.export import csv_stream
from metering.models import Project
from metering.reports import UNITS, usage_report
from portal.web.forms import PeriodForm, quick_picks, today
from portal.web.selection import staff_required

COLUMNS = [Measure.INSTANCE_HOURS, Measure.CONTAINER_HOURS, Measure.VCPU_HOURS, Measure.RAM_GB_HOURS,
           Measure.DISK_GB_HOURS, Measure.RUNNING_HOURS, Measure.ESTIMATED_HOURS]


def project_rows(report) -> list[dict]:
    """One row per project with usage in the period (unassigned resources last), with resource counts."""
    counts: dict[str | None, int] = {}
    for row in report.rows:
        counts[row.project] = counts.get(row.project, 0) + 1
    names = dict(Project.objects.filter(slug__in=[s for s in counts if s]).values_list("slug", "name"))
    out = []
    for slug, measures in sorted(report.by_project().items(), key=lambda kv: (kv[0] is None, kv[0] or "")):
        out.append({"slug": slug, "name": names.get(slug, "(no project)") if slug else "(no project)",
                    "resources": counts.get(slug, 0), "values": [measures[m] for m in COLUMNS]})
    return out


def usage_by_project(start, end) -> dict:
    """The page's figures from one usage report of every project (cached by ledger version)."""
    report = usage_report(start, end)
    totals = report.totals
    return {"rows": project_rows(report), "totals": [totals[m] for m in COLUMNS], "resources": len(report.rows)}


def csv_rows(start, end, rows):
    yield ["Usage by project", "all projects"]
    yield ["From", start]
    yield ["To (exclusive)", end]
    yield []
    yield ["Project", "Name", "Resources", *[f"{Measure(m).label} ({UNITS[m]})" for m in COLUMNS]]
    for r in rows:
        yield [r["slug"] or "", r["name"], r["resources"], *r["values"]]


@staff_required
def admin_overview(request):
    form = PeriodForm(request.GET)
    start, end = form.range_or_default()
    if request.GET.get("format") == "csv" and not form.is_valid():
        errors = "; ".join(e for errs in form.errors.values() for e in errs)
        return HttpResponse(f"invalid period: {errors}\n", status=400, content_type="text/plain")
    usage = ledger.cached("admin_overview/1", (start, end), lambda: usage_by_project(start, end))
    rows = usage["rows"]
    if request.GET.get("format") == "csv":
        response = StreamingHttpResponse(csv_stream(csv_rows(start, end, rows)), content_type="text/csv; charset=utf-8")
        first, last = form.cleaned_data["start"], form.cleaned_data["end"]
        response["Content-Disposition"] = f'attachment; filename="usage-by-project-{first}-{last}.csv"'
        return response
    query = request.GET.copy()
    query["format"] = "csv"
    return render(request, "web/admin_overview.html", {
        "title": "Admin overview",
        "form": form,
        "period_links": [{"label": label, "query": f"?start={a}&end={b}"} for label, a, b in quick_picks(today())],
        "start": start,
        "end": end,
        "columns": [f"{Measure(m).label}" for m in COLUMNS],
        "rows": rows,
        "totals": usage["totals"],
        "resource_total": usage["resources"],
        "csv_query": "?" + query.urlencode(),
    })
