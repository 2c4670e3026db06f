"""How the pages write numbers, sizes and durations: one unit family and one style everywhere.

Memory and disk are GiB (the collectors store memory in MiB and disk in GiB), numbers carry
thousands separators, and durations read like "10 d 4 h". Pages call these through the
``glasspane`` template filters; exact ``Decimal`` values are only rounded for display.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

MIB_PER_GIB = Decimal(1024)
BYTES_PER_GIB = Decimal(1024**3)


def as_decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def number(value, places: int | None = None) -> str:
    """``1234567.5`` → ``1,234,567.5``; ``places`` fixes the decimals, else trailing zeros go."""
    d = as_decimal(value)
    if d is None:
        return "" if value is None else str(value)
    if places is not None:
        d = d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        return f"{d:,.{places}f}"
    if d == d.to_integral_value():
        return f"{d.quantize(Decimal(1)):,f}"
    text = f"{d.normalize():,f}"
    return text


def gib_from_mib(value, places: int = 2) -> str:
    """RAM stored in MiB, shown in GiB: ``8192`` → ``8``; ``1536`` → ``1.5``."""
    d = as_decimal(value)
    if d is None:
        return ""
    return number((d / MIB_PER_GIB).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP).normalize())


def gib_from_bytes(value, places: int = 2) -> str:
    d = as_decimal(value)
    if d is None:
        return ""
    return number((d / BYTES_PER_GIB).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP).normalize())


def duration(value) -> str:
    """A span in the two largest units: "10 d 4 h", "3 h 5 min", "4 min 10 s", "0 s"."""
    if value is None:
        return ""
    seconds = int(value.total_seconds() if isinstance(value, timedelta) else value)
    if seconds < 0:
        return "-" + duration(-seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        n, seconds = divmod(seconds, size)
        if n or parts:
            parts.append((n, unit))
    parts = [p for p in parts[:2] if p[0]] or [(0, "s")]
    return " ".join(f"{n} {unit}" for n, unit in parts)
