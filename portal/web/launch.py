"""Launch from the portal (Horizon's "Launch instance"): pick an account, a kind, an image, a
flavor or size and a network; see the quota impact; submit; follow the request to done.

Project members and up only (a viewer gets 403). The form's fields become a ``ProvisionSpec``
through ``admission.build_spec`` and go through ``quotas.submit`` with the provisioning task
queued after commit, exactly as ``POST /api/v1/provision-requests/`` does; the impact table is
``quotas.preview``, which the API serves as ``POST /api/v1/provision-requests/preview/``.
The request page polls ``launch_request_status`` (a small JSON view) until the request is over.
"""

from __future__ import annotations

import shlex

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from metering import access, quotas
from metering.choices import ChangeSource, QuotaKey, RequestState, Role
from metering.launching import options_for, serving_accounts
from metering.models import ProvisionRequest, Resource
from metering.quotas import states
from metering.quotas.admission import build_spec
from portal import units
from portal.web.launch_form import KIND_LABELS, LaunchForm
from portal.web.selection import visible_project_or_404

RECENT = 10
DEFAULT_SIZE = {"vcpus": "1", "ram_mb": "512"}
FINAL = {RequestState.DONE, RequestState.FAILED, RequestState.REFUSED}
#: what the request page calls each state; "pending" is a request waiting for a worker
PHASES = {RequestState.PENDING: "Queued", RequestState.PROVISIONING: "Provisioning", RequestState.DONE: "Done",
          RequestState.FAILED: "Failed", RequestState.REFUSED: "Refused by quota"}
KEY_LABELS = {QuotaKey.VMS: "VMs", QuotaKey.CONTAINERS: "Containers", QuotaKey.VCPUS: "vCPUs",
              QuotaKey.RAM_MB: "RAM (GiB)", QuotaKey.DISK_GB: "Disk (GiB)", QuotaKey.VOLUMES: "Volumes",
              QuotaKey.BUDGET: "Budget this month"}


def _member_project(request, slug: str):
    project = visible_project_or_404(request, slug)
    if not access.has_role(request.user, project, Role.MEMBER):
        raise PermissionDenied("Only the project's members may launch resources.")
    return project


def _shown(key: str, value, currency: str) -> str:
    if key == QuotaKey.RAM_MB:
        return units.gib_from_mib(value)
    if key == QuotaKey.BUDGET:
        text = units.number(value, 2)
        return f"{text} {currency}".strip()
    return units.number(value)


def impact_rows(found) -> list[dict]:
    """The preview as table rows, numbers in the portal's units (GiB, the plan's currency)."""
    rows = []
    for i in found.impacts:
        show = lambda v, key=i.key: _shown(key, v, found.currency)  # noqa: E731
        rows.append({"key": i.key, "label": KEY_LABELS.get(i.key, i.key), "account": i.account,
                     "in_use": show(i.in_use), "requested": show(i.requested), "after": show(i.after),
                     "limit": "unlimited" if i.unlimited else show(i.limit), "state": i.state,
                     "state_word": states.WORDS[i.state] or "ok"})
    return rows


@login_required
def launch(request, slug: str):
    project = _member_project(request, slug)
    accounts = serving_accounts(project)
    data = request.POST if request.method == "POST" else request.GET
    by_name = {a.name: a for a in accounts}
    account = by_name.get(data.get("account")) or (accounts[0] if accounts else None)
    options, options_error = options_for(account, project) if account is not None else (None, "")
    kinds = options.kinds if options is not None else ()
    kind = data.get("kind") if data.get("kind") in kinds or (options is None and data.get("kind")) else (
        kinds[0] if kinds else "vm")
    context = {"title": f"Launch · {project.slug}", "project": project, "accounts": accounts, "account": account,
               "options_error": options_error, "notes": options.notes if options else (),
               "recent": ProvisionRequest.objects.filter(project=project).select_related("account")[:RECENT],
               "phases": PHASES}
    if account is None:
        return render(request, "web/launch.html", {**context, "form": None})
    initial = {"account": account.name, "kind": kind, "token": LaunchForm.new_token(),
               "name": f"{project.slug}-{kind}-{ProvisionRequest.objects.filter(project=project).count() + 1}",
               **DEFAULT_SIZE}
    if request.method == "POST" and request.POST.get("intent") != "choose":
        form = LaunchForm({**request.POST.dict(), "account": account.name, "kind": kind},
                          accounts=accounts, options=options, kind=kind)
    else:  # a first look, or another account or kind chosen: its choices, keeping what still applies
        kept = {k: v for k, v in data.items() if k in ("name", "image", "flavor", "vcpus", "ram_mb", "disk_gb",
                                                        "network", "command", "token") and v}
        form = LaunchForm(initial={**initial, **kept, "account": account.name, "kind": kind},
                          accounts=accounts, options=options, kind=kind)
    found, spec = None, None
    if not form.is_bound or form.is_valid():
        fields = form.spec_fields()
        if (form.is_bound and options is not None and options.image_required and not fields.get("image")
                and "image" in form.fields):
            form.add_error("image", f"is required: {account.name} builds from an image")
        try:
            spec = build_spec(account, fields)
            found = quotas.preview(project, account, spec)
        except quotas.SpecError as exc:
            if form.is_bound:
                for name, message in exc.errors.items():
                    form.add_error(name if name in form.fields else None, message)
    context.update(form=form, preview=found, impacts=impact_rows(found) if found else [])
    if request.POST.get("fragment") == "preview":
        return render(request, "web/launch_preview.html", context)
    if request.method == "POST" and request.POST.get("intent") == "launch" and spec is not None and not form.errors:
        return _submit(request, project, account, spec, form, context)
    return _render_form(request, form, context)


def _render_form(request, form, context, status: int = 200):
    """The form page; a bound form gets a fresh idempotency key, so what is sent after a refusal
    or a correction is a new request (the same page sent twice still makes one)."""
    if form.is_bound:
        form.data["token"] = LaunchForm.new_token()
    return render(request, "web/launch.html", context, status=status)


def _submit(request, project, account, spec, form, context):
    token = form.cleaned_data.get("token") or ""
    key = f"portal-{token}"[:255] if token else ""
    try:
        made = quotas.submit(project, account, spec, user=request.user, source=ChangeSource.PORTAL,
                             idempotency_key=key)
    except IntegrityError:  # the same form sent twice at once: the first one stands
        made = ProvisionRequest.objects.filter(requested_by=request.user, idempotency_key=key).first()
        if made is None:
            raise
    except quotas.QuotaExceeded as exc:
        context["refused"] = exc.message
        return _render_form(request, form, context, status=403)
    except quotas.SpecError as exc:
        for name, message in exc.errors.items():
            form.add_error(name if name in form.fields else None, message)
        return _render_form(request, form, context)
    except quotas.QueueUnavailable:
        made = ProvisionRequest.objects.filter(project=project, requested_by=request.user).order_by("-pk").first()
        messages.error(request, "The task queue cannot be reached: the request was not started and holds no quota.")
    return redirect("web:launch_request", slug=project.slug, pk=made.pk)


def _request_or_404(request, slug: str, pk: int) -> ProvisionRequest:
    project = visible_project_or_404(request, slug)
    return get_object_or_404(ProvisionRequest.objects.select_related("project", "account", "requested_by", "resource"),
                             project=project, pk=pk)


def resource_of(made: ProvisionRequest) -> Resource | None:
    """The request's resource: linked when the inventory showed it, else found by its id there."""
    if made.resource_id:
        return made.resource
    external_id = (made.spec or {}).get("external_id")
    if not external_id:
        return None
    return Resource.objects.filter(account=made.account, external_id=external_id).first()


def status_of(made: ProvisionRequest) -> dict:
    resource = resource_of(made) if made.state == RequestState.DONE else None
    return {"state": made.state, "phase": PHASES.get(made.state, made.state), "message": made.message,
            "final": made.state in FINAL and (made.state != RequestState.DONE or resource is not None),
            "resource_url": reverse("web:resource_detail", args=[resource.pk]) if resource else "",
            "resource_name": resource.name if resource else "",
            "finished_at": timezone.localtime(made.finished_at).strftime("%Y-%m-%d %H:%M:%S") if made.finished_at else "—"}


def step_marks(state: str) -> list[dict]:
    """Queued → Provisioning → Done (or Failed, Refused by quota), each "done", "current", "failed"
    or "todo" (``static/js/launch.js`` marks them the same way while it polls)."""
    last = state if state in (RequestState.FAILED, RequestState.REFUSED) else RequestState.DONE
    order = [RequestState.PENDING, RequestState.PROVISIONING, last]
    at = order.index(state) if state in order else 0
    marks = []
    for index, step in enumerate(order):
        if index < at or (index == at and state == RequestState.DONE):
            mark = "done"
        elif index == at:
            mark = "failed" if state in (RequestState.FAILED, RequestState.REFUSED) else "current"
        else:
            mark = "todo"
        marks.append({"state": step, "label": PHASES[step], "mark": mark})
    return marks


@login_required
def launch_request(request, slug: str, pk: int):
    made = _request_or_404(request, slug, pk)
    status = status_of(made)
    spec = made.spec or {}
    kind = spec.get("kind", made.kind)
    details = [("Provider account", made.account.name), ("Kind", KIND_LABELS.get(kind, kind)),
               ("Image", spec.get("image") or "—"), ("Flavor", spec.get("flavor") or "—"),
               ("vCPUs", units.number(spec.get("vcpus")) if spec.get("vcpus") else "—"),
               ("RAM", f"{units.gib_from_mib(spec['ram_mb'])} GiB" if spec.get("ram_mb") else "—"),
               ("Disk", f"{units.number(spec.get('disk_gb'))} GiB" if spec.get("disk_gb") else "—"),
               ("Network", spec.get("network") or "the provider's default")]
    if spec.get("command"):
        details.append(("Command", shlex.join(spec["command"])))
    steps = step_marks(made.state)
    return render(request, "web/launch_request.html", {
        "title": f"Request {spec.get('name') or made.pk}", "project": made.project, "made": made,
        "status": status, "details": details,
        "steps": steps,
        "status_url": reverse("web:launch_request_status", args=[made.project.slug, made.pk]),
        "may_launch": access.has_role(request.user, made.project, Role.MEMBER),
    })


@login_required
def launch_request_status(request, slug: str, pk: int):
    return JsonResponse(status_of(_request_or_404(request, slug, pk)))
