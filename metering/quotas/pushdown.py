"""Pushing Glasspane's limits down to the providers' own quotas, and comparing the two (drift).

The provider-neutral contract (``providers.base.Driver``): a driver that can hold limits declares
which of our keys it maps (``quota_keys``), reads them (``read_quotas``, and ``Inventory.quotas``
at every refresh, stored on ``ExternalProject.quotas``) and applies them (``apply_quota``). Nothing
here knows a provider's field names.

A Glasspane project mapped to a provider project (``ExternalProject.project`` on an account whose
driver declares ``quota_keys``) gets its limits written whenever they change, by a Celery task
retried while the provider is unavailable. Only the keys set in Glasspane (the project's own value,
narrowed or global, or a site default) are pushed: a key set nowhere leaves the provider's own limit
as the operator set it. Where both a global and a narrowed limit are set, the tighter one is pushed.

``drift(project)`` compares, per mapped project and key, what the provider holds (its limit and its
own usage, as read at the last refresh) with Glasspane's limit and counted usage, for the quota page.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from metering.handoff import task
from metering.models import UNLIMITED, ExternalProject, Project, Quota, QuotaDefault
from metering.quotas.usage import number, project_usage
from providers import registry


def quota_kinds() -> list[str]:
    """Provider kinds whose driver holds limits of its own (``openstack`` among the built-in ones)."""
    return [k for k in registry.kinds() if registry.driver_class(k).quota_keys]


def pushable_keys() -> frozenset[str]:
    """Every key some installed driver can hold."""
    return frozenset().union(*(registry.driver_class(k).quota_keys for k in quota_kinds()))


def mappings(project: Project):
    """The provider projects ``project`` is mapped to on accounts that hold quotas."""
    return (ExternalProject.objects.filter(project=project, account__kind__in=quota_kinds())
            .select_related("account").order_by("account__name", "external_id"))


def tighter(a: int | None, b: int | None) -> int | None:
    """The tighter of two limits, either of which may be unset (None) or unlimited (-1)."""
    if a is None or a == UNLIMITED:
        return b if b is not None else a
    if b is None or b == UNLIMITED:
        return a
    return min(a, b)


def limits_for(project: Project, account) -> dict[str, int]:
    """What the provider should enforce for ``project`` on ``account``: only the keys set in
    Glasspane (own global value, else the site default; and a value narrowed to ``account``),
    among the keys the account's driver holds."""
    keys = account.driver_class.quota_keys
    overall = dict(QuotaDefault.objects.filter(key__in=keys).values_list("key", "limit"))
    overall.update(Quota.objects.filter(project=project, account__isnull=True, key__in=keys)
                   .values_list("key", "limit"))
    narrowed = dict(Quota.objects.filter(project=project, account=account, key__in=keys).values_list("key", "limit"))
    return {key: tighter(overall.get(key), narrowed.get(key)) for key in sorted(set(overall) | set(narrowed))}


def push(project: Project) -> dict[str, dict]:
    """Write the limits set in Glasspane to every mapped provider project;
    ``{account/project: what the provider now holds}`` (our keys).

    Raises the driver's ``ProviderError`` (the task retries ``ProviderUnavailable``).
    """
    result = {}
    for mapping in mappings(project):
        limits = limits_for(project, mapping.account)
        if not limits:
            continue
        with mapping.account.driver() as driver:
            applied = driver.apply_quota(mapping.external_id, limits)
        result[f"{mapping.account.name}/{mapping.external_id}"] = dict(applied)
    return result


def queue_push(project: Project) -> bool:
    """Queue a push-down when ``project`` is mapped to a provider that holds quotas; whether one was."""
    if not mappings(project).exists():
        return False
    task("metering.push_quotas").delay(project.pk)
    return True


def queue_push_for_defaults(keys: list[str]) -> int:
    """After defaults changed: queue a push for each mapped project relying on one of ``keys``."""
    queued = 0
    for project in Project.objects.filter(external__account__kind__in=quota_kinds()).distinct().iterator():
        own = set(project.quotas.filter(account__isnull=True).values_list("key", flat=True))
        if set(keys) - own:
            queued += queue_push(project)
    return queued


@dataclass(frozen=True)
class Drift:
    """One key of one mapped provider project: Glasspane's limit and usage beside the provider's."""

    account: str
    external_id: str
    key: str
    limit: int | None  # None: not set in Glasspane (the provider's own limit is left alone)
    provider_limit: int | None  # None: the provider has not reported it (yet)
    used: object
    provider_used: object | None

    @property
    def limit_differs(self) -> bool:
        return None not in (self.limit, self.provider_limit) and self.provider_limit != self.limit

    @property
    def usage_differs(self) -> bool:
        return self.provider_used is not None and number(self.provider_used) != number(self.used)

    def as_dict(self) -> dict:
        return {"account": self.account, "external_id": self.external_id, "key": self.key,
                "limit": self.limit, "provider_limit": self.provider_limit,
                "used": number(self.used),
                "provider_used": None if self.provider_used is None else number(self.provider_used),
                "limit_differs": self.limit_differs, "usage_differs": self.usage_differs}


def drift(project: Project) -> list[Drift]:
    """Per mapped provider project and key its driver holds, what each side holds (see module doc)."""
    rows = []
    for mapping in mappings(project):
        ours = limits_for(project, mapping.account)
        usage = project_usage(project, mapping.account)
        theirs = mapping.quotas or {}
        for key in sorted(mapping.account.driver_class.quota_keys):
            reading = theirs.get(key) or {}
            used = reading.get("used")
            rows.append(Drift(
                account=mapping.account.name, external_id=mapping.external_id, key=key, limit=ours.get(key),
                provider_limit=reading.get("limit"), used=usage[key].used,
                provider_used=None if used is None else Decimal(used),
            ))
    return rows
