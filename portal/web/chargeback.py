"""Chargeback: a project's statement for a period, its downloads and revisions; for staff, every
project's cost ranked, and the on-premises vs public-cloud comparison.

The page shows either the live draft (``statements.draft``, computed now, never stored) or an
issued revision (``?revision=N``, frozen). Its CSV and JSON (``?format=csv|json``) stream
``metering.chargeback.export`` of that very statement, so a download is exactly the page's lines.
"Issue statement" (staff, POST) freezes the draft as the next revision with ``statements.issue``.
A project without a rate plan has no statement: the page says what to do instead of failing.
Periods are UTC (see ``StatementPeriodForm``) so the page, the API and the ``chargeback`` command
agree on which statement a period is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from decimal import Decimal
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST

from metering import ledger
from metering.chargeback import idle, onprem, statements
from metering.chargeback.allocation import ALLOCATED
from metering.chargeback.currency import Conversion, NoExchangeRate, convert, converted_json, converted_rows
from metering.chargeback.engine import FIXED_COST, build_statement, subtotals
from metering.chargeback.export import statement_json, statement_rows
from metering.chargeback.focus import focus_rows
from metering.chargeback.money import QUANTITY, UNIT_PRICE, minor_unit
from metering.chargeback.rates import NoRatePlan, kept_rate_book
from metering.choices import BillingMode, Measure
from metering.export import csv_stream
from metering.models import ExchangeRate, PriceSheet, Project, Statement
from metering.reports import UsageReport, usage_report
from portal import units
from portal.web import charts
from portal.web.forms import StatementPeriodForm, month_picks
from portal.web.selection import staff_required, visible_project_or_404

GROUPS_PER_PAGE = 50
JSON_CHUNK = 64 * 1024


def admin_url(model: str) -> str:
    """Django admin's add page of ``metering.<model>`` if it is registered, else the admin index."""
    try:
        return reverse(f"admin:metering_{model}_add")
    except NoReverseMatch:
        return reverse("admin:index")


def measure_label(measure: str) -> str:
    if measure == FIXED_COST:
        return "Fixed cost"
    if measure == ALLOCATED:
        return "Allocated (shared and idle costs)"
    try:
        return Measure(measure).label
    except ValueError:
        return measure


def _statement(project: Project, start, end, revision: int | None):
    """``(statement or draft, problem)``: exactly one of them is None."""
    if revision is not None:
        stored = statements.revisions(project, start, end).filter(revision=revision).select_related("project").first()
        if stored is None:
            return None, f"{project.slug} has no issued revision {revision} for this period."
        return stored, None
    try:
        return statements.draft(project, start, end), None
    except NoRatePlan as exc:
        return None, f"No rate plan: {exc}. Add one in the admin (a plan assigned to the project, or a site default)."
    except ValueError as exc:  # plans in several currencies, or a currency we cannot store
        return None, str(exc)


def _lines(st) -> list:
    if isinstance(st, Statement):
        return list(st.lines.order_by("id"))
    return st.lines


QUANTITY_SHOWN = 2  # decimals of quantities on the page; downloads keep QUANTITY's precision


def _fmt(value: Decimal | None, places: Decimal) -> str:
    return "" if value is None else f"{value.quantize(places):f}"


def line_groups(lines: Iterable, showback: bool, conversion: Conversion | None = None) -> list[dict]:
    """Consecutive lines of one resource (or fixed cost) as one group, in the statement's order
    (lines come sorted by provider and resource, fixed costs last), so the page lists exactly the
    lines of the CSV in the same order. With a ``conversion`` each line also shows its rate, the
    rate's date and its amount in the report currency."""
    groups: list[dict] = []
    converted = conversion.lines if conversion is not None else [None] * len(lines)
    for line, conv in zip(lines, converted, strict=True):
        key = (line.provider, line.resource_name, line.resource_kind, line.resource_id)
        if not groups or groups[-1]["key"] != key:
            kind = "fixed cost" if line.measure == FIXED_COST else line.resource_kind
            groups.append({"key": key, "name": line.resource_name, "kind": kind, "provider": line.provider,
                           "resource_id": line.resource_id, "lines": [], "subtotal": None})
        group = groups[-1]
        group["lines"].append({
            "measure": measure_label(line.measure), "description": line.description,
            "quantity": units.number(line.quantity, QUANTITY_SHOWN), "exact": _fmt(line.quantity, QUANTITY),
            "unit": line.unit,
            "unit_price": "" if showback else units.number(_fmt(line.unit_price, UNIT_PRICE)),
            "amount": "" if showback or line.amount is None else units.number(line.amount, 2),
            "estimated": line.estimated,
            "rate": "" if conv is None else f"{conv.rate.shown:f}",
            "rate_date": None if conv is None else conv.rate.effective_from,
            "converted": "" if conv is None else units.number(conv.amount, _places(conversion.target)),
        })
        if not showback and line.amount is not None:
            group["subtotal"] = (group["subtotal"] or Decimal(0)) + line.amount
        if conv is not None:
            group["converted_subtotal"] = group.get("converted_subtotal", Decimal(0)) + conv.amount
    return groups


def _places(currency: str) -> int:
    return 0 if minor_unit(currency) == 1 else 2


def currency_choices(statement_currency: str) -> list[str]:
    """The report currencies offered: the statement's own and every code with an exchange rate."""
    codes = {statement_currency} if statement_currency else set()
    for base, quote in ExchangeRate.objects.values_list("base", "quote").distinct():
        codes.update((base, quote))
    return sorted(codes)


def report_conversion(st, code: str, lines=None) -> tuple[Conversion | None, str]:
    """``(conversion, error)`` for the report currency asked for (``currency.convert``, the one
    conversion): an unknown code or a missing rate is an error message naming it, never a 500."""
    if not code:
        return None, ""
    try:
        return convert(st, code, lines), ""
    except ValueError as exc:
        return None, f"currency {code[:12]!r}: {exc}"
    except NoExchangeRate as exc:
        return None, f"currency {code[:12]}: {exc}"


def measure_chart(by_measure: dict, showback: bool, currency: str) -> dict:
    names = sorted(by_measure, key=lambda m: measure_label(m))
    if showback:
        return charts.stacked_bars("Quantity by measure", [measure_label(m) for m in names],
                                   {"Quantity": [by_measure[m][0] for m in names]}, "quantity")
    return charts.stacked_bars("Cost by measure", [measure_label(m) for m in names],
                               {currency: [by_measure[m][1] or 0 for m in names]}, currency)


def change_summary(changes: dict) -> dict | None:
    """What a revision changed against the previous one, in a few numbers (None for revision 1)."""
    if not changes:
        return None
    total = changes.get("total", {})
    return {
        "previous": changes.get("previous_revision"),
        "total_previous": total.get("previous"), "total_current": total.get("current"),
        "difference": total.get("difference"),
        "lines": len(changes.get("lines", [])),
        "measures": [{"measure": measure_label(m), "quantity": d.get("quantity_difference"),
                      "amount": d.get("amount_difference")} for m, d in changes.get("measures", {}).items()],
    }


def _json_chunks(data: dict) -> Iterator[str]:
    buffer, size = [], 0
    for piece in json.JSONEncoder(indent=2).iterencode(data):
        buffer.append(piece)
        size += len(piece)
        if size >= JSON_CHUNK:
            yield "".join(buffer)
            buffer, size = [], 0
    yield "".join(buffer)


def _download(st, fmt: str, project: Project, label: str, conversion: Conversion | None = None):
    name = f"statement-{project.slug}-{label.replace(' to ', '_')}-" + (
        f"r{st.revision}" if isinstance(st, Statement) else "draft") + (f"-{conversion.target}" if conversion else "")
    if fmt == "csv" and conversion is not None:
        response = StreamingHttpResponse(csv_stream(converted_rows(st, conversion)),
                                         content_type="text/csv; charset=utf-8")
    elif fmt == "json" and conversion is not None:
        response = StreamingHttpResponse(_json_chunks(converted_json(statement_json(st), conversion)),
                                         content_type="application/json")
    elif fmt == "csv":
        response = StreamingHttpResponse(csv_stream(statement_rows(st)), content_type="text/csv; charset=utf-8")
    elif fmt == "focus":
        response = StreamingHttpResponse(csv_stream(focus_rows(st)), content_type="text/csv; charset=utf-8")
        name, fmt = "focus-" + name.removeprefix("statement-"), "csv"
    else:
        response = StreamingHttpResponse(_json_chunks(statement_json(st)), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


def _form_errors(form) -> str:
    return "; ".join(f"{name}: {e}" for name, errs in form.errors.items() for e in errs)


@login_required
def project_chargeback(request, slug: str):
    """``/projects/<slug>/chargeback/?period=YYYY-MM | ?start=&end= [&revision=N] [&format=csv|json]``."""
    project = visible_project_or_404(request, slug)
    form = StatementPeriodForm(request.GET)
    start, end = form.range_or_default()
    fmt = request.GET.get("format")
    code = request.GET.get("currency", "").strip()
    revision = form.cleaned_data.get("revision") if "revision" not in form.errors else None
    if fmt is not None:
        if fmt not in ("csv", "json", "focus"):
            return HttpResponse(f"format {fmt!r}: expected csv, json or focus\n", status=400,
                                content_type="text/plain")
        if not form.is_valid():
            return HttpResponse(f"invalid period: {_form_errors(form)}\n", status=400, content_type="text/plain")
        if code and fmt == "focus":
            return HttpResponse("currency: FOCUS keeps the billing currency; convert the CSV or JSON instead\n",
                                status=400, content_type="text/plain")
        st, problem = _statement(project, start, end, revision)
        if st is None:
            return HttpResponse(problem + "\n", status=404 if revision else 409, content_type="text/plain")
        conversion, error = report_conversion(st, code)
        if error:
            return HttpResponse(error + "\n", status=400, content_type="text/plain")
        return _download(st, fmt, project, form.label(), conversion)

    page_number = request.GET.get("page")
    if revision is None:  # the live draft: what the ledger and the rates decide, once per ledger version
        view = ledger.cached("chargeback/2", (project.pk, start, end, page_number, code.upper()),
                             lambda: statement_view(project, start, end, None, page_number, code))
    else:
        view = statement_view(project, start, end, revision, page_number, code)
    st, problem = view.pop("statement"), view.pop("problem")
    period_query = form.period_query()
    context = {
        "title": f"Chargeback · {project.name}",
        "project": project,
        "form": form,
        "month_picks": month_picks(),
        "start": start,
        "end": end,
        "label": form.label(),
        "statement": st,
        "problem": problem,
        "no_plan": problem is not None and problem.startswith("No rate plan"),
        "rate_plan_admin": admin_url("rateplan"),
        "revision": revision,
        "revisions": [{"st": r, "summary": change_summary(r.changes),
                       "query": "?" + urlencode({**period_query, "revision": r.revision})}
                      for r in statements.revisions(project, start, end).select_related("issued_by")],
        "draft_query": "?" + urlencode(period_query),
        "period_query": urlencode(period_query),
        "may_issue": request.user.is_staff,
        "period_open": form.is_open(),
    }
    if st is not None:
        query = request.GET.copy()
        query.pop("page", None)
        query.pop("format", None)
        download = {k: v for k, v in query.items()}
        context.update(view)
        context.update({
            "page": Paginator(range(view.pop("group_count")), GROUPS_PER_PAGE).get_page(view["page"]),
            "page_query": query.urlencode(),
            "csv_query": "?" + urlencode({**download, "format": "csv"}),
            "json_query": "?" + urlencode({**download, "format": "json"}),
            "focus_query": "?" + urlencode({**{k: v for k, v in download.items() if k != "currency"},
                                            "format": "focus"}),
            "is_draft": revision is None,
            "currency_asked": code,
            "currency_choices": [] if view["showback"] else currency_choices(view["currency"]),
            "currency_hidden": {k: v for k, v in query.items() if k not in ("currency",)},
        })
    return render(request, "web/chargeback.html", context)


def statement_view(project: Project, start, end, revision: int | None, page_number, code: str = "") -> dict:
    """The statement page's figures (totals by measure and provider, direct cost and allocated
    shares, one page of line groups, converted to the report currency ``code`` when asked), or
    the problem that stops it; small enough to cache. ``statement`` is the issued revision (for
    its header) or True for the draft."""
    st, problem = _statement(project, start, end, revision)
    if st is None:
        return {"statement": None, "problem": problem}
    showback = st.showback
    lines = _lines(st)
    by_measure, by_provider = subtotals(lines)
    conversion, currency_error = (None, "") if showback else report_conversion(st, code, lines)
    shares = [x.amount for x in lines if x.measure == ALLOCATED and x.amount is not None]
    allocated = sum(shares, Decimal(0)) if shares else None
    groups = line_groups(lines, showback, conversion)
    page = Paginator(groups, GROUPS_PER_PAGE).get_page(page_number)
    units_of = {}
    for x in lines:
        units_of.setdefault(x.measure, x.unit)
    return {
        "statement": st if isinstance(st, Statement) else True,
        "problem": None,
        "showback": showback,
        "currency": st.currency,
        "total": None if showback else st.total,
        "line_count": len(lines),
        "group_count": len(groups),
        "page": page.number,
        "groups": list(page.object_list),
        "measures": [{"measure": measure_label(m), "quantity": units.number(q, QUANTITY_SHOWN),
                      "exact": _fmt(q, QUANTITY), "unit": units_of.get(m, ""), "amount": a}
                     for m, (q, a) in sorted(by_measure.items(), key=lambda kv: measure_label(kv[0]))],
        "providers": [{"provider": p or "(no provider: fixed costs, allocations)", "amount": a}
                      for p, a in sorted(by_provider.items())],
        "chart": measure_chart(by_measure, showback, st.currency) if by_measure else None,
        "allocated": allocated,
        "direct": None if showback or allocated is None else st.total - allocated,
        "conversion": conversion,
        "currency_error": currency_error,
    }


@staff_required
@require_POST
def issue_statement(request, slug: str):
    """Freeze the period's draft as the next revision; the period comes in the query string."""
    project = visible_project_or_404(request, slug)
    form = StatementPeriodForm(request.GET)
    url = reverse("web:project_chargeback", args=[project.slug])
    if not form.is_valid():
        messages.error(request, f"Not issued: invalid period ({_form_errors(form)}).")
        return redirect(url)
    start, end = form.cleaned_data["range"]
    query = form.period_query()
    try:
        st = statements.issue(project, start, end, user=request.user)
    except NoRatePlan as exc:
        messages.error(request, f"Not issued: {exc}. Add a rate plan in the admin first.")
        return redirect(url + "?" + urlencode(query))
    except ValueError as exc:
        messages.error(request, f"Not issued: {exc}.")
        return redirect(url + "?" + urlencode(query))
    messages.success(request, f"Issued revision {st.revision} of {project.slug}'s statement for {form.label()}.")
    return redirect(url + "?" + urlencode({**query, "revision": st.revision}))


def ranking(start, end) -> list[dict]:
    """Every project's statement total over [start, end), most expensive first.

    Billed projects first by total, then showback projects (quantities only), then projects whose
    statement cannot be built (no rate plan), each with the reason.
    """
    rows = []
    # each project's rate book first: a project without a plan gets no statement (and no usage read)
    books, projects = {}, []
    for project in Project.objects.order_by("slug"):
        try:
            book = kept_rate_book(project, start, end)
            if project.billing_mode != BillingMode.SHOWBACK:
                book.require_plans(start, end)
            book.currency  # noqa: B018  (refuses plans in several currencies)
        except NoRatePlan:
            rows.append({"project": project, "problem": "no rate plan"})
            continue
        except ValueError as exc:
            rows.append({"project": project, "problem": str(exc)})
            continue
        books[project.pk] = book
        projects.append(project)
    # one usage report for the projects with a statement (one pass over the segments), each
    # statement reuses its part (a project holding a resource that moved between projects in the
    # period computes its own: its own report gives that resource's used measures to it, the shared
    # one to the first project)
    parts: dict[str, list] = {p.slug: [] for p in projects}
    first_project: dict[int, str | None] = {}
    moved: set[str | None] = set()
    if len(projects) > 1:
        for row in usage_report(start, end, projects=projects).rows:
            if first_project.setdefault(row.resource_id, row.project) != row.project:
                moved.update((row.project, first_project[row.resource_id]))
            if row.project in parts:
                parts[row.project].append(row)
    for project in projects:
        shared = len(projects) > 1 and project.slug not in moved
        report = UsageReport(start, end, project, parts[project.slug]) if shared else None
        try:
            st = build_statement(project, start, end, book=books[project.pk], report=report)
        except NoRatePlan:
            rows.append({"project": project, "problem": "no rate plan"})
            continue
        except ValueError as exc:
            rows.append({"project": project, "problem": str(exc)})
            continue
        rows.append({"project": project, "total": st.total, "currency": st.currency, "showback": st.showback,
                     "lines": len(st.lines), "estimated": any(x.estimated for x in st.lines), "problem": "",
                     "statement": st})
    return sorted(rows, key=lambda r: (bool(r["problem"]), r.get("showback", False), -(r.get("total") or 0),
                                       r["project"].slug))


def ranking_rows(start, end) -> list[dict]:
    """``ranking``'s rows without their statements (the cached ranking's, so both agree)."""
    rows = ledger.cached("ranking/1", (start, end), lambda: ranking(start, end))
    return [{k: v for k, v in r.items() if k != "statement"} for r in rows]


@staff_required
def chargeback_overview(request):
    """``/chargeback/``: every project's cost for a period, and on-premises vs public cloud."""
    form = StatementPeriodForm(request.GET)
    start, end = form.range_or_default()
    code = request.GET.get("currency", "").strip()
    # the statements themselves are needed only to convert them; without a report currency the page
    # reads the rows without them (unpickling every statement's lines was most of a cached view)
    rows = (ledger.cached("ranking/1", (start, end), lambda: ranking(start, end)) if code
            else ledger.cached("ranking-rows/1", (start, end), lambda: ranking_rows(start, end)))
    billed = [r for r in rows if not r["problem"] and not r["showback"]]
    totals: dict[str, Decimal] = {}
    for r in billed:
        totals[r["currency"]] = totals.get(r["currency"], Decimal(0)) + r["total"]
    chart = None
    if billed:
        chart = charts.stacked_bars("Cost by project", [r["project"].slug for r in billed],
                                    {cur: [r["total"] if r["currency"] == cur else 0 for r in billed]
                                     for cur in sorted(totals)}, " / ".join(sorted(totals)))
    converted_total, currency_error = None, ""
    if code and billed:
        conversions = []
        for r in billed:
            conversion, currency_error = report_conversion(r["statement"], code)
            if currency_error:
                currency_error = f"{r['project'].slug}: {currency_error}"
                break
            conversions.append((r, conversion))
        else:
            for r, conversion in conversions:
                r["converted"] = conversion.total
            converted_total = sum((c.total for _, c in conversions), Decimal(0))
    share_idle = request.GET.get("share_idle") == "1"
    # both read only the ledger's tables (segments, resources, host costs, price sheets, rules and
    # their targets and hosts, plans): the period and the toggle are their only other inputs
    sheet, comparison, comparison_error = ledger.cached("onprem/1", (start, end, share_idle),
                                                        lambda: onprem_comparison(start, end, share_idle))
    period_query = form.period_query()
    idle_rows, idle_totals, idle_error = ledger.cached("idle-table/1", (start, end), lambda: idle_table(start, end))
    return render(request, "web/chargeback_overview.html", {
        "title": "Chargeback overview",
        "form": form,
        "month_picks": month_picks(),
        "start": start,
        "end": end,
        "label": form.label(),
        "rows": rows,
        "totals": sorted(totals.items()),
        "chart": chart,
        "sheet": sheet,
        "comparison": comparison,
        "comparison_error": comparison_error,
        "share_idle": share_idle,
        "share_idle_query": "?" + urlencode({**period_query, **({} if share_idle else {"share_idle": "1"})}),
        "period_query": urlencode(period_query),
        "price_sheet_admin": admin_url("pricesheet"),
        "rate_plan_admin": admin_url("rateplan"),
        "currency_choices": sorted(set(currency_choices("")) | set(totals)),
        "currency_asked": code,
        "currency_error": currency_error,
        "currency_hidden": {k: v for k, v in request.GET.items() if k in ("period", "start", "end", "share_idle")},
        "report_currency": code.upper() if converted_total is not None else "",
        "converted_total": converted_total,
        "idle_rows": idle_rows,
        "idle_totals": idle_totals,
        "idle_error": idle_error,
        "allocation_rule_admin": admin_url("allocationrule"),
        "host_cost_admin": admin_url("hostcost"),
    })


def onprem_comparison(start, end, share_idle: bool) -> tuple[PriceSheet | None, onprem.Comparison | None, str]:
    """``(price sheet, comparison, error)`` of the overview: the first price sheet by name, and the
    on-premises vs public cloud comparison with it (``onprem.compare``), or why there is none."""
    sheet = PriceSheet.objects.order_by("name").first()
    if sheet is None:
        return None, None, ""
    try:
        return sheet, onprem.compare(start, end, sheet, share_idle=share_idle), ""
    except ValueError as exc:  # host costs in several currencies
        return sheet, None, str(exc)


def idle_table(start, end) -> tuple[list[dict], list, str]:
    """The overview's idle-capacity rows (``metering.chargeback.idle``) and totals per currency."""
    try:
        rows = idle.idle_capacity(start, end)
    except ValueError as exc:
        return [], [], str(exc)
    slugs = dict(Project.objects.filter(pk__in={pk for r in rows for pk in r.shares}).values_list("pk", "slug"))
    out, totals = [], {}
    for r in rows:
        out.append({"label": r.label, "currency": r.currency, "cost": r.cost, "covered": r.covered, "idle": r.idle,
                    "over": r.over, "rule": r.rule, "description": r.description(),
                    "distributed": r.distributed, "left": r.left,
                    "shares_shown": [{"slug": slugs.get(pk, pk), "amount": v}
                                     for pk, v in sorted(r.shares.items(), key=lambda kv: str(slugs.get(kv[0])))]})
        t = totals.setdefault(r.currency, dict.fromkeys(("cost", "covered", "idle", "distributed", "left"), Decimal(0)))
        for k in t:
            t[k] += out[-1][k]
    return out, sorted(totals.items()), ""
