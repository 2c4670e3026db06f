"""``usage --project SLUG --start YYYY-MM-DD --end YYYY-MM-DD [--format csv|json] [--tz ZONE]``."""

from __future__ import annotations

from metering import periods
from metering.export import csv_stream, usage_rows
from metering.models import Project
from metering.reports import rounded, usage_report
from providers.management.base import GlasspaneCommand


class Command(GlasspaneCommand):
    help = "Usage of a project (or every project) over [start, end): a summary and one row per resource."

    def add_arguments(self, parser):
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--project", metavar="SLUG")
        who.add_argument("--all-projects", action="store_true")
        parser.add_argument("--start", required=True, metavar="YYYY-MM-DD")
        parser.add_argument("--end", required=True, metavar="YYYY-MM-DD", help="exclusive")
        parser.add_argument("--tz", metavar="ZONE", help="timezone of the dates (default UTC)")
        parser.add_argument("--format", choices=["csv", "json"], default="csv")

    def handle(self, *args, project, all_projects, start, end, tz, format, **opts):
        try:
            zone = periods.parse_tz(tz)
            lo, hi = periods.day_range(periods.parse_date(start, "--start"), periods.parse_date(end, "--end"), zone)
        except periods.PeriodError as exc:
            raise self.usage_error(str(exc)) from None
        scope = None
        if project:
            scope = Project.objects.filter(slug=project).first()
            if scope is None:
                raise self.usage_error(f"--project {project!r}: no such project")
        report = usage_report(lo, hi, project=scope)
        if format == "csv":
            for line in csv_stream(usage_rows(report)):
                self.stdout.write(line, ending="")
            return
        self.write_json({
            "project": project,
            "start": lo.isoformat(),
            "end": hi.isoformat(),
            "active": {k: str(v) for k, v in report.active().items()},
            "totals": {k: str(rounded(v)) for k, v in report.totals.items()},
            "resources": [
                {"name": r.name, "kind": r.kind, "provider": r.provider, "project": r.project,
                 "vcpus": _s(r.vcpus), "ram_mb": r.ram_mb, "disk_gb": _s(r.disk_gb), "state": r.state,
                 "estimated": r.estimated, "measures": {k: str(rounded(v)) for k, v in r.measures.items()}}
                for r in report.rows
            ],
        })


def _s(v):
    return None if v is None else str(v)
