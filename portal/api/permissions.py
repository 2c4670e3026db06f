"""API permissions: the token's scope, and the caller's role in the object's project.

Object visibility is not decided here: every queryset is already scoped with ``metering.access``,
so an object in a project the caller cannot see is a 404 before these checks run. These decide
what a caller who *can* see an object may do with it (403 when the role is too low).
"""

from __future__ import annotations

from django.conf import settings
from rest_framework import permissions
from rest_framework.exceptions import NotFound

from metering import access
from metering.choices import Role
from portal.models import PersonalAccessToken


class TokenScopePermission(permissions.BasePermission):
    """A read-scope token may only use safe methods (GET, HEAD, OPTIONS)."""

    message = "This token has read scope: it cannot change anything."

    def has_permission(self, request, view):
        if isinstance(request.auth, PersonalAccessToken) and request.auth.read_only:
            return request.method in permissions.SAFE_METHODS
        return True


class IsStaff(permissions.BasePermission):
    message = "Only staff may use this endpoint."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_staff)


class StaffWrites(permissions.BasePermission):
    """Anyone authenticated reads (within their scope); only staff write."""

    message = "Only staff may change this."

    def has_permission(self, request, view):
        return request.method in permissions.SAFE_METHODS or bool(request.user and request.user.is_staff)


class ProjectRole(permissions.BasePermission):
    """Object-level: the caller's role in ``obj``'s project must reach the view's
    ``write_role`` (unsafe methods) or ``read_role`` (safe methods, default viewer)."""

    message = "Your role in this project does not allow this."

    def has_object_permission(self, request, view, obj):
        project = view.project_of(obj) if hasattr(view, "project_of") else obj.project
        needed = (getattr(view, "read_role", Role.VIEWER) if request.method in permissions.SAFE_METHODS
                  else getattr(view, "write_role", Role.ADMIN))
        if needed == "staff":
            return request.user.is_staff
        return access.has_role(request.user, project, needed)


class SchemaAccess(permissions.BasePermission):
    """``/api/schema/`` and ``/api/docs/`` follow ``GLASSPANE_API_SCHEMA``: public, authenticated or off (404)."""

    def has_permission(self, request, view):
        mode = settings.GLASSPANE_API_SCHEMA
        if mode == "off":
            raise NotFound()
        if mode == "authenticated":
            return bool(request.user and request.user.is_authenticated)
        return True
