"""Who may see and do what, by project membership. Used by the web views and the API alike.

Roles, each including the ones before it: viewer (look), member (provision and act on
resources), project admin (manage members). Staff may do everything everywhere. Querysets are
scoped with these helpers, so an object in a project the caller cannot see is simply not found.
"""

from __future__ import annotations

from django.db.models import F, Q, QuerySet

from metering.choices import Role
from metering.models import Membership, Project

RANK = {Role.VIEWER: 1, Role.MEMBER: 2, Role.ADMIN: 3}


def role(user, project: Project) -> str | None:
    """The user's role in ``project`` ("staff" for staff), or None."""
    if not user.is_authenticated:
        return None
    if user.is_staff:
        return "staff"
    if getattr(project, "caller_id", None) == user.pk:  # fetched by ``visible_projects(..., with_role=True)``
        return project.caller_role
    return Membership.objects.filter(user=user, project=project).values_list("role", flat=True).first()


def has_role(user, project: Project, needed: str) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_staff:
        return True
    mine = role(user, project)
    return mine is not None and RANK[mine] >= RANK[needed]


def visible_projects(user, at_least: str = Role.VIEWER, *, with_role: bool = False) -> QuerySet[Project]:
    """The projects ``user`` has at least ``at_least`` in. ``with_role``: each carries the user's
    role (``caller_role``, for ``caller_id``), so ``role``/``has_role`` on it need no query of
    their own (the API's request handling looks a project up and checks the role in one query)."""
    if not user.is_authenticated:
        return Project.objects.none()
    if user.is_staff:
        return Project.objects.all()
    roles = [r for r, rank in RANK.items() if rank >= RANK[at_least]]
    projects = Project.objects.filter(memberships__user=user, memberships__role__in=roles)
    if with_role:  # one membership per user and project: the join yields each project once
        return projects.annotate(caller_id=F("memberships__user_id"), caller_role=F("memberships__role"))
    return projects.distinct()


def scope(queryset: QuerySet, user, field: str = "project", at_least: str = Role.VIEWER) -> QuerySet:
    """``queryset`` limited to rows whose ``field`` is a project the user may see.

    Staff see everything, including rows with no project (unassigned resources)."""
    if not user.is_authenticated:
        return queryset.none()
    if user.is_staff:
        return queryset
    ids = visible_projects(user, at_least).values("pk")
    return queryset.filter(Q(**{f"{field}__in": ids}))
