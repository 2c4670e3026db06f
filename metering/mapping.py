"""Which project a found resource belongs to.

Order, first match wins: explicit ``hint`` rules; the provider's own tenant mapped through
``ExternalProject`` (a Keystone project linked to a Glasspane project); a hint that is a project's
slug (libvirt metadata, the Docker ``glasspane.project`` label); then label and name-pattern rules
by priority. Otherwise the resource is unassigned.
"""

from __future__ import annotations

from django.db.models import Q
from django.utils.text import slugify

from metering.choices import MappingSource
from metering.models import ExternalProject, MappingRule, Project
from providers.base import ObservedProject, ObservedResource


class ProjectMapper:
    def __init__(self, account):
        rules = list(MappingRule.objects.filter(Q(account=account) | Q(account__isnull=True)).order_by("priority", "id"))
        self.hint_rules = [r for r in rules if r.source == MappingSource.HINT]
        self.other_rules = [r for r in rules if r.source != MappingSource.HINT]
        self.by_slug = dict(Project.objects.values_list("slug", "id"))
        self.by_external = dict(
            ExternalProject.objects.filter(account=account, project__isnull=False).values_list("external_id", "project_id")
        )

    def project_id(self, found: ObservedResource) -> int | None:
        hint = found.project_hint
        labels = dict(found.labels)
        for rule in self.hint_rules:
            if rule.matches(found.name, hint, labels):
                return rule.project_id
        if hint:
            if hint in self.by_external:
                return self.by_external[hint]
            if hint in self.by_slug:
                return self.by_slug[hint]
        for rule in self.other_rules:
            if rule.matches(found.name, hint, labels):
                return rule.project_id
        return None


def sync_external_projects(account, observed: list[ObservedProject], facts: dict, at, auto_create: bool,
                           quotas=None) -> int:
    """Record the provider's tenants, their facts and their own limits (``Inventory.quotas``, our
    keys); create Glasspane projects when asked.

    Returns how many projects were created.
    """
    quotas = quotas or {}
    if not observed and not facts and not quotas:
        return 0
    existing = {e.external_id: e for e in ExternalProject.objects.filter(account=account)}
    created = 0
    to_create, to_update = [], []
    names = {p.external_id: p for p in observed}
    for ext_id in set(names) | set(facts) | set(quotas):
        found = names.get(ext_id)
        row = existing.get(ext_id)
        if row is None:
            row = ExternalProject(account=account, external_id=ext_id)
            to_create.append(row)
        else:
            to_update.append(row)
        if found is not None:
            row.name = found.name
        row.facts = dict(facts.get(ext_id, row.facts or {}))
        if ext_id in quotas:
            row.quotas = {key: {"limit": None if r.limit is None else int(r.limit),
                                "used": None if r.used is None else str(r.used)}
                          for key, r in quotas[ext_id].items()}
        row.last_seen = at
        if row.project_id is None and auto_create and found is not None:
            same = Project.objects.filter(slug=slugify(found.name)).first() if found.name else None
            if same is not None and not ExternalProject.objects.filter(project=same, account=account).exists():
                row.project = same  # a Glasspane project of that name already exists: link it
            else:
                slug = _free_slug(found.name or ext_id)
                row.project = Project.objects.create(slug=slug, name=found.name or slug,
                                                     description=found.description)
                created += 1
    ExternalProject.objects.bulk_create(to_create, batch_size=500)
    ExternalProject.objects.bulk_update(to_update, ["name", "facts", "quotas", "last_seen", "project"], batch_size=500)
    return created


def _free_slug(name: str) -> str:
    base = (slugify(name) or "project")[:55].strip("-") or "project"
    slug, n = base, 1
    while Project.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug
