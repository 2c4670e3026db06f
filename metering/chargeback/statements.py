"""Statements: the live draft, issuing a frozen revision, and the difference between revisions.

A draft is computed on demand and never stored. ``issue`` stores the draft as the next revision
(1, 2, ...) of the project's period with its lines and the rates it used (``rates_snapshot``); an
issued statement and its lines are never changed again, so its export stays byte-identical after
rates or the ledger change. Issuing again stores a new revision whose ``changes`` says what moved
against the previous one: per line and per measure the quantity and amount differences, and the
difference of the totals.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from metering.chargeback.engine import Draft, build_statement
from metering.choices import StatementStatus
from metering.models import Project, Statement, StatementLine

BATCH = 5000
LINE_FIELDS = ("resource_id", "resource_name", "resource_kind", "provider", "measure", "description", "quantity",
               "unit", "unit_price", "amount", "estimated", "start", "end")


def draft(project: Project, start: datetime, end: datetime, *, showback: bool | None = None) -> Draft:
    """The live statement (revision 0), computed now from the ledger and the current rates."""
    return build_statement(project, start, end, showback=showback)


def revisions(project: Project, start: datetime, end: datetime):
    return Statement.objects.filter(project=project, period_start=start, period_end=end,
                                    status=StatementStatus.ISSUED).order_by("revision")


def latest(project: Project, start: datetime, end: datetime) -> Statement | None:
    return revisions(project, start, end).last()


def issue(project: Project, start: datetime, end: datetime, *, user=None, showback: bool | None = None,
          now: datetime | None = None) -> Statement:
    """Freeze the current draft as the next revision; ``changes`` compares it with the previous one."""
    current = build_statement(project, start, end, showback=showback)
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=project.pk).first()  # serialises revision numbers
        previous = latest(project, start, end)
        statement = Statement.objects.create(
            project=project, period_start=start, period_end=end,
            revision=(previous.revision + 1) if previous else 1, status=StatementStatus.ISSUED,
            currency=current.currency, showback=current.showback, total=current.total or Decimal(0),
            rates_snapshot=current.rates_snapshot(),
            changes=diff(previous.lines.all(), current.lines, previous, current) if previous else {},
            issued_at=now or timezone.now(), issued_by=user,
        )
        lines = (StatementLine(statement=statement, **{f: getattr(x, f) for f in LINE_FIELDS}) for x in current.lines)
        while batch := [line for _, line in zip(range(BATCH), lines, strict=False)]:
            StatementLine.objects.bulk_create(batch)
    return statement


def _key(line) -> tuple:
    start = line.start.isoformat() if line.start else ""
    return (line.provider, line.resource_name, line.measure, line.description, start)


def _s(value) -> str | None:
    return None if value is None else str(value)


def diff(old_lines, new_lines, old, new) -> dict:
    """What changed from ``old`` to ``new`` (statements or drafts): lines, measures and total.

    Lines are matched by provider, resource name, measure, description (flavor, tier) and start;
    only lines whose quantity, unit price or amount differ are listed. Numbers are strings.
    """
    def collect(lines):
        out = defaultdict(lambda: [Decimal(0), None, None])
        for x in lines:
            acc = out[_key(x)]
            acc[0] += x.quantity
            if x.amount is not None:
                acc[1] = (acc[1] or Decimal(0)) + x.amount
            acc[2] = x.unit_price
        return out

    before, after = collect(old_lines), collect(new_lines)
    changed, measures = [], defaultdict(lambda: [Decimal(0), Decimal(0)])
    for key in sorted(set(before) | set(after)):
        q0, a0, p0 = before.get(key, (Decimal(0), None, None))
        q1, a1, p1 = after.get(key, (Decimal(0), None, None))
        if (q0, a0, p0) == (q1, a1, p1):
            continue
        dq, da = q1 - q0, (a1 or Decimal(0)) - (a0 or Decimal(0))
        measures[key[2]][0] += dq
        measures[key[2]][1] += da
        changed.append({
            "provider": key[0], "resource": key[1], "measure": key[2], "description": key[3], "start": key[4],
            "quantity": {"previous": str(q0), "current": str(q1), "difference": str(dq)},
            "unit_price": {"previous": _s(p0), "current": _s(p1)},
            "amount": {"previous": _s(a0), "current": _s(a1), "difference": str(da)},
        })
    t0, t1 = old.total or Decimal(0), new.total or Decimal(0)
    return {
        "previous_revision": old.revision,
        "total": {"previous": str(t0), "current": str(t1), "difference": str(t1 - t0)},
        "lines": changed,
        "measures": {m: {"quantity_difference": str(q), "amount_difference": str(a)}
                     for m, (q, a) in sorted(measures.items())},
    }
