"""Budget alerts: each threshold of the monthly budget fires once per month and basis.

Two bases: the cost to date and the month-end forecast (``metering.chargeback.costs``, the numbers
the overview shows). A threshold fires when the amount reaches ``threshold % x budget``; the
``BudgetAlert`` row records the budget, the amount and the time, and its unique constraint makes
a second check in the same month (or a concurrent one) fire nothing. Firing several thresholds at
once (a project that jumps from 40 % to 95 %) records each; the notification names the highest.
A project without a budget, or that opted out, fires nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from metering.chargeback.costs import CostSummary, budget_of, month_of, month_to_date
from metering.choices import Role
from metering.models import BudgetAlert, BudgetAlertPolicy, Membership, Project
from metering.models.notify import DEFAULT_THRESHOLDS, AlertBasis, split_addresses


def policy_of(project: Project) -> BudgetAlertPolicy:
    """The project's policy as stored now, or an unsaved one with the defaults."""
    return BudgetAlertPolicy.objects.filter(project=project).first() or BudgetAlertPolicy(project=project)


def thresholds_of(policy: BudgetAlertPolicy) -> list[int]:
    values = policy.thresholds if isinstance(policy.thresholds, list) else DEFAULT_THRESHOLDS
    return sorted({int(v) for v in values if isinstance(v, int | float) and 0 < v <= 1000})


@dataclass(frozen=True)
class Crossed:
    basis: str
    threshold: int
    amount: Decimal


def crossed(summary: CostSummary, thresholds: list[int]) -> list[Crossed]:
    """Every (basis, threshold) the summary has reached; pure, for tests and the page."""
    if summary.budget is None or summary.budget <= 0:
        return []
    out = []
    for basis, amount in ((AlertBasis.COST_TO_DATE, summary.cost_to_date), (AlertBasis.FORECAST, summary.forecast)):
        for t in thresholds:
            if amount * 100 >= summary.budget * t:
                out.append(Crossed(basis, t, amount))
    return out


def evaluate(project: Project, now: datetime | None = None) -> list[BudgetAlert]:
    """Record (and return) the thresholds newly crossed this month; queue their notifications."""
    now = now or timezone.now()
    policy = policy_of(project)
    if not policy.enabled or budget_of(project) is None:  # two cheap queries before pricing anything
        return []
    summary = month_to_date(project, now)
    period_start, _ = month_of(now)
    fired = []
    for c in crossed(summary, thresholds_of(policy)):
        if BudgetAlert.objects.filter(project=project, period_start=period_start, basis=c.basis,
                                      threshold=c.threshold).exists():
            continue
        try:
            with transaction.atomic():
                fired.append(BudgetAlert.objects.create(
                    project=project, period_start=period_start, basis=c.basis, threshold=c.threshold,
                    budget=summary.budget, amount=c.amount.quantize(Decimal("0.01")), currency=summary.currency,
                    fired_at=now))
        except IntegrityError:  # a concurrent check fired it first
            continue
    if fired:
        from metering.tasks import notify_budget_alerts

        ids = [a.pk for a in fired]
        transaction.on_commit(lambda: notify_budget_alerts.delay(ids))
    return fired


def evaluate_all(now: datetime | None = None) -> int:
    """Check every project (beat calls this); how many alerts fired. Projects without a budget
    cost two small queries each."""
    return sum(len(evaluate(project, now)) for project in Project.objects.order_by("pk").iterator())


def recipients(project: Project, policy: BudgetAlertPolicy) -> list[str]:
    out = set()
    if policy.email_admins:
        out |= set(Membership.objects.filter(project=project, role=Role.ADMIN).exclude(user__email="")
                   .values_list("user__email", flat=True))
    out |= set(split_addresses(policy.extra_emails))
    return sorted(out)


def payload(alert: BudgetAlert) -> dict:
    return {
        "event": "budget.threshold",
        "project": alert.project.slug,
        "period": alert.period_start.strftime("%Y-%m"),
        "basis": alert.basis,
        "threshold_percent": alert.threshold,
        "budget": str(alert.budget),
        "amount": str(alert.amount),
        "currency": alert.currency,
        "fired_at": alert.fired_at.isoformat(),
    }


def message(alerts: list[BudgetAlert]) -> tuple[str, str]:
    """Subject and body for one project's newly fired alerts."""
    top = max(alerts, key=lambda a: (a.threshold, a.basis == AlertBasis.COST_TO_DATE))
    project = top.project
    subject = (f"[Glasspane] {project.name}: {top.get_basis_display().lower()} reached {top.threshold}% "
               f"of the {top.period_start:%B %Y} budget")
    lines = [f"Project {project.name} ({project.slug}), budget {top.budget} {top.currency} for {top.period_start:%B %Y}.", ""]
    for a in sorted(alerts, key=lambda a: (a.basis, a.threshold)):
        lines.append(f"- {a.get_basis_display()}: {a.amount} {a.currency} reached {a.threshold}% of the budget")
    lines += ["", "Each threshold is reported once a month. A project admin can change the thresholds or opt out "
              "on the project's budget alert settings."]
    return subject, "\n".join(lines)
