"""Changing who is in a project: one place for the rule every door follows (API, page, admin).

A project that has an admin keeps one: removing or demoting its last admin is refused. The
project row is locked first, so two admins removing each other at once cannot both succeed.
"""

from __future__ import annotations

from django.db import transaction

from metering.choices import Role
from metering.models import Membership, Project


class LastAdminError(ValueError):
    """The change would leave the project without an admin."""


RULE = "a project keeps at least one admin: make someone else admin first"


def leaves_without_admin(roles_before, roles_after) -> bool:
    """The rule on a whole set of changes at once (Django admin's inline edits every member together)."""
    return Role.ADMIN in set(roles_before) and Role.ADMIN not in set(roles_after)


def _check_keeps_an_admin(membership: Membership, new_role: str | None) -> None:
    if membership.role != Role.ADMIN or new_role == Role.ADMIN:
        return
    Project.objects.select_for_update().filter(pk=membership.project_id).first()
    others = Membership.objects.filter(project_id=membership.project_id, role=Role.ADMIN).exclude(pk=membership.pk)
    if not others.exists():
        raise LastAdminError(f"{membership.user.get_username()} is the last admin of {membership.project.slug}; "
                             f"{RULE}")


def change_role(membership: Membership, role: str) -> str:
    """Give ``membership`` the role ``role``; returns the old role."""
    with transaction.atomic():
        _check_keeps_an_admin(membership, role)
        old, membership.role = membership.role, role
        if old != role:
            membership.save(update_fields=["role"])
    return old


def remove(membership: Membership) -> None:
    with transaction.atomic():
        _check_keeps_an_admin(membership, None)
        membership.delete()
