"""The project overview: period parsing, summary, daily chart, usage table and its CSV."""

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from metering.choices import Measure
from metering.reports import usage_report
from portal.web.daily import local_days

pytestmark = pytest.mark.django_db

PERIOD = "?start=2026-11-01&end=2026-11-02"


def chart(content: bytes, chart_id: str) -> dict:
    match = re.search(rf'<script id="{chart_id}" type="application/json">(.*?)</script>', content.decode(), re.S)
    assert match, f"no json_script {chart_id}"
    return json.loads(match.group(1))


def table_names(content: bytes) -> list[str]:
    body = content.decode().split('id="usage-table"', 1)[1].split("</tbody>", 1)[0]
    return re.findall(r'<th scope="row"><a href="/resources/\d+/">([^<]+)</a>', body)


def test_summary_shows_active_resources_and_period_totals(as_user, dashboard):
    page = as_user("viewer").get("/projects/alpha/" + PERIOD)
    content = page.content.decode()
    assert page.status_code == 200
    assert re.search(r'id="stat-vms">2<', content) and re.search(r'id="stat-containers">1<', content)
    assert "13.00" in content  # vCPU-hours: 2 x 2 h + 4 x 2 h + 0.5 x 2 h
    assert "Download CSV Summary" in content


def test_invalid_period_is_an_inline_error_not_a_500(as_user, dashboard):
    client = as_user("viewer")
    page = client.get("/projects/alpha/?start=2026-13-01&end=yesterday")
    content = page.content.decode()
    assert page.status_code == 200
    assert "expected a date as YYYY-MM-DD" in content and 'aria-invalid="true"' in content
    backwards = client.get("/projects/alpha/?start=2026-11-05&end=2026-11-01").content.decode()
    assert "must be on or after From" in backwards
    assert client.get("/projects/alpha/?start=2026-13-01&format=csv").status_code == 400


def test_daily_chart_is_vcpu_hours_per_day_stacked_by_provider(as_user, dashboard):
    content = as_user("viewer").get("/projects/alpha/" + PERIOD).content
    data = chart(content, "chart-daily")
    assert data["type"] == "bar" and data["stacked"] and data["labels"] == ["2026-11-01", "2026-11-02"]
    [series] = data["datasets"]
    assert series["label"] == "fake1" and series["data"] == [13.0, 0.0]


def test_daily_chart_days_follow_the_users_timezone():
    tz = ZoneInfo("America/New_York")
    start = datetime(2026, 11, 1, 4, tzinfo=UTC)  # local midnight, EDT
    days = local_days(start, start + timedelta(days=2, hours=1), tz)  # DST ends on 2026-11-01
    assert [d for d, _, _ in days] == [datetime(2026, 11, 1).date(), datetime(2026, 11, 2).date()]
    assert days[0][2] - days[0][1] == timedelta(hours=25)


def test_csv_is_exactly_the_table(as_user, dashboard):
    client = as_user("viewer")
    page = client.get("/projects/alpha/" + PERIOD)
    response = client.get("/projects/alpha/" + PERIOD + "&format=csv")
    assert response["Content-Type"].startswith("text/csv")
    assert "usage-alpha-2026-11-01-2026-11-02.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    header = rows.index(next(r for r in rows if r and r[0] == "Name"))
    body = rows[header + 1:]
    assert [r[0] for r in body] == table_names(page.content)
    vcpu_col = rows[header].index("vCPU-hours (vCPU-hour)")
    report = usage_report(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC),
                          project=dashboard["alpha"])
    assert sum(Decimal(r[vcpu_col]) for r in body) == report.totals[Measure.VCPU_HOURS] == Decimal(13)


def test_period_is_read_in_the_users_timezone(as_user, dashboard):
    client = as_user("viewer")
    response = client.post("/preferences/timezone/", {"timezone": "Asia/Tokyo", "next": "/projects/alpha/"})
    assert response.status_code == 302 and response["Location"] == "/projects/alpha/"
    assert client.session["timezone"] == "Asia/Tokyo"
    content = client.get("/projects/alpha/" + PERIOD).content.decode()
    assert "Showing 2026-11-01 00:00 to 2026-11-03 00:00 (JST)" in content
    # Tokyo's 1-2 November ends at 2026-11-02 15:00 UTC: all two hours of usage still fall inside
    assert chart(content.encode(), "chart-daily")["datasets"][0]["data"] == [13.0, 0.0]


def test_unknown_timezone_is_refused_with_a_message(as_user, dashboard):
    client = as_user("viewer")
    response = client.post("/preferences/timezone/", {"timezone": "Mars/Olympus", "next": "https://evil.example/"},
                           follow=True)
    assert "timezone" not in client.session
    assert response.redirect_chain[0][0] == "/"  # off-site next is ignored
    assert b"is not a timezone" in response.content


def test_estimated_usage_is_marked_in_the_table(as_user, dashboard):
    from metering import collector

    world, account = dashboard["world"], dashboard["account"]
    world.now += timedelta(hours=3)  # longer than the allowed gap, no lifecycle timestamps
    collector.refresh(account)
    content = as_user("viewer").get("/projects/alpha/" + PERIOD).content.decode()
    assert 'class="badge warn"' in content and ">estimated<" in content


def test_empty_period_says_what_to_do(as_user, dashboard):
    content = as_user("viewer").get("/projects/alpha/?start=2026-10-01&end=2026-10-05").content.decode()
    assert "No usage in this period" in content and "No resources of alpha were observed" in content


def test_each_resource_shows_its_cost_on_the_page_and_in_the_csv(as_user, dashboard):
    from metering.models import Rate, RatePlan
    from tests.conftest import T0

    plan = RatePlan.objects.create(name="standard", currency="EUR", is_default=True)
    Rate.objects.create(plan=plan, measure="vcpu_hours", unit_price=Decimal("0.0125"), effective_from=T0)
    Rate.objects.create(plan=plan, measure="instance_hours", unit_price=Decimal("0.10"), effective_from=T0)
    client = as_user("viewer")
    content = client.get("/projects/alpha/" + PERIOD).content.decode()
    assert "Cost (EUR)" in content
    body = content.split('id="usage-table"', 1)[1].split("</tbody>", 1)[0]
    cells = re.findall(r'<td class="num">([\d.]*)</td>\s*</tr>', body)
    # 2 vCPU VM for 2 h: 4 vCPU-h x 0.0125 + 2 h x 0.10 = 0.25; 4 vCPU VM: 8 x 0.0125 + 0.20 = 0.30;
    # the 0.5 vCPU container: 1 vCPU-h x 0.0125 = 0.0125 -> 0.01 (half-even), no instance hours;
    # the volume: no rate for disk GB-hours in this plan -> 0.00
    assert sorted(cells) == ["0.00", "0.01", "0.25", "0.30"]
    response = client.get("/projects/alpha/" + PERIOD + "&format=csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    header = rows.index(next(r for r in rows if r and r[0] == "Name"))
    assert rows[header][-1] == "Cost (EUR)"
    page_costs = dict(zip(table_names(content.encode()), cells, strict=True))
    assert {r[0]: r[-1] for r in rows[header + 1:]} == page_costs


def test_showback_project_shows_no_cost_column(as_user, dashboard):
    from metering.choices import BillingMode
    from metering.models import Rate, RatePlan
    from tests.conftest import T0

    plan = RatePlan.objects.create(name="standard", currency="EUR", is_default=True)
    Rate.objects.create(plan=plan, measure="vcpu_hours", unit_price=Decimal("0.0125"), effective_from=T0)
    dashboard["alpha"].billing_mode = BillingMode.SHOWBACK
    dashboard["alpha"].save()
    content = as_user("viewer").get("/projects/alpha/" + PERIOD).content.decode()
    assert "Cost (" not in content.split('id="usage-table"', 1)[1]


def test_home_opens_the_first_project_with_resources(as_user, dashboard):
    from metering.models import Membership, Project

    empty = Project.objects.create(slug="aaa-empty", name="Empty, first by name")
    Membership.objects.create(user=dashboard["users"]["member"], project=empty, role="viewer")
    response = as_user("member").get("/")
    assert response.status_code == 302 and response["Location"] == "/projects/alpha/"
