"""Budget alerts: each threshold fires once a month on cost to date and on the forecast, by email
to a real SMTP server and by a signed webhook to a real HTTP receiver."""

from decimal import Decimal

import pytest

from metering import outbound
from metering.choices import QuotaKey, Role
from metering.models import BudgetAlert, BudgetAlertPolicy, Membership, Quota
from metering.notify import budgets, channels
from tests.conftest import vm
from tests.metering.chargeback.conftest import NOV, day, make_plan

pytestmark = pytest.mark.django_db


def fired(project):
    return sorted((a.basis, a.threshold) for a in BudgetAlert.objects.filter(project=project))


@pytest.fixture
def month(ledger, project, eager):
    """vCPU-hours at 0.01: one 10-vCPU VM costs 0.10 an hour (72.00 a month); budget 90.00."""
    make_plan(vcpu_hours="0.01")
    Quota.objects.create(project=project, key=QuotaKey.BUDGET, limit=90)
    return ledger


def test_each_threshold_fires_once_on_cost_to_date_and_on_the_forecast(month, project):
    one = vm("one", vcpus="10", started_at=NOV)
    two = vm("two", vcpus="10", started_at=day(20))
    month.at(day(0), one)
    month.at(day(15), one)
    # to date 360 h x 0.10 = 36.00 (40 %); forecast 36 + 36 = 72.00 (80 %)
    assert [(a.basis, a.threshold, a.amount) for a in budgets.evaluate(project, day(15))] == [
        ("forecast", 50, Decimal("72.00")), ("forecast", 75, Decimal("72.00"))]
    month.at(day(20), one, two)
    # to date 48.00 (53 %); forecast 48 + 10 days x 24 h x 0.20 = 96.00 (107 %)
    assert sorted((a.basis, a.threshold) for a in budgets.evaluate(project, day(20))) == [
        ("cost_to_date", 50), ("forecast", 90), ("forecast", 100)]
    month.at(day(26), one, two)  # to date 48 + 6 x 24 x 0.20 = 76.80 (85 %)
    assert [(a.basis, a.threshold) for a in budgets.evaluate(project, day(26))] == [("cost_to_date", 75)]
    month.at(day(29.5), one, two)  # to date 48 + 9.5 x 24 x 0.20 = 93.60 (104 %)
    assert [(a.basis, a.threshold) for a in budgets.evaluate(project, day(29.5))] == [
        ("cost_to_date", 90), ("cost_to_date", 100)]
    assert budgets.evaluate(project, day(29.5)) == [] and budgets.evaluate(project, day(29.9)) == []
    assert len(fired(project)) == 8  # 4 thresholds x 2 bases, each once
    top = BudgetAlert.objects.get(project=project, basis="cost_to_date", threshold=100)
    assert (top.budget, top.amount, top.currency, top.fired_at) == (Decimal("90.00"), Decimal("93.60"), "EUR", day(29.5))


def test_no_budget_or_opted_out_fires_nothing(month, project):
    month.at(day(0), vm("one", vcpus="10", started_at=NOV))
    BudgetAlertPolicy.objects.create(project=project, enabled=False)
    assert budgets.evaluate(project, day(29)) == []
    BudgetAlertPolicy.objects.filter(project=project).update(enabled=True, thresholds=[10])
    Quota.objects.filter(project=project).update(limit=-1)
    assert budgets.evaluate(project, day(29)) == []
    Quota.objects.filter(project=project).update(limit=90)
    assert fired(project) == [] and [a.threshold for a in budgets.evaluate(project, day(1))] == [10]


def test_alerts_reach_the_admins_through_a_real_smtp_server(month, project, smtp, django_user_model,
                                                             django_capture_on_commit_callbacks):
    admin = django_user_model.objects.create_user("ada", email="ada@example.test")
    viewer = django_user_model.objects.create_user("vic", email="vic@example.test")
    Membership.objects.create(user=admin, project=project, role=Role.ADMIN)
    Membership.objects.create(user=viewer, project=project, role=Role.VIEWER)
    BudgetAlertPolicy.objects.create(project=project, extra_emails="finance@example.test")
    month.at(day(0), vm("one", vcpus="10", started_at=NOV))
    month.at(day(15), vm("one", vcpus="10", started_at=NOV))
    with django_capture_on_commit_callbacks(execute=True):
        budgets.evaluate(project, day(15))
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert sorted(message.envelope_rcpt) == ["ada@example.test", "finance@example.test"]
    assert "reached 75% of the November 2026 budget" in message["Subject"]
    body = message.get_payload(decode=True).decode()
    assert "Month-end forecast: 72.00 EUR reached 50% of the budget" in body and "75%" in body
    assert {a.deliveries["email"] for a in BudgetAlert.objects.all()} == {"sent"}


def test_the_webhook_is_signed_and_the_receiver_verifies_it(month, project, receiver,
                                                            django_capture_on_commit_callbacks):
    BudgetAlertPolicy.objects.create(project=project, webhook_url=receiver.url + "/hook", webhook_secret="s3cr3t")
    month.at(day(0), vm("one", vcpus="10", started_at=NOV))
    month.at(day(15), vm("one", vcpus="10", started_at=NOV))
    with django_capture_on_commit_callbacks(execute=True):
        budgets.evaluate(project, day(15))
    assert len(receiver.requests) == 2
    path, headers, body = receiver.requests[0]
    assert path == "/hook" and headers["X-Glasspane-Event"] == "budget.threshold"
    assert channels.verify("s3cr3t", headers["X-Glasspane-Timestamp"], body, headers["X-Glasspane-Signature"])
    assert not channels.verify("wrong", headers["X-Glasspane-Timestamp"], body, headers["X-Glasspane-Signature"])
    assert not channels.verify("s3cr3t", headers["X-Glasspane-Timestamp"], body + b" ", headers["X-Glasspane-Signature"])
    assert b'"basis":"forecast"' in body and b'"project":"alpha"' in body
    assert {a.deliveries.get("webhook") for a in BudgetAlert.objects.all()} == {"sent"}


def test_a_webhook_redirect_is_not_followed(receiver):
    receiver.status, receiver.location = 302, receiver.url + "/elsewhere"
    with pytest.raises(outbound.Failed, match="HTTP 302 .*a redirect, not followed"):
        channels.post_signed(receiver.url + "/hook", {"a": 1}, "k", event="test")
    assert [r[0] for r in receiver.requests] == ["/hook"]
