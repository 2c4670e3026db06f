"""``chargeback --project SLUG | --all-projects  --period YYYY-MM | --start D --end D
[--format csv|json|focus] [--currency CODE] [--issue] [--showback] [--tz ZONE]``: statements, live or issued."""

from __future__ import annotations

import json

from django.core.management.base import CommandError

from metering import periods
from metering.chargeback import memo, statements
from metering.chargeback.currency import NoExchangeRate, check_code, convert, converted_json, converted_rows
from metering.chargeback.export import statement_json, statement_rows
from metering.chargeback.focus import focus_rows
from metering.chargeback.rates import NoRatePlan
from metering.export import csv_stream
from metering.models import Project
from providers.management.base import GlasspaneCommand


class Command(GlasspaneCommand):
    help = "Chargeback (or showback) statement of a project, or of every project, for a month or a date range."

    def add_arguments(self, parser):
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--project", metavar="SLUG")
        who.add_argument("--all-projects", action="store_true")
        parser.add_argument("--period", metavar="YYYY-MM", help="a calendar month")
        parser.add_argument("--start", metavar="YYYY-MM-DD")
        parser.add_argument("--end", metavar="YYYY-MM-DD", help="exclusive")
        parser.add_argument("--tz", metavar="ZONE", help="timezone of the dates (default UTC)")
        parser.add_argument("--format", choices=["csv", "json", "focus"], default="csv",
                            help="focus: FinOps FOCUS 1.0 cost and usage rows (CSV)")
        parser.add_argument("--issue", action="store_true", help="freeze the statement as the next revision")
        parser.add_argument("--showback", action="store_true", help="quantities only, whatever the billing mode")
        parser.add_argument("--currency", metavar="CODE",
                            help="convert the CSV or JSON to this ISO 4217 currency with the dated exchange rates")

    def handle(self, *args, project, all_projects, period, start, end, tz, format, issue, showback, currency=None,
               **opts):
        lo, hi = self._period(period, start, end, tz)
        if currency is not None:
            try:
                currency = check_code(currency)
            except ValueError as exc:
                raise self.usage_error(f"--currency: {exc}") from None
            if format == "focus":
                raise self.usage_error("--currency: FOCUS keeps the billing currency; use --format csv or json")
        if project:
            scope = Project.objects.filter(slug=project).first()
            if scope is None:
                raise self.usage_error(f"--project {project!r}: no such project")
            projects = [scope]
        else:
            projects = list(Project.objects.order_by("slug"))
        try:
            with memo.scope():  # each allocation rule computed once for all the statements
                results = [self._one(p, lo, hi, issue, showback or None) for p in projects]
        except (NoRatePlan, ValueError) as exc:
            raise CommandError(str(exc)) from None
        if format == "json":
            try:
                data = [converted_json(statement_json(st), convert(st, currency)) if currency else statement_json(st)
                        for st in results]
            except NoExchangeRate as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(json.dumps(data[0] if project else data, indent=2))
            return
        if format == "focus":  # one dataset: a header, then every project's rows
            for i, st in enumerate(results):
                rows = focus_rows(st)
                if i:
                    next(rows)
                for line in csv_stream(rows):
                    self.stdout.write(line, ending="")
            return
        for i, st in enumerate(results):
            if i:
                self.stdout.write("\r\n", ending="")
            try:
                rows = list(converted_rows(st, currency)) if currency else statement_rows(st)
            except NoExchangeRate as exc:
                raise CommandError(str(exc)) from None
            for line in csv_stream(rows):
                self.stdout.write(line, ending="")

    def _period(self, period, start, end, tz):
        try:
            zone = periods.parse_tz(tz)
            if period and (start or end):
                raise periods.PeriodError("give either --period or --start/--end, not both")
            if period:
                return periods.month_range(period, zone)
            if not (start and end):
                raise periods.PeriodError("give --period YYYY-MM or both --start and --end")
            return periods.day_range(periods.parse_date(start, "--start"), periods.parse_date(end, "--end"), zone)
        except periods.PeriodError as exc:
            raise self.usage_error(str(exc)) from None

    def _one(self, project, lo, hi, issue, showback):
        if issue:
            return statements.issue(project, lo, hi, showback=showback)
        return statements.draft(project, lo, hi, showback=showback)
