"""Statements as CSV (streamed, one row at a time) or JSON.

The CSV goes through ``metering.export.csv_stream``: UTF-8, and every text cell a spreadsheet
would run as a formula (starting with = + - @, a tab or a carriage return) gets a leading
apostrophe. Quantities, prices and amounts are handed over as ``Decimal`` and written as plain
numbers, never neutralised, so a credit of -1.50 in a revision stays a number a spreadsheet can
add. A stored statement's lines are read with an iterator, so memory stays flat however many
lines it has; subtotals are summed while streaming and written after the lines.

Numbers are formatted the same way for a draft and an issued statement (quantity 6 places, unit
price 8, amounts to the currency's minor unit), so an issued statement exports byte-identically
for ever. JSON carries every number as a string.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.db.models import CharField
from django.db.models.functions import Cast

from metering.chargeback.engine import Draft, subtotals
from metering.chargeback.money import QUANTITY, UNIT_PRICE, minor_unit
from metering.export import safe_cell
from metering.models import Statement

HEADER = ["Project", "Provider", "Resource", "Kind", "Measure", "Description", "From", "To", "Quantity", "Unit",
          "Unit price", "Amount", "Estimated"]

AnyStatement = Draft | Statement


def _meta(st: AnyStatement) -> dict:
    if isinstance(st, Statement):
        return {"project": st.project.slug, "start": st.period_start, "end": st.period_end,
                "currency": st.currency, "showback": st.showback, "revision": st.revision, "status": st.status,
                "issued_at": st.issued_at, "total": None if st.showback else st.total}
    return {"project": st.project.slug, "start": st.start, "end": st.end, "currency": st.currency,
            "showback": st.showback, "revision": 0, "status": st.status, "issued_at": None, "total": st.total}


LINE_FIELDS = ("resource_name", "resource_kind", "provider", "measure", "description", "start", "end", "quantity",
               "unit", "unit_price", "amount", "estimated")


def lines_of(st: AnyStatement) -> Iterable:
    """The lines in order; a stored statement's as light named tuples read in chunks (flat memory)."""
    if isinstance(st, Statement):
        return st.lines.order_by("id").values_list(*LINE_FIELDS, named=True).iterator(chunk_size=2000)
    return st.lines


class _Times(dict):
    """Datetimes as the text ``safe_cell`` would write, formatted once each (lines share a few).
    Keys may also be PostgreSQL's own text of a ``timestamptz`` (see ``_csv_lines``)."""

    def __missing__(self, value):
        self[value] = text = safe_cell(datetime.fromisoformat(value) if isinstance(value, str) else value)
        return text


def _csv_lines(st: AnyStatement) -> Iterable:
    """``lines_of``, except that on PostgreSQL a stored statement's start and end come as the
    database's text: a statement's lines share a few periods, so each is parsed once per stream
    instead of once per line (decoding two timestamps a line was a third of the CSV's time)."""
    if not isinstance(st, Statement) or connection.vendor != "postgresql":
        return lines_of(st)
    text = {name: Cast(name, CharField()) for name in ("start", "end")}
    fields = [f"{name}_text" if name in text else name for name in LINE_FIELDS]
    return (_Line(*row) for row in st.lines.order_by("id").annotate(**{f"{k}_text": v for k, v in text.items()})
            .values_list(*fields).iterator(chunk_size=2000))


_Line = namedtuple("_Line", LINE_FIELDS)


def _money(value: Decimal | None, currency: str) -> Decimal | None:
    return None if value is None else value.quantize(minor_unit(currency))


def _num(value: Decimal | None, places: Decimal) -> Decimal | None:
    return None if value is None else value.quantize(places)


def statement_rows(st: AnyStatement) -> Iterator[list]:
    """The statement CSV: a summary block, the lines, subtotals by measure and provider, the total."""
    meta = _meta(st)
    cur = meta["currency"]
    yield ["Statement", meta["project"]]
    yield ["Period start", meta["start"]]
    yield ["Period end (exclusive)", meta["end"]]
    yield ["Currency", cur]
    yield ["Mode", "showback" if meta["showback"] else "chargeback"]
    yield ["Revision", meta["revision"] or "draft"]
    yield ["Issued at", meta["issued_at"]]
    yield ["Total", _money(meta["total"], cur) if cur else None]
    yield []
    yield HEADER
    measures: dict[str, list] = {}
    providers: dict[str, Decimal | None] = {}
    times, minor = _Times(), minor_unit(cur) if cur else None
    for line in _csv_lines(st):
        amount = None if line.amount is None or minor is None else line.amount.quantize(minor)
        yield [meta["project"], line.provider, line.resource_name, line.resource_kind, line.measure,
               line.description, times[line.start], times[line.end], _num(line.quantity, QUANTITY), line.unit,
               _num(line.unit_price, UNIT_PRICE), amount, line.estimated]
        m = measures.setdefault(line.measure, [Decimal(0), line.unit, None])
        m[0] += line.quantity
        if amount is not None:
            m[2] = (m[2] or Decimal(0)) + amount
            providers[line.provider] = (providers.get(line.provider) or Decimal(0)) + amount
        else:
            providers.setdefault(line.provider, None)
    yield []
    yield ["Subtotal by measure", "Measure", "Quantity", "Unit", "Amount"]
    for name in sorted(measures):
        qty, unit, amount = measures[name]
        yield ["", name, _num(qty, QUANTITY), unit, amount]
    yield ["Subtotal by provider", "Provider", "Amount"]
    for name in sorted(providers):
        yield ["", name or "(fixed costs)", providers[name]]
    yield ["Total", _money(meta["total"], cur) if cur else None]


def _s(value) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def statement_json(st: AnyStatement) -> dict:
    """The statement as JSON-ready data; numbers are strings (no float ever)."""
    meta = _meta(st)
    cur = meta["currency"]
    lines = list(lines_of(st))
    by_measure, by_provider = subtotals(lines)
    data = {k: _s(v) if k not in ("showback", "revision") else v for k, v in meta.items()}
    data["total"] = _s(_money(meta["total"], cur)) if cur else None
    data["subtotals"] = {
        "measures": {m: {"quantity": _s(_num(q, QUANTITY)), "amount": _s(a)} for m, (q, a) in sorted(by_measure.items())},
        "providers": {p or "(fixed costs)": _s(a) for p, a in sorted(by_provider.items())},
    }
    data["lines"] = [{
        "provider": x.provider, "resource": x.resource_name, "kind": x.resource_kind, "measure": x.measure,
        "description": x.description, "start": _s(x.start), "end": _s(x.end),
        "quantity": _s(_num(x.quantity, QUANTITY)), "unit": x.unit, "unit_price": _s(_num(x.unit_price, UNIT_PRICE)),
        "amount": _s(_money(x.amount, cur)) if cur else None, "estimated": x.estimated,
    } for x in lines]
    if isinstance(st, Statement):
        data["rates"] = st.rates_snapshot
        data["changes"] = st.changes
    else:
        data["rates"] = st.rates_snapshot()
    return data
