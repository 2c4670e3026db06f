"""Money: the currency's minor unit and the one rounding rule every statement follows.

**Rounding rule.** Every amount is ``Decimal``, never float. A statement line's amount is its
quantity times its unit price, both exactly as printed on the line (quantity to 6 decimal places,
unit price to 8), rounded once to the currency's minor unit (EUR and USD: 2 places, JPY: 0) with
ROUND_HALF_EVEN (banker's rounding). Subtotals and the statement total are sums of the rounded
line amounts, never re-rounded, so the lines always add up to the total exactly and anyone can
redo every line with a calculator.

Currencies with three decimals (BHD, KWD, ...) are refused: amounts are stored with 2 places.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal

import pycountry
from django.core.exceptions import ValidationError

#: ISO 4217 currencies whose minor unit is 0 places; every other accepted code has 2
ZERO_DECIMAL = frozenset({"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI",
                          "VND", "VUV", "XAF", "XOF", "XPF"})
THREE_DECIMAL = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})
QUANTITY = Decimal("0.000001")
UNIT_PRICE = Decimal("0.00000001")


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of ``currency`` a statement shows: ``Decimal('0.01')`` or ``Decimal('1')``."""
    code = (currency or "").upper()
    if len(code) != 3 or not code.isalpha():
        raise ValueError(f"currency {currency!r}: expected a three-letter ISO 4217 code")
    if pycountry.currencies.get(alpha_3=code) is None:
        raise ValueError(f"currency {code}: not an ISO 4217 currency code")
    if code in THREE_DECIMAL:
        raise ValueError(f"currency {code}: three-decimal currencies are not supported")
    return Decimal(1) if code in ZERO_DECIMAL else Decimal("0.01")


def validate_currency(code: str) -> None:
    """The model fields' validator: an ISO 4217 code with 0 or 2 decimals, as ``minor_unit`` accepts."""
    try:
        minor_unit(code)
    except ValueError as exc:
        raise ValidationError(str(exc), code="currency") from None


def round_money(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(minor_unit(currency), ROUND_HALF_EVEN)


def line_amount(quantity: Decimal, unit_price: Decimal, currency: str) -> Decimal:
    """The rounding rule: quantity x unit price as printed, rounded half-even to the minor unit."""
    return round_money(quantity.quantize(QUANTITY, ROUND_HALF_EVEN) * unit_price.quantize(UNIT_PRICE, ROUND_HALF_EVEN),
                       currency)


def split_exactly(total: Decimal, weights: dict, currency: str) -> dict:
    """``total`` split by ``weights`` (key -> number) so the parts add up exactly in minor units:
    largest remainder, ties by key. Weights of 0 or less get nothing; no positive weight: ``{}``."""
    unit = minor_unit(currency)
    units = int((total / unit).to_integral_value())
    weights = {k: w for k, w in weights.items() if w and w > 0}
    weight_sum = sum(Decimal(str(w)) for w in weights.values())
    if not weights or weight_sum <= 0:
        return {}
    raw = {k: Decimal(units) * Decimal(str(w)) / weight_sum for k, w in weights.items()}
    floors = {k: int(math.floor(v)) for k, v in raw.items()}
    left = units - sum(floors.values())
    order = sorted(raw, key=lambda k: (-(raw[k] - floors[k]), str(k)))
    for k in order[:left]:
        floors[k] += 1
    return {k: Decimal(v) * unit for k, v in floors.items()}
