"""How close a quantity is to its limit, in four words: ok, near, at, over.

One rule for every page, the API's preview and the charts: "near" from 80 % of the limit, "at"
exactly the limit (it fits, but nothing more will), "over" above it; an unlimited key (-1) is
always "ok".
"""

from __future__ import annotations

from decimal import Decimal

NEAR_FROM = Decimal("0.8")

OK, NEAR, AT, OVER = "ok", "near", "at", "over"
STATES = (OK, NEAR, AT, OVER)
WORDS = {OK: "", NEAR: "near the limit", AT: "at the limit", OVER: "over the limit"}


def state(quantity, limit) -> str:
    """The state of ``quantity`` against ``limit`` (None or negative: unlimited)."""
    if limit is None or Decimal(limit) < 0:
        return OK
    quantity, limit = Decimal(quantity), Decimal(limit)
    if quantity > limit:
        return OVER
    if quantity == limit:
        return AT
    return NEAR if quantity >= limit * NEAR_FROM else OK
