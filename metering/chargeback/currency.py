"""Converting statements to a report currency with dated exchange rates.

A rate plan keeps its currency; a report may ask for another. Each line's amount is converted with
the rate in effect on the last day the line covers (the newest ``ExchangeRate`` whose
``effective_from`` is on or before it; the inverse of the opposite pair when only that exists)
and rounded half-even to the target currency's minor unit. The converted total is the sum of the
converted lines, so a converted statement still adds up exactly; it may differ by a few minor
units from converting the original total, and the export says so by showing both. Every
converted line carries the rate and the date of the rate used.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction

from metering.chargeback.export import AnyStatement, _meta, lines_of
from metering.chargeback.money import minor_unit
from metering.models import ExchangeRate

RATE_PLACES = Decimal("0.0000000001")


class NoExchangeRate(LookupError):
    """No rate converts one currency to the other on a date: the message says which."""


def check_code(code: str) -> str:
    """An upper-case ISO 4217 code this product can store, or ``ValueError`` naming it."""
    text = (code or "").strip().upper()
    minor_unit(text)  # three letters, two or zero decimals
    return text


@dataclass(frozen=True)
class UsedRate:
    rate: Decimal
    effective_from: date


def rate_on(base: str, quote: str, on: date, cache: dict | None = None) -> UsedRate:
    """The rate converting ``base`` to ``quote`` on day ``on``."""
    if base == quote:
        return UsedRate(Decimal(1), on)
    key = (base, quote, on)
    if cache is not None and key in cache:
        return cache[key]
    direct = (ExchangeRate.objects.filter(base=base, quote=quote, effective_from__lte=on)
              .order_by("-effective_from").first())
    inverse = (ExchangeRate.objects.filter(base=quote, quote=base, effective_from__lte=on)
               .order_by("-effective_from").first())
    if direct is None and inverse is None:
        raise NoExchangeRate(f"no exchange rate from {base} to {quote} on or before {on}: add one in Django admin "
                             f"or import a CSV")
    if direct is not None and (inverse is None or direct.effective_from >= inverse.effective_from):
        used = UsedRate(direct.rate, direct.effective_from)
    else:
        used = UsedRate((Decimal(1) / inverse.rate).quantize(RATE_PLACES, ROUND_HALF_EVEN), inverse.effective_from)
    if cache is not None:
        cache[key] = used
    return used


def _last_day(end: datetime | None, fallback: datetime) -> date:
    moment = (end or fallback) - timedelta(microseconds=1)
    return moment.date()


HEADER = ["Project", "Provider", "Resource", "Kind", "Measure", "Description", "From", "To", "Quantity", "Unit",
          "Unit price", "Amount", "Currency", "Exchange rate", "Rate date", "Converted amount", "Report currency"]


def converted_rows(st: AnyStatement, currency: str) -> Iterator[list]:
    """The statement's lines converted to ``currency``: each with its rate and rate date, then totals."""
    target = check_code(currency)
    meta = _meta(st)
    source = meta["currency"]
    if not source:
        raise NoExchangeRate("the statement has no currency (showback or no rate plan): nothing to convert")
    minor, cache = minor_unit(target), {}
    yield ["Statement", meta["project"]]
    yield ["Period start", meta["start"]]
    yield ["Period end (exclusive)", meta["end"]]
    yield ["Currency", source]
    yield ["Report currency", target]
    yield []
    yield HEADER
    total = Decimal(0)
    for line in lines_of(st):
        amount = line.amount or Decimal(0)
        used = rate_on(source, target, _last_day(line.end, meta["end"]), cache)
        converted = (amount * used.rate).quantize(minor, ROUND_HALF_EVEN)
        total += converted
        yield [meta["project"], line.provider, line.resource_name, line.resource_kind, line.measure,
               line.description, line.start, line.end, line.quantity, line.unit, line.unit_price, amount, source,
               used.rate.normalize(), used.effective_from, converted, target]
    yield []
    yield ["Total", meta["total"], source]
    yield ["Converted total", total, target]


COLUMNS = ("base", "quote", "rate", "effective_from")


def import_csv(text: str, source: str = "csv") -> int:
    """Load rates from CSV text with the header ``base,quote,rate,effective_from``; all or nothing.

    A row for an existing (base, quote, date) replaces its rate. Errors name the row and column.
    """
    reader = csv.DictReader(io.StringIO(text))
    if [c.strip() for c in (reader.fieldnames or [])] != list(COLUMNS):
        raise ValueError(f"header must be {','.join(COLUMNS)}, got {','.join(reader.fieldnames or []) or 'nothing'}")
    rows = []
    for number, row in enumerate(reader, start=2):
        try:
            rate = Decimal((row.get("rate") or "").strip())
        except InvalidOperation:
            raise ValueError(f"row {number}, rate: not a number: {row.get('rate')!r}") from None
        try:
            day = date.fromisoformat((row.get("effective_from") or "").strip())
        except ValueError:
            raise ValueError(f"row {number}, effective_from: expected YYYY-MM-DD, got {row.get('effective_from')!r}") from None
        candidate = ExchangeRate(base=row.get("base") or "", quote=row.get("quote") or "", rate=rate,
                                 effective_from=day, source=source[:100])
        try:
            candidate.clean()
        except ValidationError as exc:
            field, messages = next(iter(exc.message_dict.items()))
            raise ValueError(f"row {number}, {field}: {messages[0]}") from None
        rows.append(candidate)
    with transaction.atomic():
        for r in rows:
            ExchangeRate.objects.update_or_create(base=r.base, quote=r.quote, effective_from=r.effective_from,
                                                  defaults={"rate": r.rate, "source": r.source})
    return len(rows)
