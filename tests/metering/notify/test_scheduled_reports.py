"""Scheduled reports: sent once after the period closes, through a real SMTP server, and a monthly
statement attachment is the issued revision byte for byte."""

from datetime import UTC, datetime

import pytest

from metering.chargeback import statements
from metering.chargeback.export import statement_rows
from metering.chargeback.focus import HEADER
from metering.export import csv_stream
from metering.models import Project, ReportRun, ReportSubscription
from metering.models.notify import ReportFrequency, ReportKind
from metering.notify import reports
from tests.conftest import vm
from tests.metering.chargeback.conftest import DEC, NOV, day, make_plan

pytestmark = pytest.mark.django_db
DEC_2 = datetime(2026, 12, 2, 6, tzinfo=UTC)


@pytest.fixture
def november(ledger, project):
    make_plan(vcpu_hours="0.01")
    Project.objects.create(slug="beta", name="Beta")
    ledger.at(day(0), vm("v1", vcpus="2", started_at=NOV), vm("b1", vcpus="1", project="beta", started_at=NOV))
    ledger.at(DEC, vm("v1", vcpus="2", started_at=NOV), vm("b1", vcpus="1", project="beta", started_at=NOV))
    return ledger


def attachment(message):
    part = next(p for p in message.iter_attachments())
    return part.get_filename(), part.get_payload(decode=True)


def test_monthly_statement_is_issued_then_mailed_once_byte_for_byte(november, project, smtp):
    sub = ReportSubscription.objects.create(project=project, kind=ReportKind.STATEMENT_CSV,
                                            frequency=ReportFrequency.MONTHLY, recipients="a@x.test, b@x.test")
    assert reports.send_due(DEC_2) == 1
    issued = statements.latest(project, NOV, DEC)
    assert issued is not None and issued.revision == 1
    assert len(smtp.messages) == 1 and sorted(smtp.messages[0].envelope_rcpt) == ["a@x.test", "b@x.test"]
    name, content = attachment(smtp.messages[0])
    expected = "".join(csv_stream(statement_rows(issued)))
    assert name == "statement-alpha-2026-11-01.csv" and content == expected.encode()
    run = ReportRun.objects.get(subscription=sub)
    assert (run.status, run.statement, run.period_start, run.period_end, run.size) == (
        "sent", issued, NOV, DEC, len(expected.encode()))
    assert reports.send_due(DEC_2) == 0 and len(smtp.messages) == 1  # once per period
    assert statements.revisions(project, NOV, DEC).count() == 1  # and the statement is not issued twice


def test_focus_for_all_projects_is_one_dataset(november, smtp):
    ReportSubscription.objects.create(kind=ReportKind.FOCUS, recipients="finops@x.test")
    reports.send_due(DEC_2)
    name, content = attachment(smtp.messages[0])
    text = content.decode() if isinstance(content, bytes) else content
    assert name == "focus-all-projects-2026-11-01.csv" and text.count(HEADER[0] + "," + HEADER[1]) == 1
    assert ",alpha,Alpha," in text and ",beta,Beta," in text


def test_weekly_usage_in_a_timezone_covers_the_last_closed_local_week(november, project, smtp):
    sub = ReportSubscription(project=project, kind=ReportKind.USAGE_CSV, frequency=ReportFrequency.WEEKLY,
                             timezone="Europe/Berlin", recipients="a@x.test")
    # Wednesday 2 December 2026: the last closed Berlin week is Mon 23 Nov to Mon 30 Nov (local midnight)
    assert reports.last_closed_period(sub, DEC_2) == (datetime(2026, 11, 22, 23, tzinfo=UTC),
                                                      datetime(2026, 11, 29, 23, tzinfo=UTC))
    sub.save()
    reports.send_due(DEC_2)
    name, content = attachment(smtp.messages[0])
    assert name == "usage-alpha-2026-11-23.csv" and b"Usage summary,alpha" in content


def test_a_failed_send_is_recorded_and_tried_again(november, project, settings, smtp):
    sub = ReportSubscription.objects.create(project=project, kind=ReportKind.USAGE_CSV, recipients="a@x.test")
    settings.EMAIL_PORT = 1  # nothing listens there
    run = reports.send(sub, DEC_2)
    assert run.status == "failed" and run.attempts == 1 and "ConnectionRefused" in run.error
    settings.EMAIL_PORT = smtp_port = smtp.port
    assert smtp_port and reports.send(sub, DEC_2).status == "sent"
    assert ReportRun.objects.get(subscription=sub).attempts == 2 and len(smtp.messages) == 1
