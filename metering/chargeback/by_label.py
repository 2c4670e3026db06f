"""Usage and cost grouped by the values of any label key (or two keys nested), across providers.

Each project's statement for the period (the same lines its chargeback page shows) is split by
resource; each resource's lines go to the bucket of its label values. Resources without the key
go to ``UNLABELLED``; fixed costs, which belong to no resource, to ``FIXED``; shared costs
allocated between projects to ``ALLOCATED_BUCKET``. Buckets hold money
per currency (a project's plan fixes its currency; converting is the report currency's job), so
the buckets of one currency add up exactly to the sum of those projects' statement totals.

**Inheritance** is explicit and one rule: a resource without the key takes its parent's value,
then its grandparent's, but never a host's (a host's labels describe the machine, not whoever runs
on it). So a container in a VM labelled ``team=web`` counts for ``web`` unless it says otherwise.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from metering.chargeback.engine import build_statement
from metering.chargeback.rates import NoRatePlan
from metering.models import Project, Resource
from metering.reports import MEASURES, usage_report
from providers.base import Kind

UNLABELLED = "(unlabelled)"
FIXED = "(fixed costs)"
ALLOCATED_BUCKET = "(allocated)"
MAX_DEPTH = 8
MAX_KEYS = 2


class LabelReportError(ValueError):
    """Bad keys (none, more than two, too long): the message names what was wrong."""


@dataclass
class Bucket:
    values: tuple[str, ...]
    resources: set[int] = field(default_factory=set)
    measures: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    cost: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))  # currency -> amount

    @property
    def resource_count(self) -> int:
        return len(self.resources)


@dataclass
class LabelReport:
    keys: tuple[str, ...]
    start: datetime
    end: datetime
    buckets: list[Bucket]
    totals: dict[str, Decimal]  # currency -> sum of the statements' totals
    unpriced: list[str]  # projects without a rate plan: usage counted, no cost

    @property
    def currencies(self) -> list[str]:
        return sorted(self.totals)


def check_keys(keys: Iterable[str]) -> tuple[str, ...]:
    clean = tuple(k.strip() for k in keys if k and k.strip())
    if not clean:
        raise LabelReportError("give a label key, e.g. key=team")
    if len(clean) > MAX_KEYS:
        raise LabelReportError(f"at most {MAX_KEYS} label keys (got {len(clean)})")
    for k in clean:
        if len(k) > 253:
            raise LabelReportError(f"label key too long ({len(k)} characters, at most 253)")
    return clean


def effective_labels(resource_ids: Iterable[int]) -> dict[int, dict]:
    """Each resource's labels with inheritance applied (see the module docstring); few queries."""
    wanted = set(resource_ids)
    info: dict[int, tuple[str, int | None, dict]] = {}
    todo = set(wanted)
    for _ in range(MAX_DEPTH):
        todo -= set(info)
        if not todo:
            break
        rows = Resource.objects.filter(pk__in=todo).values_list("pk", "kind", "parent_id", "labels")
        for pk, kind, parent_id, labels in rows:
            info[pk] = (kind, parent_id, labels if isinstance(labels, dict) else {})
        todo = {parent for _, parent, _ in info.values() if parent is not None}
    out = {}
    for rid in wanted:
        merged: dict = {}
        current, depth = rid, 0
        while current in info and depth < MAX_DEPTH:
            kind, parent, labels = info[current]
            if kind == Kind.HOST and current != rid:
                break
            for k, v in labels.items():
                merged.setdefault(k, v)
            current, depth = parent, depth + 1
        out[rid] = merged
    return out


def cost_by_label(keys: Iterable[str], start: datetime, end: datetime,
                  projects: Iterable[Project] | None = None) -> LabelReport:
    """The report over [start, end) for ``projects`` (default: every project)."""
    keys = check_keys(keys)
    projects = list(projects) if projects is not None else list(Project.objects.order_by("slug"))
    buckets: dict[tuple, Bucket] = {}
    totals: dict[str, Decimal] = defaultdict(Decimal)
    unpriced = []

    def bucket(values: tuple) -> Bucket:
        return buckets.setdefault(values, Bucket(values))

    for project in projects:
        report = usage_report(start, end, project=project)
        labels = effective_labels(r.resource_id for r in report.rows)
        value_of = {rid: tuple(str(labels[rid].get(k, UNLABELLED)) for k in keys) for rid in labels}
        for row in report.rows:
            b = bucket(value_of[row.resource_id])
            b.resources.add(row.resource_id)
            for m in MEASURES:
                b.measures[m] += row.measures.get(m, Decimal(0))
        try:
            draft = build_statement(project, start, end, showback=False, report=report)
        except NoRatePlan:
            unpriced.append(project.slug)
            continue
        if not draft.currency:
            continue
        for line in draft.lines:
            values = value_of.get(line.resource_id) if line.resource_id is not None else None
            other = ALLOCATED_BUCKET if line.measure == "allocated" else FIXED
            b = bucket(values or (other,) * len(keys))
            b.cost[draft.currency] += line.amount or Decimal(0)
        totals[draft.currency] += draft.total or Decimal(0)

    def order(b: Bucket):
        special = any(v in (UNLABELLED, FIXED, ALLOCATED_BUCKET) for v in b.values)
        return (special, b.values)

    return LabelReport(keys, start, end, sorted(buckets.values(), key=order), dict(totals), unpriced)


def label_rows(report: LabelReport):
    """The report as CSV rows: a header, one row per bucket, then a total row per currency."""
    from metering.reports import UNITS, rounded

    currencies = report.currencies
    measures = [m for m in MEASURES if any(b.measures.get(m) for b in report.buckets)]
    yield [*report.keys, "Resources", *[f"{m} ({UNITS[m]})" for m in measures], *[f"Cost ({c})" for c in currencies]]
    for b in report.buckets:
        yield [*b.values, b.resource_count, *[rounded(b.measures.get(m, Decimal(0))) for m in measures],
               *[b.cost.get(c, Decimal(0)) for c in currencies]]
    yield ["Total", *[""] * (len(report.keys) - 1), sum(b.resource_count for b in report.buckets),
           *[rounded(sum((b.measures.get(m, Decimal(0)) for b in report.buckets), Decimal(0))) for m in measures],
           *[report.totals[c] for c in currencies]]
