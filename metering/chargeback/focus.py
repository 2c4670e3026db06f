"""Statements in the FinOps Foundation's FOCUS format (Cost and Usage, version 1.0).

One row per statement line (resource x measure x charge period), every column FOCUS 1.0 defines,
in the specification's order, then our own columns prefixed ``x_``. Why 1.0: it is the newest
version that an independent validator installable on Python 3.11 checks (``focus-validator``
1.0.0; its 2.x line, which checks 1.1 and later, needs Python 3.12) — the tests run that validator
on the export of a demo month.

How our statement maps:

* ``BilledCost`` is what the project is charged; under showback (quantities only) every cost is 0
  and the unit prices are null;
  ``EffectiveCost``, ``ListCost`` and ``ContractedCost`` are the line's amount (our rates are the
  list and the contracted price; there are no commitments or discounts), so the rows add up to
  the statement total exactly, cent for cent.
* ``ConsumedQuantity``/``PricingQuantity`` are the line's quantity, ``ListUnitPrice`` and
  ``ContractedUnitPrice`` its unit price; ``ConsumedUnit``/``PricingUnit`` use FOCUS unit names
  (``Hours``, ``GB-Hours``...).
* ``SubAccountId``/``SubAccountName`` are the project; ``ResourceId`` our resource id,
  ``ResourceType`` the kind; ``SkuId`` the measure; ``Tags`` the resource's labels (JSON object).
* ``ChargeCategory`` is ``Usage`` (``Usage-Based``) for metered lines and ``Purchase``
  (``Recurring``) for fixed costs, ``Adjustment`` for shared costs allocated between projects
  (``metering.chargeback.allocation``). ``ChargeClass`` stays null: a later revision re-issues the same
  month whole (FOCUS's "Correction" is for rows correcting an earlier billing period).
  ``SkuPriceId`` names the measure and the unit price that priced the line.
* ``BillingAccountId``/``InvoiceIssuer``/``Provider``/``Publisher`` name this installation's
  organisation (``GLASSPANE_FOCUS_ORGANISATION``) and the provider account.
* Times are UTC with ``Z``; numbers plain decimals; nulls empty cells. Text cells are neutralised
  against spreadsheet formulas like every CSV of ours.

Rows are written as the lines are read (flat memory for any number of lines), like the CSV.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

from django.conf import settings

from metering.chargeback.allocation import ALLOCATED
from metering.chargeback.engine import FIXED_COST
from metering.chargeback.export import AnyStatement, _meta
from metering.chargeback.money import QUANTITY, UNIT_PRICE, minor_unit
from metering.models import Resource, Statement

VERSION = "1.0"

#: every FOCUS 1.0 column, in the specification's (alphabetical) order
COLUMNS = [
    "AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency",
    "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription",
    "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart", "CommitmentDiscountCategory",
    "CommitmentDiscountId", "CommitmentDiscountName", "CommitmentDiscountStatus", "CommitmentDiscountType",
    "ConsumedQuantity", "ConsumedUnit", "ContractedCost", "ContractedUnitPrice", "EffectiveCost",
    "InvoiceIssuer", "ListCost", "ListUnitPrice", "PricingCategory", "PricingQuantity", "PricingUnit",
    "Provider", "Publisher", "RegionId", "RegionName", "ResourceId", "ResourceName", "ResourceType",
    "ServiceCategory", "ServiceName", "SkuId", "SkuPriceId", "SubAccountId", "SubAccountName", "Tags",
]
EXTRA = ["x_Project", "x_Measure", "x_Estimated", "x_StatementRevision", "x_StatementStatus"]
HEADER = COLUMNS + EXTRA

#: our units -> FOCUS unit names (the specification's UnitFormat: "Hours", "GB-Hours", "Days")
UNITS = {"hour": "Hours", "vCPU-hour": "vCPU-Hours", "GiB-hour": "GB-Hours", "core-hour": "Hours", "GiB": "GB",
         "day": "Days", "month": "Months"}
RESOURCE_TYPES = {"vm": "Virtual Machine", "container": "Container", "volume": "Volume", "host": "Host"}
SERVICES = {"vm": ("Compute", "Virtual Machines"), "container": ("Compute", "Containers"),
            "volume": ("Storage", "Block Storage"), "host": ("Compute", "Hosts")}
STORAGE_MEASURES = {"disk_gb_hours", "disk_io_gb"}
NETWORK_MEASURES = {"net_gb"}


def organisation() -> str:
    return getattr(settings, "GLASSPANE_FOCUS_ORGANISATION", "") or "Glasspane"


def utc(value: datetime | None) -> str | None:
    """FOCUS date/time: ISO 8601 in UTC with a Z."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(value: Decimal | None, places: Decimal) -> Decimal | None:
    return None if value is None else value.quantize(places)


def _service(kind: str, measure: str) -> tuple[str, str]:
    if measure == FIXED_COST:
        return "Other", "Fixed costs"
    if measure in STORAGE_MEASURES:
        return "Storage", "Block Storage" if kind != "container" else "Container Storage"
    if measure in NETWORK_MEASURES:
        return "Networking", "Network Transfer"
    return SERVICES.get(kind, ("Other", "Other"))


def _labelled_lines(st: AnyStatement) -> Iterator[tuple]:
    """(line, the resource's labels) in order; a stored statement's read in chunks (flat memory)."""
    if isinstance(st, Statement):
        fields = ("resource_id", "resource_name", "resource_kind", "provider", "measure", "description", "start",
                  "end", "quantity", "unit", "unit_price", "amount", "estimated", "resource__labels")
        for line in st.lines.order_by("id").values_list(*fields, named=True).iterator(chunk_size=2000):
            yield line, line.resource__labels
        return
    ids = {line.resource_id for line in st.lines if line.resource_id is not None}
    labels = dict(Resource.objects.filter(pk__in=ids).values_list("pk", "labels"))
    for line in st.lines:
        yield line, labels.get(line.resource_id)


def _tags(labels) -> str | None:
    if labels is None:
        return None
    return json.dumps(labels if isinstance(labels, dict) else {}, sort_keys=True, separators=(",", ":"))


def focus_rows(st: AnyStatement) -> Iterator[list]:
    """The header, then one FOCUS row per statement line."""
    meta = _meta(st)
    currency = meta["currency"] or getattr(settings, "GLASSPANE_DEFAULT_CURRENCY", "EUR")
    minor = minor_unit(currency)
    org, project = organisation(), st.project
    period_start, period_end = utc(meta["start"]), utc(meta["end"])
    revision = meta["revision"] or 0
    yield HEADER
    for line, labels in _labelled_lines(st):
        fixed, allocated = line.measure == FIXED_COST, line.measure == ALLOCATED
        amount = (Decimal(0) if line.amount is None else line.amount).quantize(minor)
        billed = Decimal(0).quantize(minor) if meta["showback"] else amount
        unit = UNITS.get(line.unit, line.unit)
        price = _number(line.unit_price, UNIT_PRICE)
        quantity = _number(line.quantity, QUANTITY)
        category, service = _service(line.resource_kind, line.measure)
        provider = line.provider or org
        yield [
            None, billed, org, org, currency,
            period_end, period_start, "Adjustment" if allocated else "Purchase" if fixed else "Usage", None,
            line.description or line.measure, "Recurring" if fixed or allocated else "Usage-Based",
            utc(line.end or meta["end"]), utc(line.start or meta["start"]),
            None, None, None, None, None,
            None if fixed or allocated else quantity, None if fixed or allocated else unit, amount, price, amount,
            org, amount, price, "Standard", quantity, unit,
            provider, provider, None, None,
            None if line.resource_id is None else str(line.resource_id), line.resource_name or None,
            RESOURCE_TYPES.get(line.resource_kind), category, service, line.measure, line.measure if price is None else f"{line.measure}:{price}",
            project.slug, project.name,
            _tags(labels),
            project.slug, line.measure, "true" if line.estimated else "false", revision, meta["status"],
        ]

