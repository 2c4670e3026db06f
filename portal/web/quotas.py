"""Quotas (staff): every project's limits with usage bars, editing a project's limits and the site
defaults (like Horizon's Defaults panel), the audit trail, breaches, and drift against OpenStack.

Every change goes through ``metering.quotas.set_limits``/``set_defaults`` with source ``portal``,
so it is validated and audited exactly like the Django admin's and the ``quota`` command's.
Setting a limit below what is in use is allowed: the page then says what is over, and the save
itself re-evaluates breaches. Usage is counted live from the inventory (``usage_by_scope``: a
handful of queries for every project at once, the budget's forecast only for projects that have a
budget, since it costs a statement each).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from metering.choices import ChangeSource, PushOutcome, QuotaKey
from metering.models import UNLIMITED, Project, Quota, QuotaAudit, QuotaBreach, QuotaDefault
from metering.quotas import (
    QuotaUsage,
    QuotaValueError,
    drift,
    project_usage,
    set_defaults,
    set_limits,
    usage_by_scope,
)
from portal.web import charts
from portal.web.forms import QuotaLimitsForm
from portal.web.selection import staff_required
from providers.models import ProviderAccount

RECENT_BREACHES = timedelta(days=30)
AUDIT_ROWS = 50


def bar(chart: charts.LimitChart, quota: QuotaUsage) -> dict:
    """One limit as a usage bar: used (with reserved) against the limit, its level, ``<meter>`` bounds.

    The meter's scale runs to the larger of limit and usage, its "high" mark is the limit and its
    "low" mark 80 % of it, so browsers draw it green, amber from 80 % and red when over, the same
    levels as the overview's doughnuts (``charts.level``).
    """
    in_use = quota.in_use
    limit = None if quota.unlimited else Decimal(quota.limit)
    used, shown_limit = chart.shown(in_use), None if limit is None else chart.shown(limit)
    out = {
        "key": chart.key, "label": chart.label, "unit": chart.unit, "used": f"{used:f}",
        "limit": "unlimited" if shown_limit is None else f"{shown_limit:f}",
        "unlimited": limit is None, "reserved": f"{chart.shown(quota.reserved):f}" if quota.reserved else "",
        "level": charts.level(in_use, limit), "percent": quota.percent, "over_by": "",
    }
    if chart.key == QuotaKey.BUDGET and limit is None:
        out["used"] = "—"  # the month's forecast is only computed against a budget
    if shown_limit is not None:
        out["meter"] = {"max": f"{max(shown_limit, used):f}", "high": f"{shown_limit:f}",
                        "low": f"{shown_limit * charts.WARN_AT:f}", "value": f"{used:f}"}
        if quota.over:
            out["over_by"] = f"{chart.shown(quota.over_by):f}"
    return out


def _currency(project) -> str:
    """The currency the project's budget is priced in (its rate plan this month), or ""."""
    from django.utils import timezone

    from metering.chargeback.costs import month_of
    from metering.chargeback.rates import rate_book

    start, end = month_of(timezone.now())
    return rate_book(project, start, end).currency or ""


def bars(usage: dict[str, QuotaUsage], currency: str = "") -> list[dict]:
    """Every limit's bar; the budget's unit names the currency when there is a budget to price."""
    out = [bar(chart, usage[chart.key]) for chart in charts.LIMIT_CHARTS]
    for b in out:
        if b["key"] == QuotaKey.BUDGET and currency and not b["unlimited"]:
            b["unit"] = f"{currency} per month"
    return out


def limit_text(value: int | None, none: str) -> str:
    if value is None:
        return none
    return "unlimited" if value == UNLIMITED else str(value)


def breaches(project: Project | None = None) -> tuple[list[QuotaBreach], list[QuotaBreach]]:
    """(open breaches, breaches closed in the last 30 days), of one project or of all."""
    qs = QuotaBreach.objects.select_related("project", "account")
    if project is not None:
        qs = qs.filter(project=project)
    since = timezone.now() - RECENT_BREACHES
    return (list(qs.filter(closed_at__isnull=True).order_by("project__slug", "key")),
            list(qs.filter(closed_at__gte=since).order_by("-closed_at")[:20]))


@staff_required
def quota_list(request):
    projects = list(Project.objects.order_by("slug"))
    scopes = usage_by_scope([p.pk for p in projects])
    narrowed = set(Quota.objects.filter(account__isnull=False).values_list("project_id", flat=True))
    rows = [{"project": p, "narrowed": p.pk in narrowed,
             "bars": bars(scopes[p.pk][None], "" if scopes[p.pk][None][QuotaKey.BUDGET].unlimited else _currency(p))}
            for p in projects]
    open_breaches, closed = breaches()
    return render(request, "web/quotas.html", {
        "title": "Quotas",
        "columns": [chart.label for chart in charts.LIMIT_CHARTS],
        "rows": rows,
        "over_count": sum(1 for r in rows if any(b["level"] == "over" for b in r["bars"])),
        "open_breaches": open_breaches,
        "closed_breaches": closed,
    })


def _audit_rows(qs, none: str) -> list[dict]:
    return [{"at": a.at, "user": a.changed_by.get_username() if a.changed_by else "—",
             "source": a.get_source_display(), "key": QuotaKey(a.key).label,
             "scope": (f"{a.account.name}/{a.external_id}" if a.external_id else a.account.name) if a.account
             else "global",
             "old": limit_text(a.old, "not reported" if a.outcome else none), "new": limit_text(a.new, none),
             "outcome": a.get_outcome_display() if a.outcome else "", "failed": a.outcome == PushOutcome.FAILED,
             "message": a.message}
            for a in qs.select_related("changed_by", "account")[:AUDIT_ROWS]]


def _over_message(project: Project, usage: dict[str, QuotaUsage]) -> str:
    over = [f"{QuotaKey(q.key).label} ({q.in_use.normalize():f} in use of {q.limit})" for q in usage.values() if q.over]
    return f"{project.slug} is now over {', '.join(over)}." if over else ""


@staff_required
def quota_edit(request, slug: str):
    """A project's limits in one scope: global, or narrowed to one account (``?account=ID``)."""
    project = get_object_or_404(Project, slug=slug)
    raw = request.GET.get("account", "")
    if raw and not raw.isdigit():
        raise Http404(f"account {raw!r}: expected an account id")
    account = get_object_or_404(ProviderAccount, pk=raw) if raw else None
    own = dict(Quota.objects.filter(project=project, account=account).values_list("key", "limit"))
    site = dict.fromkeys(QuotaKey.values, UNLIMITED) | dict(QuotaDefault.objects.values_list("key", "limit"))
    form = QuotaLimitsForm(request.POST or None, initial=own,
                           fallback=site if account is None else None,
                           empty_means="site default" if account is None else "unlimited")
    if request.method == "POST" and form.is_valid():
        try:
            audits = set_limits(project, form.values(), user=request.user, source=ChangeSource.PORTAL, account=account)
        except QuotaValueError as exc:
            form.add_service_errors(exc.errors)
        else:
            scope = f" on {account.name}" if account else ""
            if audits:
                changes = ", ".join(f"{QuotaKey(a.key).label} {limit_text(a.old, 'default')} → "
                                    f"{limit_text(a.new, 'default')}" for a in audits)
                messages.success(request, f"Saved {project.slug}'s limits{scope}: {changes}.")
            else:
                messages.info(request, f"Nothing changed in {project.slug}'s limits{scope}.")
            over = _over_message(project, project_usage(project, account))
            if over:
                messages.warning(request, over)
            url = reverse("web:quota_edit", args=[project.slug])
            return redirect(url + (f"?account={account.pk}" if account else ""))
    usage = project_usage(project, account)
    open_breaches, closed = breaches(project)
    try:
        drift_rows = drift(project)
        drift_error = ""
    except ImportError as exc:  # a provider package that cannot be loaded: say so, show the rest
        drift_rows, drift_error = [], str(exc)
    narrowed_ids = set(Quota.objects.filter(project=project, account__isnull=False).values_list("account", flat=True))
    return render(request, "web/quotas_edit.html", {
        "title": f"Quotas · {project.slug}",
        "project": project,
        "account": account,
        "accounts": [{"account": a, "narrowed": a.pk in narrowed_ids} for a in ProviderAccount.objects.order_by("name")],
        "form": form,
        "bars": bars(usage, _currency(project)) if account is None else bars(usage),
        "audit": _audit_rows(QuotaAudit.objects.filter(project=project), "default"),
        "open_breaches": open_breaches,
        "closed_breaches": closed,
        "drift": drift_rows,
        "drift_error": drift_error,
    })


@staff_required
def quota_defaults(request):
    """The site-wide defaults: what every project without a limit of its own gets (empty = unlimited)."""
    current = dict(QuotaDefault.objects.values_list("key", "limit"))
    form = QuotaLimitsForm(request.POST or None, initial=current, empty_means="unlimited")
    if request.method == "POST" and form.is_valid():
        try:
            audits = set_defaults(form.values(), user=request.user, source=ChangeSource.PORTAL)
        except QuotaValueError as exc:
            form.add_service_errors(exc.errors)
        else:
            if audits:
                changes = ", ".join(f"{QuotaKey(a.key).label} {limit_text(a.old, 'none')} → "
                                    f"{limit_text(a.new, 'none')}" for a in audits)
                messages.success(request, f"Saved the site defaults: {changes}.")
            else:
                messages.info(request, "Nothing changed in the site defaults.")
            return redirect("web:quota_defaults")
    return render(request, "web/quotas_defaults.html", {
        "title": "Quota defaults",
        "form": form,
        "audit": _audit_rows(QuotaAudit.objects.filter(project__isnull=True), "none"),
    })
