"""``/chargeback/labels/?key=team[&key2=env][&period=YYYY-MM][&format=csv]``: usage and cost grouped
by the values of one label key, or two nested, over every project the user can see (staff: all).
The grouping and the inheritance rule live in ``metering.chargeback.by_label``."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render

from metering import access
from metering.chargeback.by_label import LabelReportError, cost_by_label, label_rows
from metering.export import csv_stream
from portal.web.forms import StatementPeriodForm, month_picks


@login_required
def cost_by_label_view(request):
    form = StatementPeriodForm(request.GET)
    start, end = form.range_or_default()
    keys = [request.GET.get("key", ""), request.GET.get("key2", "")]
    projects = access.visible_projects(request.user).order_by("slug")
    report, problem = None, ""
    if any(k.strip() for k in keys):
        try:
            report = cost_by_label(keys, start, end, projects=projects)
        except LabelReportError as exc:
            problem = str(exc)
    if request.GET.get("format") == "csv":
        if report is None:
            return HttpResponse((problem or "give a label key, e.g. ?key=team") + "\n", status=400,
                                content_type="text/plain")
        response = StreamingHttpResponse(csv_stream(label_rows(report)), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="cost-by-{"-".join(report.keys)}-{form.label()}.csv"'
        return response
    rows = list(label_rows(report)) if report is not None else []
    query = request.GET.copy()
    query["format"] = "csv"
    return render(request, "web/cost_by_label.html", {
        "title": "Cost by label",
        "form": form,
        "month_picks": month_picks(),
        "start": start,
        "end": end,
        "label": form.label(),
        "key": keys[0],
        "key2": keys[1],
        "report": report,
        "header": rows[0] if rows else [],
        "rows": rows[1:-1],
        "total": rows[-1] if rows else [],
        "problem": problem,
        "csv_query": "?" + query.urlencode(),
    })
