"""The all-projects home staff land on: what needs attention across every project this month.

Totals (live resources by kind, projects, cost to date per currency), the top projects by cost
and by vCPU-hours, unhealthy providers, open breaches, unassigned resources and the budget
thresholds fired this month. Members land on their project's overview instead (``overview.home``).
Read from the database only; each panel reuses the service its own page uses.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from django.db.models import Count
from django.shortcuts import render
from django.utils import timezone

from metering.chargeback.costs import month_of
from metering.choices import AccountHealth, Measure
from metering.models import BudgetAlert, Project, QuotaBreach, Resource
from metering.reports import usage_report
from portal.web.chargeback import ranking
from providers.base import Kind
from providers.models import ProviderAccount

TOP = 5


def unhealthy_accounts():
    return ProviderAccount.objects.filter(collection__health=AccountHealth.UNHEALTHY).order_by("name")


def all_projects_home(request):
    now = timezone.now()
    start, end = month_of(now)
    live = Resource.objects.live()
    by_kind = dict(live.values_list("kind").annotate(n=Count("pk")).values_list("kind", "n"))
    costs = [r for r in ranking(start, now) if not r["problem"] and not r["showback"]] if now > start else []
    totals: Counter = Counter()
    for r in costs:
        totals[r["currency"]] += r["total"]
    usage = usage_report(start, now).by_project() if now > start else {}
    names = dict(Project.objects.values_list("slug", "name"))
    top_usage = sorted(((slug, m[Measure.VCPU_HOURS]) for slug, m in usage.items() if slug),
                       key=lambda kv: -kv[1])[:TOP]
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
