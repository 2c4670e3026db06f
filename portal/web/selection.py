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


def selected_project(request) -> Project | None:
    """The session's project if the user may still see it, else their first visible project that
    has resources (an empty one, such as OpenStack's own ``admin`` project, is a poor first page),
    else their first visible project."""
    if hasattr(request, "_selected_project"):
        return request._selected_project
    projects = access.visible_projects(request.user)
    slug = request.session.get(SESSION_KEY)
    project = (projects.filter(slug=slug).first() if slug else None) or (
        projects.annotate(busy=Exists(Resource.objects.live().filter(project=OuterRef("pk"))))
        .order_by("-busy", "slug").first())
    request._selected_project = project
    return project


def select(request, project: Project) -> None:
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
