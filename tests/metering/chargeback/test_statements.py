"""Issued statements are frozen; re-issuing makes a revision that says what changed."""

from decimal import Decimal

import pytest

from metering.chargeback import statements
from metering.chargeback.export import statement_json, statement_rows
from metering.choices import Measure, StatementStatus
from metering.export import csv_stream
from metering.models import Rate, StatementLine
from tests.conftest import vm
from tests.metering.chargeback.conftest import DEC, NOV, day, make_plan

pytestmark = pytest.mark.django_db


def csv_of(statement) -> bytes:
    return "".join(csv_stream(statement_rows(statement))).encode()


@pytest.fixture
def month(ledger, project):
    make_plan(vcpu_hours="0.01", instance_hours="0.02")
    v = vm("v1", vcpus="2", started_at=day(0))
    ledger.at(day(0), v)
    ledger.at(day(20), v)  # the ledger so far: 20 days = 480 h
    return ledger


def test_issued_statement_stays_byte_identical_after_rates_change(month, project):
    first = statements.issue(project, NOV, DEC, now=day(20))
    # vCPU 2 x 480 = 960 x 0.01 = 9.60; instance 480 x 0.02 = 9.60
    assert (first.revision, first.status, first.total) == (1, StatementStatus.ISSUED, Decimal("19.20"))
    assert first.changes == {} and {r["measure"] for r in first.rates_snapshot} == {"vcpu_hours", "instance_hours"}
    frozen = csv_of(first)
    Rate.objects.filter(measure=Measure.VCPU_HOURS).update(unit_price=Decimal("0.03"))
    month.at(DEC, vm("v1", vcpus="2", started_at=day(0)))  # and the ledger grows to the whole month
    first.refresh_from_db()
    assert csv_of(first) == frozen
    assert b"Total,19.20" in frozen and b"v1,vm,vcpu_hours,,2026-11-01T00:00:00+00:00" in frozen


def test_reissue_shows_line_measure_and_total_differences(month, project):
    first = statements.issue(project, NOV, DEC, now=day(20))
    Rate.objects.filter(measure=Measure.VCPU_HOURS).update(unit_price=Decimal("0.03"))
    month.at(DEC, vm("v1", vcpus="2", started_at=day(0)))
    second = statements.issue(project, NOV, DEC, now=DEC)
    # now: vCPU 2 x 720 = 1440 x 0.03 = 43.20; instance 720 x 0.02 = 14.40; total 57.60 (was 19.20)
    assert (second.revision, second.total) == (2, Decimal("57.60"))
    ch = second.changes
    assert ch["previous_revision"] == 1
    assert ch["total"] == {"previous": "19.20", "current": "57.60", "difference": "38.40"}
    vcpu = next(x for x in ch["lines"] if x["measure"] == "vcpu_hours")
    assert vcpu["quantity"]["difference"] == "480.000000" and vcpu["amount"]["difference"] == "33.60"
    assert vcpu["unit_price"] == {"previous": "0.01000000", "current": "0.03000000"}
    assert ch["measures"]["instance_hours"] == {"quantity_difference": "240.000000", "amount_difference": "4.80"}
    assert statements.latest(project, NOV, DEC) == second and first.lines.count() == 2
    assert statement_json(second)["changes"]["total"]["difference"] == "38.40"


def test_issued_statement_and_its_lines_refuse_changes(month, project):
    st = statements.issue(project, NOV, DEC)
    st.total = Decimal("1.00")
    with pytest.raises(ValueError, match="frozen"):
        st.save()
    line = StatementLine.objects.filter(statement=st).first()
    line.quantity = Decimal(0)
    with pytest.raises(ValueError, match="write-once"):
        line.save()


def test_draft_and_issued_export_the_same_lines(month, project):
    draft = statements.draft(project, NOV, DEC)
    issued = statements.issue(project, NOV, DEC)
    draft_rows = [r for r in statement_rows(draft)][9:]
    issued_rows = [r for r in statement_rows(issued)][9:]
    assert "".join(csv_stream(draft_rows)) == "".join(csv_stream(issued_rows))


def test_issued_lines_export_exactly_as_the_draft_they_froze(ledger, project):
    """Issue 21: an issued statement's CSV reads start and end as the database's text (parsed once
    per distinct value); the lines must come out byte for byte as the draft's, which holds real
    datetimes, in a non-UTC timezone (and a timestamp's text with a fraction parses exactly)."""
    from datetime import timedelta

    from django.utils import timezone

    make_plan(vcpu_hours="0.01", instance_hours="0.02")
    v = vm("v1", vcpus="2", started_at=day(0) + timedelta(hours=3, microseconds=250))
    ledger.at(day(0) + timedelta(hours=3, microseconds=250), v)
    ledger.at(day(4) + timedelta(microseconds=7), v)
    with timezone.override("Asia/Kolkata"):
        draft = statements.draft(project, NOV, DEC)
        issued = statements.issue(project, NOV, DEC, now=day(6))
        drafted, stored = csv_of(draft).split(b"\r\n"), csv_of(issued).split(b"\r\n")
        header = drafted.index(b"Project,Provider,Resource,Kind,Measure,Description,From,To,Quantity,Unit,"
                               b"Unit price,Amount,Estimated")
        assert stored[header:] == drafted[header:]
        assert b",2026-11-01T05:30:00+05:30,2026-12-01T05:30:00+05:30," in stored[header + 1]
        # PostgreSQL's text of a timestamptz, with a fraction, formats as the datetime itself does
        from metering.chargeback.export import _Times
        from metering.export import safe_cell

        at = day(0) + timedelta(hours=3, microseconds=250)
        assert _Times()["2026-11-01 03:00:00.00025+00"] == safe_cell(at) == "2026-11-01T08:30:00.000250+05:30"
