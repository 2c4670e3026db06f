"""Declarative chart definitions and the JSON payloads ``static/js/charts.js`` draws.

Like Horizon's overview, the limit charts are a list of definitions, not template copies: each
``LimitChart`` names a quota key, a label and how to show its numbers. Views turn definitions and
data into plain dicts; templates hand them to the browser with ``json_script``; one small script
renders every ``<canvas data-chart=...>`` on the page. Numbers become floats only here, at the
edge, for drawing; every table and CSV keeps the exact ``Decimal``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from metering.choices import QuotaKey
from metering.quotas import states  # the one rule for ok / near / at / over

WARN_AT = states.NEAR_FROM  # amber from 80 % of a limit; red above it


@dataclass(frozen=True)
class LimitChart:
    key: str
    label: str
    unit: str = ""
    divisor: Decimal = Decimal(1)  # MB shown as GB

    def shown(self, value) -> Decimal:
        return Decimal(f"{(Decimal(value) / self.divisor).quantize(Decimal('0.01')).normalize():f}")


LIMIT_CHARTS = [
    LimitChart(QuotaKey.VMS, "VMs"),
    LimitChart(QuotaKey.CONTAINERS, "Containers"),
    LimitChart(QuotaKey.VCPUS, "vCPUs"),
    LimitChart(QuotaKey.RAM_MB, "RAM", "GiB", Decimal(1024)),
    LimitChart(QuotaKey.DISK_GB, "Disk", "GiB"),
    LimitChart(QuotaKey.VOLUMES, "Volumes"),
    LimitChart(QuotaKey.BUDGET, "Budget", "per month"),
]


LEVEL_WORDS = {"ok": "", "warn": "near the limit", "at": "at the limit", "over": "over the limit"}


def level(used: Decimal, limit: Decimal | None) -> str:
    """"ok", "warn" (near: from 80 % of the limit), "at" (exactly the limit: nothing more fits)
    or "over" (above it); "ok" when unlimited."""
    found = states.state(used, limit)
    return "warn" if found == states.NEAR else found  # "warn": the CSS class of "near"


def limit_doughnut(chart: LimitChart, used, limit: int) -> dict:
    """One limit's doughnut: used against the limit (-1 = unlimited), with its level."""
    used = Decimal(used)
    unlimited = limit < 0
    lvl = level(used, None if unlimited else Decimal(limit))
    free = Decimal(0) if unlimited else max(Decimal(limit) - used, Decimal(0))
    return {
        "type": "doughnut",
        "title": chart.label,
        "level": lvl,
        "used": f"{chart.shown(used):f}",
        "limit": "unlimited" if unlimited else f"{chart.shown(limit):f}",
        "unit": chart.unit,
        "labels": ["Used", "Available"],
        # unlimited: an all-free ring (no share of a limit to draw); the caption gives the number
        "datasets": [{"label": chart.label, "data": [0.0, 1.0] if unlimited
                      else [float(chart.shown(used)), float(chart.shown(free))]}],
    }


def stacked_bars(title: str, labels: Sequence[str], series: Mapping[str, Sequence], unit: str) -> dict:
    return {
        "type": "bar",
        "title": title,
        "unit": unit,
        "stacked": True,
        "labels": list(labels),
        "datasets": [{"label": name, "data": [float(v) for v in values]} for name, values in series.items()],
    }


def lines(title: str, labels: Sequence[str], series: Mapping[str, Sequence], unit: str,
          y_max: float | None = None) -> dict:
    return {
        "type": "line",
        "title": title,
        "unit": unit,
        "yMax": y_max,
        "labels": list(labels),
        "datasets": [{"label": name, "data": [None if v is None else float(v) for v in values]}
                     for name, values in series.items()],
    }
