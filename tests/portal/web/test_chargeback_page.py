"""The chargeback page: a project's statement for a period (live draft or issued revision), its
CSV/JSON downloads, issuing revisions, showback, the empty state without a rate plan, and the staff
overview ranking every project with the on-premises vs public-cloud comparison."""

import csv
import io
import json
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from metering.chargeback import statements
from metering.models import (
    FixedCost,
    HostCost,
    PriceSheet,
    PriceSheetEntry,
    ProjectRatePlan,
    Rate,
    RatePlan,
    Resource,
    Statement,
)
from tests.conftest import T0

pytestmark = pytest.mark.django_db

PERIOD = "?period=2026-11"
NOVEMBER = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))


@pytest.fixture
def plan(dashboard):
    plan = RatePlan.objects.create(name="standard", currency="EUR", is_default=True)
    Rate.objects.create(plan=plan, measure="vcpu_hours", unit_price=Decimal("0.0125"), effective_from=T0)
    Rate.objects.create(plan=plan, measure="instance_hours", unit_price=Decimal("0.10"), effective_from=T0)
    return plan


def chart(content: str, chart_id: str) -> dict:
    match = re.search(rf'<script id="{chart_id}" type="application/json">(.*?)</script>', content, re.S)
    assert match, f"no json_script {chart_id}"
    return json.loads(match.group(1))


def csv_lines(response) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    header = next(i for i, r in enumerate(rows) if r and r[0] == "Project")
    end = rows.index([], header)
    return rows, rows[header + 1:end]


def page_lines(response) -> list[tuple]:
    """(resource, measure label, exact quantity, amount) of every line on the page, in order (the
    page shows 2 decimals and keeps the exact quantity in the cell's title)."""
    out = []
    for group in response.context["groups"]:
        for line in group["lines"]:
            out.append((group["name"], line["measure"], line["exact"], line["amount"]))
    return out


def test_access_follows_project_visibility(client, as_user, dashboard, plan):
    assert client.get("/projects/alpha/chargeback/")["Location"].startswith("/login/?next=")
    viewer = as_user("viewer")
    assert viewer.get("/projects/alpha/chargeback/" + PERIOD).status_code == 200
    assert viewer.get("/projects/beta/chargeback/" + PERIOD).status_code == 404
    assert viewer.get("/projects/beta/chargeback/" + PERIOD + "&format=csv").status_code == 404
    assert as_user("outsider").get("/projects/alpha/chargeback/").status_code == 404
    assert as_user("staff").get("/projects/beta/chargeback/" + PERIOD).status_code == 200


def test_statement_lines_by_resource_subtotals_chart_and_total(as_user, dashboard, plan):
    response = as_user("viewer").get("/projects/alpha/chargeback/" + PERIOD)
    content = response.content.decode()
    draft = statements.draft(dashboard["alpha"], *NOVEMBER)
    # 13 vCPU-hours x 0.0125 = 0.1625 -> 0.16; 4 instance-hours x 0.10 = 0.40 (two VMs, 2 h each)
    assert draft.total == Decimal("0.56")
    assert 'id="statement-total">0.56 EUR<' in content and "Live draft" in content
    names = [g["name"] for g in response.context["groups"]]
    assert names == ["alpha-db", "alpha-web", "alpha-worker"]  # the volume has no priced measure
    subtotals = {g["name"]: g["subtotal"] for g in response.context["groups"]}
    assert sum(subtotals.values()) == draft.total
    measures = {m["measure"]: m for m in response.context["measures"]}
    assert measures["vCPU-hours"]["quantity"] == "13.00" and measures["vCPU-hours"]["exact"] == "13.000000" and measures["Instance-hours"]["amount"] == Decimal("0.40")
    data = chart(content, "chart-measures")
    assert data["type"] == "bar" and dict(zip(data["labels"], data["datasets"][0]["data"], strict=True)) == {
        "Instance-hours": 0.4, "vCPU-hours": 0.16}
    assert "Issue statement" not in content  # viewers do not issue


def test_csv_download_is_exactly_the_pages_lines(as_user, dashboard, plan):
    FixedCost.objects.create(project=dashboard["alpha"], name="support", monthly_amount=Decimal("30"),
                             effective_from=T0)
    client = as_user("viewer")
    page = client.get("/projects/alpha/chargeback/" + PERIOD)
    response = client.get("/projects/alpha/chargeback/" + PERIOD + "&format=csv")
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="statement-alpha-2026-11-draft.csv"' in response["Content-Disposition"]
    rows, lines = csv_lines(response)
    labels = {"vcpu_hours": "vCPU-hours", "instance_hours": "Instance-hours", "fixed_cost": "Fixed cost"}
    assert [(r[2], labels[r[4]], r[8], r[11]) for r in lines] == page_lines(page)
    assert page_lines(page)[-1] == ("support", "Fixed cost", "30.000000", "30.00")  # 30 days of 30
    assert ["Total", "30.56"] in rows and 'id="statement-total">30.56 EUR<' in page.content.decode()
    data = json.loads(b"".join(client.get("/projects/alpha/chargeback/" + PERIOD + "&format=json")
                               .streaming_content))
    assert data["total"] == "30.56" and len(data["lines"]) == len(lines) and data["revision"] == 0


def test_showback_hides_prices(as_user, dashboard, plan):
    alpha = dashboard["alpha"]
    alpha.billing_mode = "showback"
    alpha.save()
    client = as_user("viewer")
    page = client.get("/projects/alpha/chargeback/" + PERIOD)
    content = page.content.decode()
    assert "Unit price" not in content and "EUR" not in content and 'id="statement-total"' not in content
    assert all(line[3] == "" for line in page_lines(page)) and page_lines(page)
    assert chart(content, "chart-measures")["title"] == "Quantity by measure"
    _, lines = csv_lines(client.get("/projects/alpha/chargeback/" + PERIOD + "&format=csv"))
    assert lines and all(r[10] == "" and r[11] == "" for r in lines)


def test_no_rate_plan_is_an_empty_state_not_a_500(as_user, dashboard):
    client = as_user("staff")
    response = client.get("/projects/alpha/chargeback/" + PERIOD)
    content = response.content.decode()
    assert response.status_code == 200 and 'id="no-rate-plan"' in content
    assert "No rate plan: add one in the admin." in content and "/admin/metering/rateplan/add/" in content
    download = client.get("/projects/alpha/chargeback/" + PERIOD + "&format=csv")
    assert download.status_code == 409 and b"no rate plan" in download.content
    assert client.post("/projects/alpha/chargeback/issue/" + PERIOD, follow=True).status_code == 200
    assert not Statement.objects.exists()


def test_staff_issues_revisions_and_each_stays_frozen(as_user, dashboard, plan):
    assert as_user("viewer").post("/projects/alpha/chargeback/issue/" + PERIOD).status_code == 403
    client = as_user("staff")
    assert "Issue statement" in client.get("/projects/alpha/chargeback/" + PERIOD).content.decode()
    response = client.post("/projects/alpha/chargeback/issue/" + PERIOD)
    assert response.status_code == 302 and response["Location"].endswith("?period=2026-11&revision=1")
    first = Statement.objects.get()
    assert (first.revision, first.total, first.issued_by) == (1, Decimal("0.56"), dashboard["users"]["staff"])
    assert (first.period_start, first.period_end) == NOVEMBER
    frozen = b"".join(client.get("/projects/alpha/chargeback/" + PERIOD + "&revision=1&format=csv").streaming_content)

    Rate.objects.filter(measure="instance_hours").update(unit_price=Decimal("0.20"))
    client.post("/projects/alpha/chargeback/issue/" + PERIOD)
    second = Statement.objects.get(revision=2)
    assert second.total == Decimal("0.96") and second.changes["total"]["difference"] == "0.40"
    page = client.get("/projects/alpha/chargeback/" + PERIOD + "&revision=1").content.decode()
    assert "Revision 1" in page and 'id="statement-total">0.56 EUR<' in page and "Issue statement" not in page
    table = page.split('id="revisions-table"', 1)[1].split("</table>", 1)[0]
    assert "First issue" in table and "Total 0.56 → 0.96 (0.40); 2 lines changed" in table
    again = b"".join(client.get("/projects/alpha/chargeback/" + PERIOD + "&revision=1&format=csv").streaming_content)
    assert again == frozen


def test_unknown_revision_and_bad_period_are_explained(as_user, dashboard, plan):
    client = as_user("viewer")
    page = client.get("/projects/alpha/chargeback/" + PERIOD + "&revision=7").content.decode()
    assert "alpha has no issued revision 7 for this period." in page
    assert client.get("/projects/alpha/chargeback/" + PERIOD + "&revision=7&format=csv").status_code == 404
    bad = client.get("/projects/alpha/chargeback/?period=2026-13").content.decode()
    assert "expected a month as YYYY-MM" in bad and 'aria-invalid="true"' in bad
    both = client.get("/projects/alpha/chargeback/?period=2026-11&start=2026-11-01&end=2026-11-02")
    assert b"give a month or From/To, not both" in both.content
    assert client.get("/projects/alpha/chargeback/?start=2026-11-05&end=2026-11-01&format=csv").status_code == 400
    days = client.get("/projects/alpha/chargeback/?start=2026-11-01&end=2026-11-01")
    assert (days.context["start"], days.context["end"]) == (T0, datetime(2026, 11, 2, tzinfo=UTC))
    assert days.context["total"] == Decimal("0.56")


def test_staff_overview_ranks_projects_and_compares_with_public_cloud(as_user, dashboard, plan):
    assert as_user("member").get("/chargeback/").status_code == 403
    client = as_user("staff")
    content = client.get("/chargeback/" + PERIOD).content.decode()
    ranking = content.split('id="chargeback-ranking"', 1)[1].split("</tbody>", 1)[0]
    assert re.findall(r'<a href="/projects/([a-z]+)/chargeback/\?period=2026-11">', ranking) == ["alpha", "beta"]
    # beta: one VM, 2 vCPUs x 2 h x 0.0125 + 2 h x 0.10 = 0.25
    assert "0.56 EUR" in ranking and "0.25 EUR" in ranking
    assert chart(content, "chart-projects")["datasets"][0]["data"] == [0.56, 0.25]
    assert 'id="no-price-sheet"' in content

    alone = RatePlan.objects.create(name="other", currency="EUR")
    ProjectRatePlan.objects.create(project=dashboard["beta"], plan=alone, effective_from=T0)  # no rates: 0
    sheet = PriceSheet.objects.create(name="cloud-x", currency="USD")
    PriceSheetEntry.objects.create(sheet=sheet, name="small", vcpus=2, ram_mb=4096, hourly_price=Decimal("0.05"))
    PriceSheetEntry.objects.create(sheet=sheet, name="large", vcpus=8, ram_mb=16384, hourly_price=Decimal("0.20"))
    HostCost.objects.create(host=Resource.objects.get(name="host-1"), monthly_hardware_cost=Decimal("730"))
    content = client.get("/chargeback/" + PERIOD).content.decode()
    ranking = content.split('id="chargeback-ranking"', 1)[1].split("</tbody>", 1)[0]
    assert "0.00 EUR" in ranking.split("beta", 1)[1]
    table = content.split('id="onprem-table"', 1)[1].split("</table>", 1)[0]
    assert "cloud-x (USD)" in table
    alpha_row = table.split(">alpha<", 1)[1].split("</tr>", 1)[0]
    # alpha-web 2 h on "small" (0.10) + alpha-db 4 vCPUs 2 h on "large" (0.40)
    assert "0.50" in alpha_row
    assert 'id="idle-table"' in content and "host-1" in content
    shared = client.get("/chargeback/" + PERIOD + "&share_idle=1").content.decode()
    assert "Idle share" in shared


def test_overview_shows_idle_capacity_distributed_and_left(as_user, dashboard, plan):
    """host-1 costs 730.00 a month = 1.00 an hour: 720.00 over November; the VMs cover what
    the host's internal prices give them; an idle rule spreads the rest, the page says to whom."""
    from metering.models import AllocationRule

    client = as_user("staff")
    assert "No host cost recorded" in client.get("/chargeback/" + PERIOD).content.decode()
    HostCost.objects.create(host=Resource.objects.get(name="host-1"), monthly_hardware_cost=Decimal("730"))
    content = client.get("/chargeback/" + PERIOD).content.decode()
    table = content.split('id="idle-table"', 1)[1].split("</table>", 1)[0]
    assert "host host-1" in table and "none: left idle" in table
    row = table.split("host host-1", 1)[1].split("</tr>", 1)[0]
    cost, covered, idle_, distributed, left = re.findall(r"(-?[\d.]+) EUR", row)
    assert Decimal(cost) == Decimal("720.00") and Decimal(distributed) == 0 and Decimal(left) == Decimal(idle_)
    assert Decimal(cost) == Decimal(covered) + Decimal(idle_)
    AllocationRule.objects.create(name="idle-even", spreads="idle", method="even")
    content = client.get("/chargeback/" + PERIOD).content.decode()
    row = content.split('id="idle-table"', 1)[1].split("host host-1", 1)[1].split("</tr>", 1)[0]
    assert "idle-even: allocated from idle capacity of host host-1 evenly" in row
    cost, covered, idle_, distributed, left = (Decimal(x) for x in re.findall(r"(-?[\d.]+) EUR", row))
    assert (distributed, left) == (idle_, 0) and cost == covered + distributed + left
    page = client.get("/projects/alpha/chargeback/" + PERIOD)
    assert "allocated from idle capacity of host host-1 evenly" in page.content.decode()
    # the draft's figures are cached by the ledger's version: its lines come as the page's groups
    share = sum(Decimal(line["amount"].replace(",", "")) for group in page.context["groups"] for line in group["lines"]
                if "idle capacity" in line["description"])
    assert share > 0 and (page.context["allocated"], page.context["direct"]) == (share, Decimal("0.56"))
    assert page.context["total"] == Decimal("0.56") + share
    assert 'id="statement-direct">0.56 EUR' in page.content.decode()


def test_overview_comparison_and_idle_table_are_cached_until_a_write(as_user, dashboard, plan):
    """A second view of the overview reads no segment (ranking, comparison and idle table come
    from the cache by the ledger's version); a write to a host cost, a price sheet's size or the
    hosts an idle rule names (each a table of the ledger) shows on the next view."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from metering.models import AllocationRule

    client = as_user("staff")
    host = Resource.objects.get(name="host-1")
    cost = HostCost.objects.create(host=host, monthly_hardware_cost=Decimal("730"))
    sheet = PriceSheet.objects.create(name="cloud-x", currency="USD")
    small = PriceSheetEntry.objects.create(sheet=sheet, name="small", vcpus=2, ram_mb=4096, hourly_price=Decimal("0.05"))
    PriceSheetEntry.objects.create(sheet=sheet, name="large", vcpus=8, ram_mb=16384, hourly_price=Decimal("0.20"))

    def view() -> tuple[str, str]:
        content = client.get("/chargeback/" + PERIOD).content.decode()
        onprem = content.split('id="onprem-table"', 1)[1].split("</table>", 1)[0]
        idle = content.split('id="idle-table"', 1)[1].split("</table>", 1)[0]
        return onprem.split(">alpha<", 1)[1].split("</tr>", 1)[0], idle.split("host host-1", 1)[1].split("</tr>", 1)[0]

    alpha, idle = view()
    assert "0.50" in alpha and "720.00 EUR" in idle and "none: left idle" in idle
    with CaptureQueriesContext(connection) as queries:
        assert view() == (alpha, idle)
    assert not [q["sql"] for q in queries.captured_queries if "metering_usagesegment" in q["sql"]]

    cost.monthly_hardware_cost = Decimal("1460")
    cost.save()
    alpha, idle = view()
    assert "1440.00 EUR" in idle
    small.hourly_price = Decimal("0.10")
    small.save()
    alpha, _ = view()
    assert "0.60" in alpha  # alpha-web 2 h on "small" (0.20) + alpha-db 2 h on "large" (0.40)
    other = Resource.objects.create(account=host.account, external_id="h2", kind="host", name="host-2",
                                    state="running", first_seen=T0, last_seen=T0)
    rule = AllocationRule.objects.create(name="idle-h", spreads="idle", method="even")
    rule.hosts.set([other])
    assert "none: left idle" in view()[1]
    rule.hosts.set([host])  # writes only the rule's hosts
    assert "idle-h: allocated from idle capacity of host host-1 evenly" in view()[1]
