"""CSV exports: streamed row by row, UTF-8, safe to open in a spreadsheet.

``safe_cell`` neutralises formula injection: text that a spreadsheet would run as a formula (it
starts with = + - @, a tab or a carriage return, also after leading blanks, or with the fullwidth
＝ ＋ － ＠ some spreadsheets read as the same) gets a leading apostrophe, and bidirectional
controls (which can make a cell read as something else) are removed. Numbers are written as
numbers (Decimal, int) and are never altered, so "-1.50" from a Decimal stays a number.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from metering.choices import Measure
from metering.reports import UNITS, UsageReport, rounded

DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
#: embeddings, overrides and isolates (U+202A-202E, U+2066-2069) and the direction marks
BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"))


#: the first characters that can make ASCII text risky (a formula sign, or blanks before one)
_ASCII_RISKY_START = frozenset("=+-@\t\r\n ")


def safe_cell(value) -> str:
    cls = value.__class__
    if cls is str and value.isascii() and (not value or value[0] not in _ASCII_RISKY_START):
        return value  # the common case, decided without a scan: no controls, no formula start
    if cls is Decimal or cls is int:
        return str(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, Decimal, float)):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(timezone.get_current_timezone()).isoformat()
    text = str(value).translate(BIDI_CONTROLS)
    return "'" + text if text.lstrip(" \t\r\n").startswith(DANGEROUS) or text.startswith(DANGEROUS) else text


class _Echo:
    """A file-like object whose ``write`` returns what it was given (for streaming)."""

    def write(self, value):
        return value


def csv_stream(rows: Iterable[Iterable]) -> Iterator[str]:
    """Each row as one CSV line, cells made safe; feed to a StreamingHttpResponse or stdout."""
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    for row in rows:
        yield writer.writerow([safe_cell(c) for c in row])


USAGE_MEASURES = [
    Measure.INSTANCE_HOURS, Measure.CONTAINER_HOURS, Measure.VCPU_HOURS, Measure.RAM_GB_HOURS,
    Measure.DISK_GB_HOURS, Measure.RUNNING_HOURS, Measure.CPU_CORE_HOURS_USED, Measure.MEMORY_GB_HOURS_USED,
    Measure.NET_GB, Measure.DISK_IO_GB, Measure.ESTIMATED_HOURS,
]


def usage_rows(report: UsageReport, now: datetime | None = None, costs=None) -> Iterator[list]:
    """The usage CSV: a summary block, a blank line, then one row per resource.

    ``costs`` (a ``metering.chargeback.costs.ResourceCosts``) adds each resource's cost in the
    period as the last column, as the overview's table shows it.
    """
    now = now or timezone.now()
    scope = report.project.slug if report.project else "all projects"
    yield ["Usage summary", scope]
    yield ["From", report.start]
    yield ["To (exclusive)", report.end]
    active = report.active()
    yield ["Active VMs", active["vms"]]
    yield ["Active containers", active["containers"]]
    yield ["Active vCPUs", active["vcpus"]]
    yield ["Active RAM (MB)", active["ram_mb"]]
    totals = report.totals
    for m in USAGE_MEASURES:
        yield [f"Total {Measure(m).label} ({UNITS[m]})", rounded(totals[m])]
    yield []
    yield ["Name", "Kind", "Provider", "Project", "vCPUs", "RAM (MB)", "Disk (GB)", "State", "Uptime (hours)",
           *[f"{Measure(m).label} ({UNITS[m]})" for m in USAGE_MEASURES], "Estimated",
           *([f"Cost ({costs.currency})"] if costs is not None else [])]
    for row in report.rows:
        uptime = row.uptime(now)
        yield [row.name, row.kind, row.provider, row.project or "", _size(row.vcpus, row.kind),
               _size(row.ram_mb, row.kind), row.disk_gb, row.state,
               Decimal(uptime / 3600).quantize(Decimal("0.01")) if uptime is not None else None,
               *[rounded(row.measures[m]) for m in USAGE_MEASURES], row.estimated,
               *([costs.get(row.resource_id)] if costs is not None else [])]


def _size(value, kind):
    if value is None and kind == "container":
        return "unlimited"
    return value
