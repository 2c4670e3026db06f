"""The overview's quota and cost panels, read from the quotas and chargeback rooms.

Limits come from ``metering.quotas.usage.project_usage`` (Horizon's ``QuotaUsage``: used plus
reserved against the limit), the month's cost to date and forecast from
``metering.chargeback.costs.month_figures``, open breaches from ``QuotaBreach``. The forecast is
computed once and handed to the usage builder, which counts it as the budget's "used".
"""

from __future__ import annotations

from django.utils import timezone

from metering.chargeback.costs import CostSummary, ResourceCosts, month_figures, month_of
from metering.choices import QuotaKey
from metering.models import BudgetAlert, Project, QuotaBreach
from metering.quotas.usage import project_usage
from portal.web import charts


def month_cost(project: Project, report=None, report_end=None) -> tuple[CostSummary, ResourceCosts | None]:
    """The month's cost summary and each resource's cost this month (None when not known); the
    page's usage report of [first of the month, ``report_end``) is reused if it has one."""
    return month_figures(project, report=report, report_end=report_end)


def limits(project: Project, cost: CostSummary) -> list[dict]:
    """One doughnut per limit in ``charts.LIMIT_CHARTS``; the budget counts the month's forecast."""
    usage = project_usage(project, forecast=cost.forecast)
    out = []
    for i, chart in enumerate(charts.LIMIT_CHARTS):
        quota = usage[chart.key]
        data = charts.limit_doughnut(chart, quota.in_use, quota.limit)
        if chart.key == QuotaKey.BUDGET and cost.currency:
            data["unit"] = f"{cost.currency} forecast this month"
        out.append({"id": f"chart-limit-{i}", "data": data, "reserved": quota.reserved})
    return out


def open_breaches(project: Project) -> list[QuotaBreach]:
    return list(QuotaBreach.objects.filter(project=project, closed_at__isnull=True).order_by("key"))


def budget_alerts(project: Project) -> list:
    """This month's highest fired budget threshold per basis (cost to date, forecast)."""
    start, _ = month_of(timezone.now())
    seen, out = set(), []
    for alert in BudgetAlert.objects.filter(project=project, period_start=start).order_by("-threshold"):
        if alert.basis not in seen:
            seen.add(alert.basis)
            out.append(alert)
    return out
