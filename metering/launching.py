"""What a project member may launch: the provider accounts serving a project, and what each offers.

An account serves a project when it is enabled, its driver provisions, and either it maps tenants
of its own (Keystone projects: then only the projects mapped to one of them, since a server is
created in the mapped tenant) or it maps none (libvirt, Docker, LXD...: a new resource carries
the project's slug, so it serves every project).

The choices come from the platform each time (``Driver.launch_options``); a platform that cannot
be asked is said once, in its own words, and the form falls back to typed values.
"""

from __future__ import annotations

from metering.models import ExternalProject
from providers.base import Capability, LaunchOptions, ProviderError, one_line
from providers.models import ProviderAccount
from providers.registry import UnknownKind


def can_provision(account: ProviderAccount) -> bool:
    try:
        return Capability.PROVISION in account.driver_class.capabilities
    except UnknownKind:
        return False


def serving_accounts(project) -> list[ProviderAccount]:
    """The enabled, provisioning accounts that serve ``project``, by name."""
    mapping = set(ExternalProject.objects.values_list("account_id", flat=True).distinct())
    mapped_here = set(ExternalProject.objects.filter(project=project).values_list("account_id", flat=True))
    return [account for account in ProviderAccount.objects.filter(enabled=True).order_by("name")
            if can_provision(account) and (account.pk not in mapping or account.pk in mapped_here)]


def options_for(account: ProviderAccount) -> tuple[LaunchOptions | None, str]:
    """``(options, "")``, or ``(None, why)`` when the platform could not be asked."""
    try:
        with account.driver() as driver:
            return driver.launch_options(), ""
    except ProviderError as exc:
        return None, f"{account.name} could not list its images, flavors and networks: {one_line(str(exc))}"
