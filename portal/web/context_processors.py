"""What every page's layout needs: the project switcher, the navigation for the user's role, and
the timezone form of the user menu.

Navigation shows each role what it may use: viewers look (overview, inventory), members also act
on resources (the buttons live on the resource page) and launch new ones (Launch), project admins manage members (the
project's Members page), staff see everything (providers, quotas, every project's chargeback,
the admin overview, Django admin). Listed pages still check access themselves; hiding a link is
a courtesy, not security.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from metering import access
from metering.choices import Role
from portal.web.forms import COMMON_TIMEZONES, TimezoneForm
from portal.web.selection import selected_project


def _item(request, label: str, url: str, prefix: str | None = None) -> dict:
    path = request.path
    active = path == url if prefix is None else path.startswith(prefix)
    return {"label": label, "url": url, "active": active}


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    project = selected_project(request)
    role = access.role(user, project) if project is not None else ("staff" if user.is_staff else None)
    nav = []
    if user.is_staff:
        nav.append(_item(request, "All projects", reverse("web:home")))
    if project is not None:
        overview = reverse("web:project_overview", args=[project.slug])
        nav.append(_item(request, "Overview", overview))
        statement = reverse("web:project_chargeback", args=[project.slug])
        nav.append(_item(request, "Chargeback", statement, prefix=statement))
        if role in (Role.MEMBER, Role.ADMIN, "staff"):  # viewers look; members and up launch
            nav.append(_item(request, "Launch", reverse("web:launch", args=[project.slug])))
        if role in (Role.ADMIN, "staff"):
            nav.append(_item(request, "Members", reverse("web:project_members", args=[project.slug])))
            nav.append(_item(request, "Reports", reverse("web:project_reports", args=[project.slug])))
    nav.append(_item(request, "Inventory", reverse("web:inventory"), prefix=reverse("web:inventory")))
    nav.append(_item(request, "By label", reverse("web:cost_by_label")))
    nav.append(_item(request, "Recommendations", reverse("web:recommendations")))
    if user.is_staff:
        nav.append(_item(request, "Providers", reverse("web:provider_list"), prefix=reverse("web:provider_list")))
        nav.append(_item(request, "Quotas", reverse("web:quota_list"), prefix=reverse("web:quota_list")))
        nav.append(_item(request, "All chargeback", reverse("web:chargeback_overview")))
        nav.append(_item(request, "Admin overview", reverse("web:admin_overview")))
        nav.append({"label": "Django admin", "url": reverse("admin:index"), "active": False})
    return {
        "nav": nav,
        "switcher_projects": list(access.visible_projects(user).order_by("slug").only("slug", "name")),
        "current_project": project,
        "current_role": role,
        "timezone_form": TimezoneForm(initial={"timezone": timezone.get_current_timezone_name(),
                                               "next": request.get_full_path()}),
        "common_timezones": COMMON_TIMEZONES,
    }
