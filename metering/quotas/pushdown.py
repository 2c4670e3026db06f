"""Pushing Glasspane's limits down to OpenStack, and comparing the two (drift).

A Glasspane project mapped to a Keystone project (``ExternalProject.project`` on an account of kind
``openstack``, or of any kind whose driver declares the ``apply_quota`` capability) gets its limits written to Nova's and Cinder's quota-sets whenever they change, by
a Celery task retried while the cloud is unavailable. What is pushed for each key is the tighter
of the global limit and the limit narrowed to that account (-1 = unlimited on both sides).

``drift(project)`` compares, per mapped tenant and key, what OpenStack holds (its quota-set and
its own usage, as the driver stored them in ``ExternalProject.facts`` at the last refresh) with
Glasspane's limit and counted usage, for the quota page.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from metering.models import UNLIMITED, ExternalProject, Project, Quota, QuotaDefault
from metering.quotas.limits import PUSHABLE, effective_limits
from metering.quotas.usage import number, project_usage
from providers import registry
from providers.base import Capability

#: our key -> (facts section, OpenStack quota key, where OpenStack reports usage)
FACTS = {
    "vms": ("compute_quota", "instances", ("compute_limits", "totalInstancesUsed")),
    "vcpus": ("compute_quota", "cores", ("compute_limits", "totalCoresUsed")),
    "ram_mb": ("compute_quota", "ram", ("compute_limits", "totalRAMUsed")),
    "volumes": ("volume_quota", "volumes", ("volume_quota", "volumes")),
    "disk_gb": ("volume_quota", "gigabytes", ("volume_quota", "gigabytes")),
}


def quota_kinds() -> list[str]:
    """Provider kinds whose driver can take quotas (``openstack`` among the built-in ones)."""
    return [k for k in registry.kinds() if Capability.APPLY_QUOTA in registry.driver_class(k).capabilities]


def mappings(project: Project):
    """The tenants ``project`` is mapped to on accounts that take quotas."""
    return (ExternalProject.objects.filter(project=project, account__kind__in=quota_kinds())
            .select_related("account").order_by("account__name", "external_id"))


def tighter(a: int, b: int) -> int:
    if a == UNLIMITED:
        return b
    if b == UNLIMITED:
        return a
    return min(a, b)


def set_keys(project: Project, account) -> set[str]:
    """The pushable keys Glasspane sets for ``project`` on ``account``: a limit of the project's own
    (global or narrowed to the account) or a site default. Only these are pushed; the cloud keeps
    its own limit for every other key."""
    own = Quota.objects.filter(project=project).filter(Q(account__isnull=True) | Q(account=account))
    keys = set(own.values_list("key", flat=True)) | set(QuotaDefault.objects.values_list("key", flat=True))
    return keys & set(PUSHABLE)


def limits_for(project: Project, account) -> dict[str, int]:
    """What OpenStack should enforce for ``project`` on ``account``: the keys Glasspane sets only."""
    overall, narrowed = effective_limits(project), effective_limits(project, account)
    return {key: tighter(overall[key], narrowed[key]) for key in PUSHABLE if key in set_keys(project, account)}


def push(project: Project) -> dict[str, dict]:
    """Write the limits to every mapped tenant; ``{account/tenant: what OpenStack now has}``.

    Raises the driver's ``ProviderError`` (the task retries ``ProviderUnavailable``).
    """
    result = {}
    for mapping in mappings(project):
        with mapping.account.driver() as driver:
            applied = driver.apply_quota(mapping.external_id, limits_for(project, mapping.account))
        result[f"{mapping.account.name}/{mapping.external_id}"] = dict(applied)
    return result


def queue_push(project: Project) -> bool:
    """Queue a push-down when ``project`` is mapped to OpenStack; whether one was queued."""
    if not mappings(project).exists():
        return False
    from metering.quotas.tasks import push_quotas

    push_quotas.delay(project.pk)
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
    """One key of one mapped tenant: Glasspane's limit and usage beside OpenStack's."""

    account: str
    external_id: str
    key: str
    limit: int
    openstack_limit: int | None  # None: OpenStack has not reported it yet
    used: object
    openstack_used: object | None
    managed: bool = True  # False: Glasspane sets no limit for this key, the cloud's own stands

    @property
    def limit_differs(self) -> bool:
        return self.managed and self.openstack_limit is not None and self.openstack_limit != self.limit

    @property
    def usage_differs(self) -> bool:
        return self.openstack_used is not None and number(self.openstack_used) != number(self.used)

    def as_dict(self) -> dict:
        return {"account": self.account, "external_id": self.external_id, "key": self.key,
                "limit": self.limit, "openstack_limit": self.openstack_limit,
                "used": number(self.used), "openstack_used": self.openstack_used,
                "limit_differs": self.limit_differs, "usage_differs": self.usage_differs,
                "managed": self.managed}


def _limit_of(value) -> int | None:
    """A quota-set entry: a number, or ``{"limit": n, "in_use": m}`` when read with usage."""
    if isinstance(value, dict):
        value = value.get("limit")
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _used_of(facts: dict, where: tuple[str, str]):
    section, name = where
    value = (facts.get(section) or {}).get(name)
    if isinstance(value, dict):
        value = value.get("in_use")
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def drift(project: Project) -> list[Drift]:
    """Per mapped OpenStack tenant and pushable key, what each side holds (see module doc)."""
    rows = []
    for mapping in mappings(project):
        ours = limits_for(project, mapping.account)
        usage = project_usage(project, mapping.account, budget=False)
        facts = mapping.facts or {}
        neutral = facts.get("quotas")  # a driver's own limits already in our keys (Kubernetes)
        for key in PUSHABLE:
            if isinstance(neutral, dict):
                reading = neutral.get(key) or {}
                their_limit, their_used = _limit_of(reading.get("limit")), reading.get("used")
            else:
                section, name, used_at = FACTS[key]
                their_limit = _limit_of((facts.get(section) or {}).get(name))
                their_used = _used_of(facts, used_at)
            rows.append(Drift(
                account=mapping.account.name, external_id=mapping.external_id, key=key,
                limit=ours.get(key, UNLIMITED), openstack_limit=their_limit, used=usage[key].used,
                openstack_used=their_used, managed=key in ours,
            ))
    return rows
