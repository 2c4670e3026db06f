"""Who may manage a project's report subscriptions and budget alerts: its admins and staff; a
subscription for every project is staff's alone. One rule for the page, the API and the admin."""

from __future__ import annotations

from metering import access
from metering.choices import Role


def may_manage(user, project) -> bool:
    if project is None:
        return bool(user.is_staff)
    return bool(user.is_staff) or access.has_role(user, project, Role.ADMIN)


def manageable_subscriptions(user):
    from metering.models import ReportSubscription

    return access.scope(ReportSubscription.objects.select_related("project"), user, at_least=Role.ADMIN)
