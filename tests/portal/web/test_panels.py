"""The overview's limit summary (a doughnut per limit, amber near, red over), the breach banner,
and the month's cost to date and forecast from the chargeback engine."""

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest

from metering.models import Quota, QuotaBreach, Rate, RatePlan
from tests.conftest import T0

pytestmark = pytest.mark.django_db

PERIOD = "?start=2026-11-01&end=2026-11-02"


def limit_charts(content: str) -> dict[str, dict]:
    found = re.findall(r'<script id="chart-limit-\d+" type="application/json">(.*?)</script>', content, re.S)
    return {c["title"]: c for c in map(json.loads, found)}


def test_a_doughnut_per_limit_with_its_level(as_user, dashboard):
    alpha = dashboard["alpha"]
    Quota.objects.create(project=alpha, key="vms", limit=2)  # 2 of 2: at the limit, amber
    Quota.objects.create(project=alpha, key="vcpus", limit=4)  # 2 + 4 + 0.5 = 6.5: red
    Quota.objects.create(project=alpha, key="containers", limit=10)  # 1 of 10: fine
    content = as_user("viewer").get("/projects/alpha/" + PERIOD).content.decode()
    charts = limit_charts(content)
    assert list(charts) == ["VMs", "Containers", "vCPUs", "RAM", "Disk", "Volumes", "Budget"]
    assert (charts["VMs"]["level"], charts["VMs"]["used"], charts["VMs"]["limit"]) == ("at", "2", "2")  # 2 of 2: at, not near
    assert (charts["vCPUs"]["level"], charts["vCPUs"]["used"]) == ("over", "6.5")
    assert charts["vCPUs"]["datasets"][0]["data"] == [6.5, 0.0]
    assert charts["Containers"]["level"] == "ok" and charts["Containers"]["datasets"][0]["data"] == [1.0, 9.0]
    assert "over the limit" in content and "at the limit" in content


def test_unlimited_limits_say_so(as_user, dashboard):
    Quota.objects.create(project=dashboard["alpha"], key="ram_mb", limit=-1)
    charts = limit_charts(as_user("viewer").get("/projects/alpha/" + PERIOD).content.decode())
    assert charts["RAM"]["limit"] == "unlimited" and charts["RAM"]["level"] == "ok"
    assert charts["RAM"]["used"] == "10.5" and charts["RAM"]["unit"] == "GiB"  # 2048 + 8192 + 512 MB


def test_open_breach_shows_a_banner_closed_one_does_not(as_user, dashboard):
    alpha = dashboard["alpha"]
    QuotaBreach.objects.create(project=alpha, key="vms", limit=1, used=Decimal(2), over_by=Decimal(1), opened_at=T0)
    QuotaBreach.objects.create(project=alpha, key="vcpus", limit=1, used=Decimal(9), over_by=Decimal(8),
                               opened_at=T0, closed_at=T0 + timedelta(hours=1))
    content = as_user("viewer").get("/projects/alpha/" + PERIOD).content.decode()
    banner = content.split('id="breach-banner"', 1)[1].split("</div>", 1)[0]
    assert "over 1 limit:" in banner and "VMs uses 2 of 1 (over by 1" in banner and "vCPUs" not in banner
    assert 'id="breach-banner"' not in as_user("staff").get("/projects/beta/" + PERIOD).content.decode()


def test_cost_to_date_and_forecast_come_from_the_chargeback_engine(as_user, dashboard):
    from metering.chargeback.costs import month_to_date

    plan = RatePlan.objects.create(name="standard", currency="EUR", is_default=True)
    Rate.objects.create(plan=plan, measure="vcpu_hours", unit_price=Decimal("0.01"), effective_from=T0)
    expected = month_to_date(dashboard["alpha"])
    content = as_user("viewer").get("/projects/alpha/" + PERIOD).content.decode()
    assert expected.currency == "EUR" and expected.cost_to_date > 0
    assert f'id="cost-to-date">{expected.cost_to_date} EUR<' in content
    assert re.search(r'id="cost-forecast">[\d.]+ EUR<', content)


def test_without_a_rate_plan_the_page_says_why_there_is_no_cost(as_user, dashboard):
    content = as_user("viewer").get("/projects/alpha/" + PERIOD).content.decode()
    assert "No rate plan applies to alpha" in content


def test_large_numbers_are_plain_not_scientific():
    from portal.web.charts import LIMIT_CHARTS, limit_doughnut

    disk = next(c for c in LIMIT_CHARTS if c.key == "disk_gb")
    chart = limit_doughnut(disk, Decimal("140.000"), 200)
    assert (chart["used"], chart["limit"], chart["level"]) == ("140", "200", "ok")
    assert limit_doughnut(disk, Decimal("170"), 200)["level"] == "warn"
    assert limit_doughnut(disk, Decimal("140"), -1)["datasets"][0]["data"] == [0.0, 1.0]
