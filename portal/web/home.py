"""The all-projects home staff land on: what needs attention across every project this month.

Totals (live resources by kind, projects, cost to date per currency), the top projects by cost
and by vCPU-hours, unhealthy providers, open breaches, unassigned resources and the budget
thresholds fired this month. Members land on their project's overview instead (``overview.home``).
Read from the database only; each panel reuses the service its own page uses.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from django.db.models import Count, Max
from django.shortcuts import render
from django.utils import timezone

from metering import ledger
from metering.chargeback.costs import month_figures, month_of
from metering.chargeback.rates import NoRatePlan, rate_book
from metering.choices import AccountHealth, BillingMode, Measure
from metering.models import BudgetAlert, Project, QuotaBreach, Resource, UsageSegment
from portal.web import admin_overview
from providers.base import Kind
from providers.models import ProviderAccount

TOP = 5


def unhealthy_accounts():
    return ProviderAccount.objects.filter(collection__health=AccountHealth.UNHEALTHY).order_by("name")


def costs_to_date(start, now) -> list[dict]:
    """Every billed project's cost this month to date, most expensive first: the overview's
    month-to-date figure (``month_figures``, cached by ledger and rate book), for the projects the
    chargeback ranking would price over [start, now) (a plan all along, not showback)."""
    rows = []
    for project in Project.objects.order_by("slug"):
        if project.billing_mode == BillingMode.SHOWBACK:
            continue
        try:
            book = rate_book(project, start, now)
            book.require_plans(start, now)
            if not book.currency:
                continue
        except (NoRatePlan, ValueError):
            continue
        cost = month_figures(project, now)[0]
        rows.append({"project": project, "total": cost.cost_to_date, "currency": cost.currency})
    return sorted(rows, key=lambda r: (-r["total"], r["project"].slug))


def all_projects_home(request):
    now = timezone.now()
    start, end = month_of(now)
    live = Resource.objects.live()
    by_kind = dict(live.values_list("kind").annotate(n=Count("pk")).values_list("kind", "n"))
    costs = costs_to_date(start, now) if now > start else []
    totals: Counter = Counter()
    for r in costs:
        totals[r["currency"]] += r["total"]
    usage = {}
    if now > start:
        # [start, now) and [start, end of month) hold the same usage while the ledger holds nothing
        # after now; the latter is the admin overview's month, cached by ledger version
        last_end = ledger.cached("last_end/1", (), lambda: UsageSegment.objects.aggregate(x=Max("end"))["x"])
        period_end = end if last_end is None or last_end <= now else now
        vcpu = admin_overview.COLUMNS.index(Measure.VCPU_HOURS)
        rows = ledger.cached("admin_overview/1", (start, period_end),
                             lambda: admin_overview.usage_by_project(start, period_end))["rows"]
        usage = {r["slug"]: r["values"][vcpu] for r in rows if r["slug"]}
    names = dict(Project.objects.values_list("slug", "name"))
    top_usage = sorted(usage.items(), key=lambda kv: -kv[1])[:TOP]
    alerts = {}
    for alert in (BudgetAlert.objects.filter(period_start=start).select_related("project")
                  .order_by("project__slug", "-threshold")):
        alerts.setdefault(alert.project.slug, alert)
    return render(request, "web/home.html", {
        "title": "All projects",
        "month": start,
        "projects": len(names),
        "by_kind": [(label, by_kind.get(kind, 0)) for kind, label in
                    ((Kind.HOST, "Hosts"), (Kind.VM, "VMs"), (Kind.CONTAINER, "Containers"), (Kind.VOLUME, "Volumes"))],
        "cost_totals": sorted(totals.items()),
        "top_cost": costs[:TOP],
        "top_usage": [{"slug": s, "name": names.get(s, s), "vcpu_hours": v.quantize(Decimal("0.1"))}
                      for s, v in top_usage],
        "unhealthy": unhealthy_accounts(),
        "breaches": QuotaBreach.objects.filter(closed_at__isnull=True).select_related("project", "account")
        .order_by("project__slug", "key")[:20],
        "unassigned": live.filter(project__isnull=True).exclude(kind=Kind.HOST).count(),
        "alerts": sorted(alerts.values(), key=lambda a: (-a.threshold, a.project.slug)),
    })
