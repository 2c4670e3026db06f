"""Project members (project admins and staff): who is in the project with which role; add a user by
username, change a role, remove a member.

Access follows ``metering.access``: a project the user cannot see is 404; viewers and members can
see it, so they get 403 here. Project admins manage their own project only, and may not change or
remove their own membership (that would lock them out half-way; staff or another project admin
can), and nobody may remove or demote a project's last admin (``metering.memberships``).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render

from metering import access, memberships
from metering.choices import Role
from metering.models import Membership, Project
from portal.web.forms import MemberAddForm, MemberRoleForm
from portal.web.selection import visible_project_or_404


def _managed_project_or_denied(request, slug: str) -> Project:
    project = visible_project_or_404(request, slug)
    if not access.has_role(request.user, project, Role.ADMIN):
        raise PermissionDenied("project admins and staff manage members")
    return project


def _membership(request, project: Project, raw) -> Membership:
    if not str(raw).isdigit():
        raise Http404("no membership given")
    membership = get_object_or_404(Membership.objects.select_related("user"), pk=raw, project=project)
    if membership.user_id == request.user.pk and not request.user.is_staff:
        raise PermissionDenied("you cannot change your own membership; ask staff or another project admin")
    return membership


@login_required
def project_members(request, slug: str):
    """GET lists the members; POST ``action=add|role|remove`` changes them, then redirects back."""
    project = _managed_project_or_denied(request, slug)
    action = request.POST.get("action") if request.method == "POST" else None
    add_form = MemberAddForm(request.POST if action == "add" else None, project=project)
    if action == "add" and add_form.is_valid():
        user, role = add_form.cleaned_data["username"], add_form.cleaned_data["role"]
        Membership.objects.create(project=project, user=user, role=role)
        messages.success(request, f"Added {user.get_username()} to {project.slug} as {Role(role).label.lower()}.")
        return redirect("web:project_members", slug=project.slug)
    if action == "role":
        form = MemberRoleForm(request.POST)
        if not form.is_valid():
            messages.error(request, f"Role not changed: {'; '.join(e for es in form.errors.values() for e in es)}")
            return redirect("web:project_members", slug=project.slug)
        membership = _membership(request, project, form.cleaned_data["membership"])
        try:
            old = memberships.change_role(membership, form.cleaned_data["role"])
        except memberships.LastAdminError as exc:
            messages.error(request, f"Role not changed: {exc}")
            return redirect("web:project_members", slug=project.slug)
        if old != membership.role:
            messages.success(request, f"{membership.user.get_username()} is now {Role(membership.role).label.lower()} "
                                      f"of {project.slug} (was {Role(old).label.lower()}).")
        return redirect("web:project_members", slug=project.slug)
    if action == "remove":
        membership = _membership(request, project, request.POST.get("membership", ""))
        try:
            memberships.remove(membership)
        except memberships.LastAdminError as exc:
            messages.error(request, f"Not removed: {exc}")
            return redirect("web:project_members", slug=project.slug)
        messages.success(request, f"Removed {membership.user.get_username()} from {project.slug}.")
        return redirect("web:project_members", slug=project.slug)
    if action not in (None, "add"):
        messages.error(request, f"Unknown action {action!r}.")
        return redirect("web:project_members", slug=project.slug)
    members = list(project.memberships.select_related("user").order_by("user__username"))
    return render(request, "web/members.html", {
        "title": f"Members · {project.name}",
        "project": project,
        "members": [{"membership": m, "self": m.user_id == request.user.pk and not request.user.is_staff}
                    for m in members],
        "roles": Role.choices,
        "add_form": add_form,
    })
