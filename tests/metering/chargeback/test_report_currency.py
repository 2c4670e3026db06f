"""A report currency chosen per report on the chargeback page and through the API (the README's
two-currency worked example, through the real views).

A USD plan at 0.01 per vCPU-hour until Nov 16 and 0.02 after; one 2-vCPU VM all November:
7.20 USD + 14.40 USD = 21.60 USD. 1 USD = 0.90 EUR from Nov 1; 1 EUR = 1.25 USD from Nov 16
(so 0.80): 7.20 x 0.90 = 6.48 EUR, 14.40 x 0.80 = 11.52 EUR, total 18.00 EUR.
"""

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from metering.chargeback import statements
from metering.chargeback.currency import import_csv
from tests.conftest import vm
from tests.metering.chargeback.conftest import DEC, NOV, add_rate, day, make_plan

pytestmark = pytest.mark.django_db
NOV16 = datetime(2026, 11, 16, tzinfo=UTC)
PAGE = "/projects/alpha/chargeback/?period=2026-11"


@pytest.fixture
def usd_month(ledger, project):
    plan = make_plan(currency="USD")
    add_rate(plan, "vcpu_hours", "0.01", until=NOV16)
    add_rate(plan, "vcpu_hours", "0.02", since=NOV16)
    ledger.at(day(0), vm("v1", vcpus="2", started_at=NOV))
    ledger.at(DEC, vm("v1", vcpus="2", started_at=NOV))
    import_csv("base,quote,rate,effective_from\nUSD,EUR,0.90,2026-11-01\nEUR,USD,1.25,2026-11-16\n"
               "USD,JPY,149.99,2026-11-01\n")
    return project


@pytest.fixture
def staff(db):
    client = Client(raise_request_exception=False)
    client.force_login(get_user_model().objects.create_user("boss", password="x", is_staff=True))
    return client


def test_the_page_converts_each_line_and_shows_its_rate_and_date(usd_month, staff):
    page = staff.get(PAGE + "&currency=EUR")
    assert page.status_code == 200
    conv = page.context["conversion"]
    assert [(c.line.amount, c.rate.rate, c.rate.effective_from.isoformat(), c.amount) for c in conv.lines] == [
        (Decimal("7.20"), Decimal("0.90"), "2026-11-01", Decimal("6.48")),
        (Decimal("14.40"), Decimal("0.8000000000"), "2026-11-16", Decimal("11.52"))]
    html = page.content.decode()
    assert 'id="converted-total">18.00 EUR' in html
    table = html.split('id="statement-lines-table"', 1)[1]
    assert '<td class="num rate">0.9</td><td class="rate-date">2026-11-01</td><td class="num converted">6.48</td>' in table
    assert '<td class="num rate">0.8</td><td class="rate-date">2026-11-16</td><td class="num converted">11.52</td>' in table
    assert '<option value="EUR" selected>EUR</option>' in html and '<option value="JPY">' in html
    # the page's downloads carry the report currency, exactly the same conversion
    rows = list(csv.reader(io.StringIO(b"".join(staff.get(PAGE + "&currency=EUR&format=csv")
                                              .streaming_content).decode())))
    assert rows[-1] == ["Converted total", "18.00", "EUR"]
    assert [r[13:16] for r in rows if len(r) == 17 and r[0] == "alpha"] == [
        ["0.9", "2026-11-01", "6.48"], ["0.8", "2026-11-16", "11.52"]]
    jpy = staff.get(PAGE + "&currency=jpy")
    assert jpy.context["conversion"].total == Decimal("3240")  # 1080 + 2160: whole yen


def test_bad_codes_and_missing_rates_are_form_errors_and_400s_never_500s(usd_month, staff):
    for code, message in (("EURO", "three-letter ISO 4217"), ("ZZZ", "not an ISO 4217 currency code"),
                          ("GBP", "no exchange rate from USD to GBP on or before 2026-11-15")):
        page = staff.get(PAGE + f"&currency={code}")
        assert page.status_code == 200 and message in page.context["currency_error"]
        assert 'id="currency-error" role="alert"' in page.content.decode() and page.context["conversion"] is None
        assert page.context["total"] == Decimal("21.60")  # the statement itself is still shown
        download = staff.get(PAGE + f"&currency={code}&format=csv")
        assert download.status_code == 400 and message in download.content.decode()
    assert staff.get(PAGE + "&currency=EUR&format=focus").status_code == 400


def test_the_api_converts_an_issued_statement(usd_month, staff):
    st = statements.issue(usd_month, NOV, DEC)
    url = f"/api/v1/statements/{st.pk}/"
    data = staff.get(url + "?currency=EUR").json()
    assert (data["total"], data["currency"], data["report_currency"], data["converted_total"]) == (
        "21.60", "USD", "EUR", "18.00")
    assert [(x["amount"], x["exchange_rate"], x["rate_date"], x["converted_amount"]) for x in data["lines"]] == [
        ("7.20", "0.9", "2026-11-01", "6.48"), ("14.40", "0.8", "2026-11-16", "11.52")]
    body = b"".join(staff.get(url + "?currency=EUR&format=csv").streaming_content).decode()
    assert body.strip().endswith("Converted total,18.00,EUR")
    assert "report_currency" not in staff.get(url).json()
    bad = staff.get(url + "?currency=XYZ")
    assert bad.status_code == 400 and "not an ISO 4217 currency code" in bad.json()["currency"][0]
    missing = staff.get(url + "?currency=CHF&format=csv")
    assert missing.status_code == 400
    assert "no exchange rate from USD to CHF on or before 2026-11-15" in missing.json()["currency"][0]


def test_the_overview_converts_every_project_total(usd_month, staff):
    from metering.models import Project, ProjectRatePlan, RatePlan

    eur = make_plan(name="eur", currency="EUR", default=False, vcpu_hours="0.01")
    beta = Project.objects.create(slug="beta", name="Beta")
    ProjectRatePlan.objects.create(project=beta, plan=eur, effective_from=datetime(2026, 1, 1, tzinfo=UTC))
    assert RatePlan.objects.count() == 2
    page = staff.get("/chargeback/?period=2026-11&currency=EUR")
    html = page.content.decode()
    ranking = html.split('id="chargeback-ranking"', 1)[1].split("</table>", 1)[0]
    assert '<td class="num converted">18.00 EUR</td>' in ranking  # alpha's 21.60 USD, line by line
    assert '<td class="num converted">0.00 EUR</td>' in ranking  # beta: no usage, already EUR
    assert 'id="converted-total">18.00 EUR' in ranking
    missing = staff.get("/chargeback/?period=2026-11&currency=GBP")
    assert missing.status_code == 200 and "converted-total" not in missing.content.decode()
    assert "alpha: currency GBP: no exchange rate from USD to GBP on or before 2026-11-15" in \
        missing.context["currency_error"]
    assert "not an ISO 4217" in staff.get("/chargeback/?period=2026-11&currency=ABC").context["currency_error"]
