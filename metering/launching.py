"""What a project member may launch: the provider accounts serving a project, and what each offers.

An account serves a project when it is enabled, its driver provisions, and either it maps tenants
of its own (Keystone projects: then only the projects mapped to one of them, since a server is
created in the mapped tenant) or it maps none (libvirt, Docker, LXD...: a new resource carries
the project's slug, so it serves every project).

The choices come from the platform each time (``Driver.launch_options``); a platform that cannot
be asked is said once, in its own words, and the form falls back to typed values.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Exists, OuterRef, QuerySet

from metering.models import ExternalProject, Project
from providers.base import Capability, LaunchOptions, ProviderError, one_line
from providers.models import ProviderAccount
from providers.registry import UnknownKind


def can_provision(account: ProviderAccount) -> bool:
    try:
        return Capability.PROVISION in account.driver_class.capabilities
    except UnknownKind:
        return False


def with_tenancy(accounts: QuerySet[ProviderAccount]) -> QuerySet[ProviderAccount]:
    """``accounts``, each saying whether it maps any tenant (``maps_tenants``): ``refusal`` on an
    account that maps none needs no query (the API looks the account up and checks it in one)."""
    return accounts.annotate(maps_tenants=Exists(ExternalProject.objects.filter(account=OuterRef("pk"))))


def refusal(account: ProviderAccount, project, tenants: Iterable | None = None) -> str:
    """Why ``account`` does not serve ``project`` (a sentence), or "" when it does: the one rule the
    launch form, the API and ``quotas.submit``/``preview`` share. ``tenants``: the account's
    tenants as ``(external_id, mapped project id)`` pairs, when the caller already has them."""
    if not account.enabled:
        return f"provider account {account.name!r} is disabled"
    if not can_provision(account):
        return f"provider account {account.name!r} ({account.kind}) cannot provision"
    if tenants is None and getattr(account, "maps_tenants", None) is False:  # found by ``with_tenancy``
        tenants = ()
    if tenants is None:
        tenants = ExternalProject.objects.filter(account=account).values_list("external_id", "project_id")
    mapped = {project_id for _, project_id in tenants if project_id}
    # tenants seen but none mapped (an LXD refresh records its projects): nothing narrows the account yet
    if not mapped or project.pk in mapped:
        return ""
    slugs = sorted(Project.objects.filter(pk__in=mapped).values_list("slug", flat=True))
    return (f"provider account {account.name!r} does not serve project {project.slug!r}: it creates resources "
            f"only in the projects mapped to its tenants ({', '.join(slugs)})")


def serving_accounts(project) -> list[ProviderAccount]:
    """The enabled, provisioning accounts that serve ``project``, by name."""
    tenants: dict[int, list] = {}
    for account_id, external_id, project_id in ExternalProject.objects.values_list(
            "account_id", "external_id", "project_id"):
        tenants.setdefault(account_id, []).append((external_id, project_id))
    return [account for account in ProviderAccount.objects.filter(enabled=True).order_by("name")
            if not refusal(account, project, tenants.get(account.pk, ()))]


def platform_project(account: ProviderAccount, project) -> str:
    """The project as ``account``'s platform knows it: the mapped tenant id (Keystone), else the
    slug. What ``ProvisionSpec.project`` and ``Driver.launch_options(project_ref)`` take."""
    mapped = (ExternalProject.objects.filter(account=account, project=project)
              .order_by("pk").values_list("external_id", flat=True).first())
    return mapped or project.slug


def options_for(account: ProviderAccount, project=None) -> tuple[LaunchOptions | None, str]:
    """``(options, "")``, or ``(None, why)`` when the platform could not be asked. With ``project``,
    the choices are those of the platform's project a launch for it would build in (an OpenStack
    project sees its own networks and the shared ones, not every network the account sees)."""
    try:
        with account.driver() as driver:
            return driver.launch_options(platform_project(account, project) if project is not None else None), ""
    except ProviderError as exc:
        return None, f"{account.name} could not list its images, flavors and networks: {one_line(str(exc))}"
