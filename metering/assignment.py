"""Assigning resources without a project to one, by hand (the inventory page and the API).

An assignment is kept as a ``MappingRule`` scoped to the resource's account, so the next refresh
maps the resource to the same project instead of undoing it: a ``hint`` rule when the provider
names a project reference (every resource with that reference follows), else a ``name`` rule
matching exactly this name. The resource row shows the project at once; the usage ledger splits
its segment at the next refresh, when the collector observes the resource under its new project
(usage is recorded as observed, never assumed backwards).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import transaction
from django.utils.text import slugify

from metering.choices import MappingSource
from metering.models import MappingRule, Project, Resource

MANUAL_PRIORITY = 10  # before label and name-pattern rules someone wrote for whole groups


class AssignmentError(ValueError):
    """What the caller asked cannot be done; the message says what and why."""


@dataclass
class Assigned:
    project: Project
    resources: int  # rows now in the project (including ones that follow the same hint)
    rules: int  # mapping rules created


def assign(resource_ids: list[int], project: Project, queryset=None) -> Assigned:
    """Put ``resource_ids`` in ``project``; ``queryset`` is what the caller may touch (scoped)."""
    if not resource_ids:
        raise AssignmentError("choose at least one resource")
    qs = (queryset if queryset is not None else Resource.objects.all()).select_related("account")
    rows = list(qs.filter(pk__in=resource_ids, deleted_at__isnull=True))
    missing = sorted(set(resource_ids) - {r.pk for r in rows})
    if missing:
        raise AssignmentError(f"no live resource with id {', '.join(map(str, missing))}")
    rules = 0
    touched: set[int] = set()
    with transaction.atomic():
        for row in rows:
            if row.project_hint:
                rule, created = MappingRule.objects.get_or_create(
                    account=row.account, source=MappingSource.HINT, key="", value=row.project_hint,
                    defaults={"project": project, "priority": MANUAL_PRIORITY})
                followers = Resource.objects.filter(account=row.account, project_hint=row.project_hint,
                                                    project__isnull=True, deleted_at__isnull=True)
                touched.update(followers.values_list("pk", flat=True))
            else:
                rule, created = MappingRule.objects.get_or_create(
                    account=row.account, source=MappingSource.NAME, key="", value=f"^{re.escape(row.name)}$",
                    defaults={"project": project, "priority": MANUAL_PRIORITY})
            if not created and rule.project_id != project.pk:
                rule.project = project
                rule.save(update_fields=["project"])
            rules += created
            touched.add(row.pk)
        Resource.objects.filter(pk__in=touched).update(project=project)
    return Assigned(project, len(touched), rules)


def project_for_hint(hint: str) -> Project:
    """The project a provider's hint names, created when it does not exist yet (slug of the hint)."""
    slug = slugify(hint)[:50].strip("-")
    if not slug:
        raise AssignmentError(f"the provider's project reference {hint!r} makes no usable slug")
    project, _ = Project.objects.get_or_create(slug=slug, defaults={"name": hint[:200]})
    return project
