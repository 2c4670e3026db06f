"""The benchmark table: each figure next to its floor measured in the same run, as a ratio.

A figure is a function returning ``Figure``; ``bench/run.py`` runs them in order and prints one
table. Timings take the best of ``repeat`` runs, which is the least noisy estimate on a shared
machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class Figure:
    name: str
    value: float | None  # Glasspane's number
    floor: float | None  # the floor measured beside it, or None
    unit: str  # "s", "ms", "rows/s", "decisions/s", ...
    target: str
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.floor:
            return None
        return self.value / self.floor


def best_of(fn, repeat: int = 3, setup=None) -> float:
    """The fastest of ``repeat`` timed calls of ``fn`` (``setup`` runs untimed before each)."""
    best = float("inf")
    for _ in range(repeat):
        if setup is not None:
            setup()
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value:.3f} s"
    if unit == "ms":
        return f"{value:.1f} ms"
    return f"{value:,.0f} {unit}"


def table(figures: list[Figure]) -> str:
    rows = [("figure", "Glasspane", "floor", "ratio", "target", "note")]
    for f in figures:
        ratio = f"{f.ratio:.2f}x" if f.ratio is not None else "-"
        rows.append((f.name, fmt(f.value, f.unit), fmt(f.floor, f.unit), ratio, f.target, f.note))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def best_of_pair(fn, floor, repeat: int = 5) -> tuple[float, float]:
    """The fastest of ``repeat`` timed calls of ``fn`` and of ``floor``, taken in turns, so a burst
    of load from the machine's other users weighs on both sides of the ratio alike."""
    ours = best = float("inf")
    for _ in range(repeat):
        for which in (0, 1):
            started = time.perf_counter()
            (fn if which == 0 else floor)()
            took = time.perf_counter() - started
            if which == 0:
                ours = min(ours, took)
            else:
                best = min(best, took)
    return ours, best
