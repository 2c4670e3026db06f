"""A project's reports and alerts page (project admins and staff): report subscriptions with
their recent runs, the budget alert settings, and the alerts fired this month.

Validation lives on the models (``ReportSubscription.clean``, ``BudgetAlertPolicy.clean``), so
this page, the API and Django admin refuse the same input with the same words.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from metering.chargeback.costs import month_of
from metering.models import BudgetAlert, BudgetAlertPolicy, ReportSubscription
from metering.notify import access as notify_access
from metering.notify.budgets import policy_of
from portal.web.selection import visible_project_or_404


class SubscriptionForm(forms.ModelForm):
    class Meta:
        model = ReportSubscription
        fields = ["kind", "frequency", "timezone", "recipients"]
        labels = {"kind": "Report", "recipients": "Send to"}
        widgets = {"recipients": forms.TextInput(attrs={"placeholder": "finance@example.com, lead@example.com"})}


class ThresholdsField(forms.CharField):
    """Percentages typed as ``50, 75, 90``; the model says which lists are valid."""

    def prepare_value(self, value):
        return ", ".join(str(v) for v in value) if isinstance(value, list) else value

    def to_python(self, value):
        parts = [p.strip().rstrip("%") for p in (value or "").split(",") if p.strip()]
        try:
            return [int(p) for p in parts]
        except ValueError:
            raise forms.ValidationError("whole percentages separated by commas, e.g. 50, 75, 90, 100") from None


class PolicyForm(forms.ModelForm):
    thresholds = ThresholdsField(label="Thresholds (% of the budget)", max_length=200)

    class Meta:
        model = BudgetAlertPolicy
        fields = ["enabled", "thresholds", "email_admins", "extra_emails", "webhook_url", "webhook_secret"]
        labels = {"enabled": "Send budget alerts", "email_admins": "Email the project's admins",
                  "extra_emails": "Also email", "webhook_url": "Webhook URL", "webhook_secret": "Webhook secret"}
        widgets = {"extra_emails": forms.TextInput(), "webhook_secret": forms.PasswordInput(render_value=True)}


@login_required
def project_reports(request, slug: str):
    """GET shows the page; POST ``action=subscribe|unsubscribe|policy`` changes it, then redirects."""
    project = visible_project_or_404(request, slug)
    if not notify_access.may_manage(request.user, project):
        raise PermissionDenied("project admins and staff manage reports and alerts")
    action = request.POST.get("action") if request.method == "POST" else None
    policy = policy_of(project)
    sub_form = SubscriptionForm(request.POST if action == "subscribe" else None,
                                instance=ReportSubscription(project=project, created_by=request.user))
    policy_form = PolicyForm(request.POST if action == "policy" else None, instance=policy)
    if action == "subscribe" and sub_form.is_valid():
        sub = sub_form.save()
        messages.success(request, f"Subscribed {', '.join(sub.recipient_list)} to the {sub.get_kind_display()} "
                                  f"({sub.frequency}).")
        return redirect("web:project_reports", slug=project.slug)
    if action == "policy" and policy_form.is_valid():
        policy_form.save()
        messages.success(request, "Budget alert settings saved.")
        return redirect("web:project_reports", slug=project.slug)
    if action == "unsubscribe":
        raw = request.POST.get("subscription", "")
        sub = get_object_or_404(ReportSubscription, pk=raw if raw.isdigit() else 0, project=project)
        sub.delete()
        messages.success(request, f"Removed the {sub.get_kind_display()} subscription.")
        return redirect("web:project_reports", slug=project.slug)
    subscriptions = list(project.report_subscriptions.prefetch_related("runs"))
    period_start, _ = month_of(timezone.now())
    return render(request, "web/reports.html", {
        "title": f"Reports and alerts · {project.name}",
        "project": project,
        "subscriptions": [{"sub": s, "runs": list(s.runs.all()[:3])} for s in subscriptions],
        "sub_form": sub_form,
        "policy_form": policy_form,
        "alerts": BudgetAlert.objects.filter(project=project, period_start=period_start),
    })

