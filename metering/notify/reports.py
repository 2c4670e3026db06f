"""Scheduled reports: after a subscription's period closes, build its file and mail it, once.

Periods are closed calendar weeks (Monday 00:00 to Monday 00:00) or months in the subscription's
timezone. The newest closed period is sent when it has no successful ``ReportRun``; a failed run
is tried again at later ticks, up to ``MAX_ATTEMPTS``. For a monthly statement or FOCUS report the
month's statement is issued first when no revision exists (an issued one is reused), so the
attachment is the issued revision's export byte for byte; weekly ones attach the live draft.
Usage reports are the usage CSV of the overview and the ``usage`` command.
"""

from __future__ import annotations

import hashlib
import logging
import zoneinfo
from datetime import UTC, datetime, time, timedelta

from django.db import IntegrityError
from django.utils import timezone

from metering.chargeback import statements
from metering.chargeback.export import statement_rows
from metering.chargeback.focus import focus_rows
from metering.chargeback.rates import NoRatePlan
from metering.export import csv_stream, usage_rows
from metering.models import Project, ReportRun, ReportSubscription
from metering.models.notify import ReportFrequency, ReportKind
from metering.notify import channels
from metering.reports import usage_report

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


def zone_of(sub: ReportSubscription):
    try:
        return zoneinfo.ZoneInfo(sub.timezone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return UTC


def last_closed_period(sub: ReportSubscription, now: datetime) -> tuple[datetime, datetime]:
    """The newest whole week or month before ``now`` in the subscription's timezone, in UTC."""
    tz = zone_of(sub)
    today = now.astimezone(tz).date()
    if sub.frequency == ReportFrequency.WEEKLY:
        end = today - timedelta(days=today.weekday())
        start = end - timedelta(days=7)
    else:
        end = today.replace(day=1)
        start = (end - timedelta(days=1)).replace(day=1)
    return (datetime.combine(start, time(), tzinfo=tz).astimezone(UTC),
            datetime.combine(end, time(), tzinfo=tz).astimezone(UTC))


def _projects(sub: ReportSubscription) -> list[Project]:
    return [sub.project] if sub.project_id else list(Project.objects.order_by("slug"))


def _statement(project: Project, start: datetime, end: datetime, monthly: bool):
    """A monthly report's issued revision (issued now if none exists); a weekly one's live draft."""
    if not monthly:
        return statements.draft(project, start, end)
    return statements.latest(project, start, end) or statements.issue(project, start, end)


def build(sub: ReportSubscription, start: datetime, end: datetime) -> tuple[str, bytes, str, object]:
    """(file name, content, MIME type, the statement when there is exactly one) for one period."""
    scope = sub.project.slug if sub.project_id else "all-projects"
    label = f"{start.astimezone(zone_of(sub)):%Y-%m-%d}"
    if sub.kind == ReportKind.USAGE_CSV:
        report = usage_report(start, end, project=sub.project if sub.project_id else None)
        return f"usage-{scope}-{label}.csv", "".join(csv_stream(usage_rows(report))).encode(), "text/csv", None
    monthly = sub.frequency == ReportFrequency.MONTHLY
    parts, only = [], None
    for i, project in enumerate(_projects(sub)):
        try:
            st = _statement(project, start, end, monthly)
        except NoRatePlan:
            continue  # a project nobody prices has no statement to send
        only = st if i == 0 else None
        if sub.kind == ReportKind.FOCUS:
            rows = focus_rows(st)
            if parts:
                next(rows)  # one dataset: a single header
            parts.append("".join(csv_stream(rows)))
        else:
            parts.append("".join(csv_stream(statement_rows(st))))
    joiner = "" if sub.kind == ReportKind.FOCUS else "\r\n"
    name = ("focus" if sub.kind == ReportKind.FOCUS else "statement") + f"-{scope}-{label}.csv"
    return name, joiner.join(parts).encode(), "text/csv", only if sub.project_id else None


def send(sub: ReportSubscription, now: datetime | None = None) -> ReportRun | None:
    """Send the last closed period of ``sub`` unless it went out already; the run, or None."""
    now = now or timezone.now()
    start, end = last_closed_period(sub, now)
    try:
        run, _ = ReportRun.objects.get_or_create(subscription=sub, period_start=start,
                                                 defaults={"period_end": end, "status": "failed"})
    except IntegrityError:  # another worker created it this instant: it is that worker's to send
        return None
    if run.status == "sent" or run.attempts >= MAX_ATTEMPTS:
        return None
    run.attempts += 1
    try:
        name, content, mimetype, statement = build(sub, start, end)
        label = f"{start.astimezone(zone_of(sub)):%Y-%m-%d} to {end.astimezone(zone_of(sub)):%Y-%m-%d}"
        subject = f"[Glasspane] {sub.get_kind_display()}: {sub.project or 'all projects'}, {label}"
        body = (f"Attached: {sub.get_kind_display()} for {sub.project or 'all projects'}, {label} "
                f"({sub.timezone}).\n\nYou receive this because a Glasspane report subscription lists your address.")
        channels.send_email(subject, body, sub.recipient_list, [(name, content, mimetype)])
    except Exception as exc:  # noqa: BLE001 - record every failure on the run; tried again next tick
        run.error = f"{type(exc).__name__}: {str(exc)[:500]}"
        run.save(update_fields=["attempts", "error"])
        log.warning("report subscription %s, period %s: %s", sub.pk, start, run.error)
        return run
    run.status, run.error, run.sent_at = "sent", "", now
    run.attachment, run.size, run.sha256 = name, len(content), hashlib.sha256(content).hexdigest()
    run.statement = statement if getattr(statement, "pk", None) else None
    run.save()
    return run


def send_due(now: datetime | None = None) -> int:
    """Every enabled subscription's last closed period, once (beat calls this hourly)."""
    sent = 0
    for sub in ReportSubscription.objects.filter(enabled=True).select_related("project").iterator():
        run = send(sub, now)
        sent += bool(run and run.status == "sent")
    return sent


__all__ = ["build", "last_closed_period", "send", "send_due"]
