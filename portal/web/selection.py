"""Which project the user is looking at, and who may open which page.

The selected project is remembered in the session (``request.session["project"]``) when an
overview is opened, so ``/`` and the navigation lead back to it. Every lookup goes through
``metering.access``: a project the user may not see does not exist for them (404).
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.shortcuts import get_object_or_404

from metering import access
from metering.models import Project, Resource

SESSION_KEY = "project"


#: pages whose URL names a project (``<slug:slug>``): that project is the page's, the switcher's
#: and the navigation's, and becomes the selected one
PROJECT_URL_NAMES = {"web:project_overview", "web:project_chargeback", "web:chargeback_issue",
                     "web:project_members", "web:project_reports", "web:quota_edit",
                     "web:launch", "web:launch_request", "web:launch_request_status"}
#: pages scoped to one project by ``?project=<slug>`` (per-project recommendations): likewise
PROJECT_QUERY_URL_NAMES = {"web:recommendations"}


def project_in_url(request, projects) -> Project | None:
    """The visible project a project page's URL names, or the project of the resource a resource
    page shows; None elsewhere (or when the user may not see it: the view answers 404)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return None
    if match.view_name in PROJECT_URL_NAMES and match.kwargs.get("slug"):
        return projects.filter(slug=match.kwargs["slug"]).first()
    if match.view_name in PROJECT_QUERY_URL_NAMES and request.GET.get("project"):
        return projects.filter(slug=request.GET["project"]).first()
    if match.view_name in ("web:resource_detail", "web:resource_action") and match.kwargs.get("pk"):
        resource = access.scope(Resource.objects.filter(pk=match.kwargs["pk"]), request.user).only(
            "project_id").first()
        if resource is not None and resource.project_id:
            return projects.filter(pk=resource.project_id).first()
    return None


def selected_project(request) -> Project | None:
    """The project the URL names (which then becomes the selected one), else the session's
    project if the user may still see it, else their first visible project that has resources (an
    empty one, such as OpenStack's own ``admin`` project, is a poor first page), else their first
    visible project."""
    if hasattr(request, "_selected_project"):
        return request._selected_project
    projects = access.visible_projects(request.user)
    named = project_in_url(request, projects)
    if named is not None:
        select(request, named)
        return named
    slug = request.session.get(SESSION_KEY)
    project = (projects.filter(slug=slug).first() if slug else None) or (
        projects.annotate(busy=Exists(Resource.objects.live().filter(project=OuterRef("pk"))))
        .order_by("-busy", "slug").first())
    request._selected_project = project
    return project


def select(request, project: Project) -> None:
    if request.session.get(SESSION_KEY) != project.slug:  # an unchanged session is not written back
        request.session[SESSION_KEY] = project.slug
    request._selected_project = project


def visible_project_or_404(request, slug: str) -> Project:
    return get_object_or_404(access.visible_projects(request.user), slug=slug)


def staff_required(view):
    """Staff only: anonymous users go to the login page, other users get 403."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_staff:
            raise PermissionDenied("staff only")
        return view(request, *args, **kwargs)

    return wrapped
