"""Issue 21: the priced overview builds at most one statement (none when the month-to-date figure
is cached), the cache key follows the ledger and the rates, and the chargeback overview reads the
segments once for every project. Query counts are asserted so this cannot regress."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from metering import collector
from metering.chargeback import costs as costs_module
from metering.chargeback.costs import month_to_date, resource_costs
from metering.models import Rate, RatePlan
from tests.conftest import T0

pytestmark = pytest.mark.django_db

THIS_MONTH = "/projects/alpha/"  # the default period: this month to date (the ledger is in it)


@pytest.fixture(autouse=True)
def clock(monkeypatch, settings):
    """The dashboard's ledger is T0 .. T0+2h; the page is asked for at T0+3h."""
    from django.utils import timezone

    now = T0 + timedelta(hours=3)
    monkeypatch.setattr(timezone, "now", lambda: now)
    settings.TIME_ZONE = "UTC"
    return now


@pytest.fixture
def plan(db):
    plan = RatePlan.objects.create(name="standard", currency="EUR", is_default=True)
    Rate.objects.create(plan=plan, measure="vcpu_hours", unit_price=Decimal("0.01"), effective_from=T0)
    Rate.objects.create(plan=plan, measure="instance_hours", unit_price=Decimal("0.02"), effective_from=T0)
    return plan


@pytest.fixture
def statements(monkeypatch):
    """Counts the statements the month-to-date figures and the per-resource costs build."""
    calls = []
    real = costs_module.build_statement

    def counting(*args, **kwargs):
        calls.append(args[1:3])
        return real(*args, **kwargs)

    monkeypatch.setattr(costs_module, "build_statement", counting)
    return calls


def segment_reads(queries) -> int:
    return sum(1 for q in queries if "metering_usagesegment" in q["sql"])


def test_month_figure_is_cached_until_a_refresh_or_a_rate_change(dashboard, plan, statements):
    alpha = dashboard["alpha"]
    first = month_to_date(alpha)
    assert first.cost_to_date > 0 and len(statements) == 1
    with CaptureQueriesContext(connection) as ctx:
        again = month_to_date(alpha)
    assert again == first and len(statements) == 1  # from the cache: no statement
    # the ledger's version (metering.ledger), not its segments: the signature is cached by version
    assert segment_reads(ctx.captured_queries) == 0
    assert sum(1 for q in ctx.captured_queries if "metering_ledgerchange" in q["sql"]) == 1
    assert len(ctx.captured_queries) <= 4  # ledger version 1 (the rate book is cached by it), budget 2, fixed costs 1

    # a refresh extends the segments: new key, new statement, a higher cost
    world = dashboard["world"]
    world.now = T0 + timedelta(hours=2, minutes=30)
    collector.refresh(dashboard["account"])
    later = month_to_date(alpha)
    assert len(statements) == 2 and later.cost_to_date > first.cost_to_date

    # a price change written behind the models' back (queryset update) still changes the key
    Rate.objects.filter(measure="vcpu_hours").update(unit_price=Decimal("0.02"))
    dearer = month_to_date(alpha)
    assert len(statements) == 3 and dearer.cost_to_date > later.cost_to_date


def test_cached_figure_equals_a_fresh_computation(dashboard, plan):
    from django.core.cache import cache

    alpha = dashboard["alpha"]
    cached = (month_to_date(alpha), month_to_date(alpha))
    cache.clear()
    assert cached[0] == cached[1] == month_to_date(alpha)


def test_priced_overview_builds_one_statement_then_none(as_user, dashboard, plan, statements):
    client = as_user("viewer")
    with CaptureQueriesContext(connection) as cold:
        content = client.get(THIS_MONTH).content.decode()
    assert len(statements) == 1, statements  # before issue 21: two (month to date + per-resource costs)
    with CaptureQueriesContext(connection) as warm:
        again = client.get(THIS_MONTH).content.decode()
    assert len(statements) == 1
    # the usage report, the ledger signature, the quota room's usage and the chart: nothing else
    assert segment_reads(cold.captured_queries) <= 6, [q["sql"][:120] for q in cold.captured_queries]
    # warm: the page's ledger part and the month's figures come from the cache (metering.ledger)
    assert segment_reads(warm.captured_queries) == 0, [q["sql"][:120] for q in warm.captured_queries]
    assert len(warm.captured_queries) <= 20, len(warm.captured_queries)
    csrf = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')
    assert csrf.sub("", again) == csrf.sub("", content)

    # each row's cost is the per-resource cost of a separately built statement of the same period
    from metering.reports import usage_report
    from portal.web.forms import PeriodForm

    start, end = PeriodForm({}).range_or_default()
    expected = resource_costs(dashboard["alpha"], start, end, usage_report(start, end, project=dashboard["alpha"]))
    cells = re.findall(r'<td class="num">(\d+\.\d\d)</td>\s*</tr>', content)
    assert sum(Decimal(c) for c in cells) == sum(expected.by_resource.values()) > 0
    summary = month_to_date(dashboard["alpha"])
    assert f'id="cost-to-date">{summary.cost_to_date} EUR<' in content
    assert summary.cost_to_date == sum(expected.by_resource.values(), Decimal(0))


def test_overview_of_another_period_still_prices_its_own_rows(as_user, dashboard, plan, statements):
    content = as_user("viewer").get("/projects/alpha/?start=2026-10-15&end=2026-11-02").content.decode()
    assert len(statements) == 2  # the month to date, and the period's own per-resource costs
    assert "EUR" in content


def test_chargeback_overview_reads_the_segments_once_for_every_project(as_user, dashboard, plan):
    client = as_user("staff")
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/chargeback/?period=2026-11")
    assert response.status_code == 200
    groups = [q for q in ctx.captured_queries if "GROUP BY resource_id" in q["sql"]]
    assert len(groups) == 1, len(groups)  # before issue 21: one usage report per project
    ranking = response.content.decode().split('id="chargeback-ranking"', 1)[1].split("</tbody>", 1)[0]
    from metering.chargeback.engine import build_statement

    for slug in ("alpha", "beta"):
        total = build_statement(dashboard[slug], T0, T0 + timedelta(days=30)).total
        assert f"{total} EUR" in ranking


def test_an_allocation_rule_is_computed_once_per_page_not_once_per_statement(as_user, dashboard, plan,
                                                                              monkeypatch):
    """Issue 25: with a by-cost rule every statement's allocation lines need the source's and each
    target's direct statement; the chargeback overview of N projects computes each project's lines
    once (memoized per request), not N more times per statement (N + N²)."""
    from metering.chargeback import engine
    from metering.models import AllocationRule, FixedCost, Project
    from portal.web import chargeback as page

    platform = Project.objects.create(slug="platform", name="Platform")
    for slug in ("gamma", "delta"):
        Project.objects.create(slug=slug, name=slug)
    FixedCost.objects.create(project=platform, name="monitoring", monthly_amount=Decimal("100.00"),
                             effective_from=T0)
    AllocationRule.objects.create(name="platform by cost", source=platform, method="cost")
    built, computed = [], []
    real_fixed = engine.fixed_cost_lines

    def counting_fixed(project, *args, **kwargs):  # called once per statement whose lines are computed
        computed.append(project.slug)
        return real_fixed(project, *args, **kwargs)

    monkeypatch.setattr(engine, "fixed_cost_lines", counting_fixed)
    for module in (engine, page):
        real = module.build_statement

        def counting(*args, _real=real, **kwargs):
            built.append((args[0].slug, kwargs.get("allocations", True)))
            return _real(*args, **kwargs)

        monkeypatch.setattr(module, "build_statement", counting)
    client = as_user("staff")
    assert client.get("/chargeback/?period=2026-11").status_code == 200
    projects = Project.objects.count()  # 5
    assert sum(1 for _, alloc in built if alloc) == projects
    assert len(built) == 2 * projects - 1  # the first statement's direct part is the rule's (not N + N²)
    assert sorted(computed) == sorted(Project.objects.values_list("slug", flat=True))  # each project's lines once
