"""A two-currency statement (the README's worked example): a USD plan reported in EUR with dated
rates, each line converted with the rate of its last day and rounded to the target's minor unit."""

from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from metering.chargeback import statements
from metering.chargeback.currency import NoExchangeRate, converted_rows, import_csv, rate_on
from metering.models import ExchangeRate, Rate
from tests.conftest import vm
from tests.metering.chargeback.conftest import DEC, NOV, add_rate, day, make_plan

pytestmark = pytest.mark.django_db
NOV16 = datetime(2026, 11, 16, tzinfo=UTC)


@pytest.fixture
def usd_month(ledger, project):
    """vCPU-hours 0.01 USD until Nov 16, 0.02 after; one 2-vCPU VM all November:
    line A Nov 1-16: 720 x 0.01 = 7.20 USD; line B Nov 16 - Dec 1: 720 x 0.02 = 14.40 USD; total 21.60."""
    plan = make_plan(currency="USD")
    add_rate(plan, "vcpu_hours", "0.01", until=NOV16)
    add_rate(plan, "vcpu_hours", "0.02", since=NOV16)
    ledger.at(day(0), vm("v1", vcpus="2", started_at=NOV))
    ledger.at(DEC, vm("v1", vcpus="2", started_at=NOV))
    # 1 USD = 0.90 EUR from Nov 1; from Nov 16 only the opposite pair is known: 1 EUR = 1.25 USD (so 0.80)
    import_csv("base,quote,rate,effective_from\nUSD,EUR,0.90,2026-11-01\nEUR,USD,1.25,2026-11-16\n"
               "USD,JPY,149.99,2026-11-01\n")
    return statements.issue(project, NOV, DEC)


def test_each_line_uses_the_rate_of_its_last_day(usd_month):
    rows = list(converted_rows(usd_month, "EUR"))
    lines = [r for r in rows if len(r) == 17 and r[0] == "alpha"]
    got = [(r[11], r[13], r[14], r[15]) for r in lines]
    assert got == [(Decimal("7.20"), Decimal("0.9"), datetime(2026, 11, 1).date(), Decimal("6.48")),
                   (Decimal("14.40"), Decimal("0.8"), datetime(2026, 11, 16).date(), Decimal("11.52"))]
    assert rows[-2] == ["Total", Decimal("21.60"), "USD"] and rows[-1] == ["Converted total", Decimal("18.00"), "EUR"]


def test_a_zero_decimal_currency_rounds_to_whole_units(usd_month):
    rows = list(converted_rows(usd_month, "JPY"))
    assert [r[15] for r in rows if len(r) == 17 and r[0] == "alpha"] == [Decimal("1080"), Decimal("2160")]
    # 7.20 x 149.99 = 1079.928 -> 1080; 14.40 x 149.99 = 2159.856 -> 2160
    assert rows[-1] == ["Converted total", Decimal("3240"), "JPY"]


def test_missing_rates_and_bad_codes_say_what_is_wrong(usd_month):
    with pytest.raises(NoExchangeRate, match="no exchange rate from USD to GBP on or before 2026-11-15"):
        list(converted_rows(usd_month, "GBP"))
    with pytest.raises(ValueError, match="three-letter ISO 4217"):
        list(converted_rows(usd_month, "EURO"))
    with pytest.raises(ValueError, match="row 2, rate: must be a positive number"):
        import_csv("base,quote,rate,effective_from\nUSD,EUR,-1,2026-11-01\n")
    with pytest.raises(ValueError, match="row 3, effective_from: expected YYYY-MM-DD"):
        import_csv("base,quote,rate,effective_from\nUSD,EUR,1,2026-11-01\nUSD,EUR,1,yesterday\n")
    assert ExchangeRate.objects.count() == 3  # nothing of the refused files was kept
    assert rate_on("EUR", "EUR", NOV.date()).rate == 1


def test_the_command_converts_and_refuses_clearly(usd_month, tmp_path):
    out = StringIO()
    call_command("chargeback", "--project", "alpha", "--period", "2026-11", "--currency", "eur", stdout=out)
    assert "Converted total,18.00,EUR" in out.getvalue() and ",0.9,2026-11-01,6.48,EUR" in out.getvalue()
    with pytest.raises(CommandError, match="no exchange rate from USD to CHF"):
        call_command("chargeback", "--project", "alpha", "--period", "2026-11", "--currency", "CHF", stdout=out)
    bad = tmp_path / "rates.csv"
    bad.write_text("base,quote,rate\nUSD,EUR,1\n")
    with pytest.raises(CommandError, match="header must be base,quote,rate,effective_from"):
        call_command("exchange_rates", "import", str(bad), stdout=out)
    assert Rate.objects.count() == 2


def test_a_round_rate_is_written_as_a_plain_number(usd_month):
    """1 USD = 150 JPY: the rate column says 150, not Decimal's normalised 1.5E+2."""
    import_csv("base,quote,rate,effective_from\nUSD,JPY,150,2026-11-01\n")
    out = StringIO()
    call_command("chargeback", "--project", "alpha", "--period", "2026-11", "--currency", "JPY", stdout=out)
    assert ",150,2026-11-01,1080,JPY" in out.getvalue() and "E+" not in out.getvalue()


def test_the_command_converts_json_too(usd_month):
    import json

    out = StringIO()
    call_command("chargeback", "--project", "alpha", "--period", "2026-11", "--currency", "EUR", "--format", "json",
                 stdout=out)
    data = json.loads(out.getvalue())
    assert (data["total"], data["report_currency"], data["converted_total"]) == ("21.60", "EUR", "18.00")
    assert [(x["exchange_rate"], x["rate_date"], x["converted_amount"]) for x in data["lines"]] == [
        ("0.9", "2026-11-01", "6.48"), ("0.8", "2026-11-16", "11.52")]
    with pytest.raises(CommandError, match="FOCUS keeps the billing currency"):
        call_command("chargeback", "--project", "alpha", "--period", "2026-11", "--currency", "EUR",
                     "--format", "focus", stdout=out)
