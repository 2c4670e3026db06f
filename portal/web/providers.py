"""Providers (staff): each account's health and last run, refresh now with live progress, add/edit.

"Refresh now" only enqueues the job (``metering.tasks.enqueue_refresh``) and returns; the page
polls ``run_status`` (a small JSON view) until the run is done. Forms validate settings with the
driver's own ``validate``; stored credentials are never sent back to the browser.

The add and edit forms have a second button, "Test connection" (``action=test``): the same view
checks the typed settings and credentials against the provider (``providers.connection_check``)
and saves nothing. The page's script sends it in the background and shows the answer in place
(JSON, so typed passwords stay in their fields); without the script the page is rendered again
with the answer.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from metering.choices import RunStatus
from metering.models import CollectionState, RefreshRun
from metering.tasks import BrokerError, enqueue_refresh, next_refresh_at
from portal.web.forms import ProviderAccountForm
from portal.web.selection import staff_required
from providers import registry
from providers.models import ProviderAccount

DONE = {RunStatus.OK, RunStatus.PARTIAL, RunStatus.FAILED, RunStatus.SKIPPED}


def _hhmm(at) -> str:
    return timezone.localtime(at).strftime("%H:%M") if at else ""


def run_phrase(run: RefreshRun | None, account: ProviderAccount) -> str:
    """One line about an account's refresh: "Running since 08:12", "Queued since 08:12",
    "Succeeded at 08:13", "Failed at 08:13; next try at 08:18" (times in the user's zone)."""
    if run is None:
        return ""
    if run.status == RunStatus.RUNNING:
        return f"Running since {_hhmm(run.started_at or run.queued_at)}"
    if run.status == RunStatus.QUEUED:
        return f"Queued since {_hhmm(run.queued_at)}"
    text = f"{RunStatus(run.status).label} at {_hhmm(run.finished_at or run.queued_at)}"
    if run.status == RunStatus.FAILED and account.enabled:
        due = next_refresh_at(account)
        text += f"; next try at {_hhmm(due)}" if due and due > timezone.now() else "; next try now"
    return text


@staff_required
def provider_list(request):
    accounts = list(ProviderAccount.objects.select_related("collection").order_by("name"))
    # the newest run per account, leaving out "skipped" ones (a refresh asked for while another ran:
    # it says nothing about the account once the other run has finished)
    for account in accounts:
        run = (RefreshRun.objects.filter(account=account).exclude(status=RunStatus.SKIPPED)
               .order_by("-queued_at", "-id").first())
        account.run = run
        account.in_progress = run is not None and run.status in (RunStatus.QUEUED, RunStatus.RUNNING)
        account.run_phrase = run_phrase(run, account)
        account.resource_count = account.resources.filter(deleted_at__isnull=True).count()
        # the health message and the last error are often the same text: show it once
        state = CollectionState.of(account)
        error = state.last_refresh_error.strip()
        account.error_once = "" if not error or error in state.health_message else error
    return render(request, "web/providers.html", {"title": "Providers", "accounts": accounts})


def _kind_or_404(kind: str) -> str:
    if kind not in registry.kinds():
        raise Http404(f"unknown provider kind {kind!r}")
    return kind


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _form_page(request, form, context: dict):
    """The add/edit form page; for ``action=test``, the connection check's answer (nothing saved)."""
    template = "web/provider_form.html"
    if request.method != "POST" or request.POST.get("action") != "test":
        return render(request, template, context)
    result = form.check_connection()
    if _wants_json(request):
        return JsonResponse(check_json(form, result))
    return render(request, template, {**context, "check": result, "check_tested": True})


def check_json(form, result) -> dict:
    """What the page's script shows: the check's outcome, or the field errors that stopped it."""
    if result is None:
        return {"ok": False, "problem": "fields", "problem_label": "Fix the marked fields first",
                "message": "Some settings are missing or not valid; nothing was tried.",
                "errors": {form[name].html_name if name in form.fields else "__all__": [str(m) for m in messages]
                           for name, messages in form.errors.items()}}
    return {**result.as_json(), "problem_label": result.problem_label, "errors": {}}


@staff_required
def provider_add(request):
    kind = request.GET.get("kind") or request.POST.get("kind")
    if not kind:
        kinds = []
        for k in registry.kinds():
            try:
                kinds.append((k, registry.driver_class(k).label or k))
            except (ImportError, TypeError) as exc:  # a broken third-party package: say so, list the rest
                kinds.append((k, f"{k} (cannot be loaded: {exc})"))
        return render(request, "web/provider_kind.html", {"title": "Add a provider", "kinds": kinds})
    form = ProviderAccountForm(request.POST or None, kind=_kind_or_404(kind))
    if request.method == "POST" and request.POST.get("action") != "test" and form.is_valid():
        account = form.save()
        messages.success(request, f"Provider {account.name} added; its first refresh is due now.")
        return redirect("web:provider_list")
    label = form.driver_class.label or kind
    return _form_page(request, form, {"title": f"Add a provider: {label}", "form": form, "kind": kind})


@staff_required
def provider_edit(request, pk: int):
    account = get_object_or_404(ProviderAccount, pk=pk)
    try:
        registry.driver_class(account.kind)
    except (registry.UnknownKind, ImportError, TypeError) as exc:  # its package was removed or is broken
        return render(request, "web/provider_unavailable.html",
                      {"title": f"Edit provider {account.name}", "account": account, "reason": str(exc)})
    form = ProviderAccountForm(request.POST or None, kind=account.kind, instance=account)
    if request.method == "POST" and request.POST.get("action") != "test" and form.is_valid():
        form.save()
        messages.success(request, f"Provider {account.name} saved.")
        return redirect("web:provider_list")
    return _form_page(request, form, {"title": f"Edit provider {account.name}", "form": form, "kind": account.kind,
                                      "account": account})


@staff_required
@require_POST
def provider_refresh(request, pk: int):
    account = get_object_or_404(ProviderAccount, pk=pk)
    try:
        enqueue_refresh(account, trigger="web")
    except BrokerError:
        messages.error(request, f"Refresh of {account.name} not started: the task queue cannot be reached. "
                                "Try again later.")
    else:
        messages.info(request, f"Refresh of {account.name} queued.")
    return redirect(reverse("web:provider_list") + f"#account-{account.pk}")


@staff_required
def run_status(request, pk: int):
    run = get_object_or_404(RefreshRun.objects.select_related("account"), pk=pk)
    return JsonResponse({
        "id": run.pk,
        "account": run.account.name,
        "status": run.status,
        "label": RunStatus(run.status).label,
        "done": run.status in DONE,
        "duration": run.duration,
        "counts": run.counts,
        "error": run.error,
        "phrase": run_phrase(run, run.account),
    })
