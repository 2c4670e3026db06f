"""Effective limits: the project's own value, else the site default, else unlimited.

A limit has a *scope*: global (``account`` None: counts every provider account the project uses)
or narrowed to one provider account. Site defaults (``QuotaDefault``, like Horizon's Defaults)
fill in only global limits; a project narrows a limit to an account explicitly or not at all, so
an account scope without its own row is unlimited.

Every function here reads in bulk (one query per model), because the admin's project list and
breach detection ask for many projects at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from metering.choices import QuotaKey
from metering.models import UNLIMITED, Quota, QuotaDefault

KEYS: tuple[str, ...] = tuple(k.value for k in QuotaKey)


def defaults() -> dict[str, int]:
    """The site-wide default of every key (unlimited where none is set)."""
    values = dict.fromkeys(KEYS, UNLIMITED)
    values.update(QuotaDefault.objects.values_list("key", "limit"))
    return values


def effective_limits(project, account=None) -> dict[str, int]:
    """Every key's limit in one scope of ``project``: global (``account`` None) or one account."""
    if account is None:
        values = defaults()
        values.update(Quota.objects.filter(project=project, account__isnull=True).values_list("key", "limit"))
        return values
    values = dict.fromkeys(KEYS, UNLIMITED)
    values.update(Quota.objects.filter(project=project, account=account).values_list("key", "limit"))
    return values


def scoped_limits(project_ids: Iterable[int]) -> dict[int, dict[int | None, dict[str, int]]]:
    """``{project_id: {account_id or None: {key: limit}}}`` for every scope that has a limit.

    The global scope is always present (defaults fill it); an account scope appears only where the
    project narrowed at least one key to that account.
    """
    project_ids = list(project_ids)
    base = defaults()
    result: dict[int, dict[int | None, dict[str, int]]] = {pid: {None: dict(base)} for pid in project_ids}
    rows = Quota.objects.filter(project_id__in=project_ids).values_list("project_id", "account_id", "key", "limit")
    for project_id, account_id, key, limit in rows:
        scopes = result[project_id]
        if account_id not in scopes:
            scopes[account_id] = dict.fromkeys(KEYS, UNLIMITED)
        scopes[account_id][key] = limit
    return result


def project_limits(project) -> dict[int | None, dict[str, int]]:
    """``{account_id or None: {key: limit}}``: every scope of one project (see ``scoped_limits``)."""
    return scoped_limits([project.pk])[project.pk]


def explicit_limits(project) -> dict[tuple[int | None, str], int]:
    """The project's own rows only, ``{(account_id, key): limit}`` (no defaults)."""
    grouped: dict[tuple[int | None, str], int] = defaultdict(int)
    for account_id, key, limit in Quota.objects.filter(project=project).values_list("account_id", "key", "limit"):
        grouped[(account_id, key)] = limit
    return dict(grouped)
