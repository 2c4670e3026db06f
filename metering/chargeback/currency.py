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
from collections.abc import Iterable, Iterator
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

    @property
    def shown(self) -> Decimal:
        """The rate without trailing zeros and never in exponent form (150, not 1.5E+2)."""
        n = self.rate.normalize()
        return n.quantize(Decimal(1)) if n.as_tuple().exponent > 0 else n


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


@dataclass(frozen=True)
class ConvertedLine:
    line: object  # the statement line (draft ``Line`` or ``StatementLine`` or its row)
    rate: UsedRate
    amount: Decimal  # in the report currency, rounded to its minor unit


@dataclass(frozen=True)
class Conversion:
    """A statement in a report currency: every line with its rate and rate date; the converted
    total is the sum of the converted lines (it adds up exactly)."""

    source: str
    target: str
    lines: list[ConvertedLine]
    total: Decimal
    original_total: Decimal | None


def convert(st: AnyStatement, currency: str, lines: Iterable | None = None) -> Conversion:
    """``st`` converted to ``currency``, the one conversion every page, API and command uses.

    Raises ``ValueError`` for a code that is not ISO 4217 (or has 3 decimals) and
    ``NoExchangeRate`` naming the pair and the day when a line has no rate; nothing is converted
    partly. ``lines``: the statement's lines when the caller already read them (same order).
    """
    target = check_code(currency)
    meta = _meta(st)
    source = meta["currency"]
    if not source:
        raise NoExchangeRate("the statement has no currency (showback or no rate plan): nothing to convert")
    minor, cache = minor_unit(target), {}
    out, total = [], Decimal(0).quantize(minor)  # 0.00 EUR, not 0, for a statement without lines
    for line in (lines_of(st) if lines is None else lines):
        used = rate_on(source, target, _last_day(line.end, meta["end"]), cache)
        converted = ((line.amount or Decimal(0)) * used.rate).quantize(minor, ROUND_HALF_EVEN)
        total += converted
        out.append(ConvertedLine(line, used, converted))
    return Conversion(source, target, out, total, meta["total"])


HEADER = ["Project", "Provider", "Resource", "Kind", "Measure", "Description", "From", "To", "Quantity", "Unit",
          "Unit price", "Amount", "Currency", "Exchange rate", "Rate date", "Converted amount", "Report currency"]


def converted_rows(st: AnyStatement, currency: str | Conversion) -> Iterator[list]:
    """The statement's lines converted to ``currency``: each with its rate and rate date, then totals.
    Give a ``Conversion`` already made (``convert``) to stream it without reading the lines again."""
    conv = currency if isinstance(currency, Conversion) else convert(st, currency)
    meta = _meta(st)
    yield ["Statement", meta["project"]]
    yield ["Period start", meta["start"]]
    yield ["Period end (exclusive)", meta["end"]]
    yield ["Currency", conv.source]
    yield ["Report currency", conv.target]
    yield []
    yield HEADER
    for c in conv.lines:
        line = c.line
        yield [meta["project"], line.provider, line.resource_name, line.resource_kind, line.measure,
               line.description, line.start, line.end, line.quantity, line.unit, line.unit_price,
               line.amount or Decimal(0), conv.source, c.rate.shown, c.rate.effective_from, c.amount,
               conv.target]
    yield []
    yield ["Total", meta["total"], conv.source]
    yield ["Converted total", conv.total, conv.target]


def converted_json(data: dict, conv: Conversion) -> dict:
    """``statement_json``'s data with the conversion: per line the rate, its date and the converted
    amount (strings, like every number there), and the report currency's total."""
    data["report_currency"] = conv.target
    data["converted_total"] = str(conv.total)
    for row, c in zip(data["lines"], conv.lines, strict=True):
        row.update({"exchange_rate": str(c.rate.shown), "rate_date": c.rate.effective_from.isoformat(),
                    "converted_amount": str(c.amount)})
    return data


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
