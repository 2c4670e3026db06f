"""Changing limits and site defaults: validated, audited, pushed down to providers' own quotas.

Every way of editing a limit (the Django admin, the portal's quota page, the API, the ``quota``
command) goes through ``set_limits`` or ``set_defaults``, so validation and the audit trail are
the same everywhere. A value is an integer >= -1 (-1 = unlimited); ``None`` removes the project's
own value (the site default applies again). Setting a limit below current usage is allowed: the
save re-evaluates breaches at once (``breaches.reevaluate``), so a breach opens or closes with the
change itself, whichever of the four ways made it.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import transaction

from metering.choices import ChangeSource
from metering.models import UNLIMITED, Project, Quota, QuotaAudit, QuotaDefault
from metering.quotas import breaches
from metering.quotas.limits import KEYS
from metering.quotas.pushdown import pushable_keys, queue_push, queue_push_for_defaults

#: the largest limit: what the API documents (2**62) and a 64-bit column holds with room to add usage
MAX_LIMIT = 2**62


class QuotaValueError(ValueError):
    """Bad limits; ``errors`` maps each bad field (a key, or ``account``) to a message."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{field}: {message}" for field, message in self.errors.items()))


def clean_value(key: str, raw) -> int | None:
    """One limit as an ``int`` >= -1, or ``None`` (remove); raises ``ValueError`` with the reason."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise ValueError(f"must be a whole number, -1 (unlimited) or more, got {raw!r}")
    if isinstance(raw, int):
        value = raw
    else:
        text = str(raw).strip().lower()
        if text in ("unlimited", "inf"):
            return UNLIMITED
        if text in ("", "default", "none"):
            return None
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"must be a whole number, -1 (unlimited) or more, got {raw!r}") from None
    if value < UNLIMITED:
        raise ValueError(f"must be -1 (unlimited) or more, got {value}")
    if value > MAX_LIMIT:
        raise ValueError(f"must be at most {MAX_LIMIT} (or -1, unlimited), got {value}")
    return value


def clean_values(values: Mapping[str, object]) -> dict[str, int | None]:
    """Validate every pair; raise ``QuotaValueError`` naming every bad key at once."""
    errors, cleaned = {}, {}
    for key, raw in values.items():
        if key not in KEYS:
            errors[key] = f"unknown quota key (known: {', '.join(KEYS)})"
            continue
        try:
            cleaned[key] = clean_value(key, raw)
        except ValueError as exc:
            errors[key] = str(exc)
    if errors:
        raise QuotaValueError(errors)
    return cleaned


def _check_source(source: str) -> None:
    if source not in ChangeSource.values:
        raise QuotaValueError({"source": f"unknown change source {source!r} (known: {', '.join(ChangeSource.values)})"})


def _user(user):
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def set_limits(project: Project, values: Mapping[str, object], *, user, source: str, account=None,
               push: bool = True) -> list[QuotaAudit]:
    """Set ``project``'s limits (global, or narrowed to ``account``); one audit row per change.

    Unchanged values write nothing. The project row is written first, which serialises this with
    admissions of the same project (see ``metering.quotas.admission``). When a limit a provider
    can hold changes for a project mapped to such a provider, a push-down task is queued after commit
    (``push=False``: the caller pushes itself and reports the outcome, as the ``quota`` command does).
    """
    _check_source(source)
    cleaned = clean_values(values)
    with transaction.atomic():
        Project.objects.filter(pk=project.pk).update(slug=project.slug)  # the per-project write lock
        rows = {q.key: q for q in Quota.objects.filter(project=project, account=account, key__in=list(cleaned))}
        changes = _apply(rows, cleaned, lambda key, limit: Quota.objects.create(
            project=project, account=account, key=key, limit=limit), ["limit", "updated_at"])
        audits = [QuotaAudit(project=project, account=account, key=key, old=old, new=new,
                             changed_by=_user(user), source=source) for key, old, new in changes]
        QuotaAudit.objects.bulk_create(audits)
        if audits:
            breaches.reevaluate([project.pk])
        if push and any(a.key in pushable_keys() for a in audits):
            transaction.on_commit(lambda: queue_push(project))
    return audits


def _apply(rows: dict, cleaned: Mapping[str, int | None], create, update_fields: list[str]) -> list[tuple]:
    """Write ``cleaned`` over the existing ``rows`` (by key): create, change or delete (``None``).

    Returns ``(key, old, new)`` for each value that changed, for the audit.
    """
    changes = []
    for key, new in cleaned.items():
        row = rows.get(key)
        old = row.limit if row is not None else None
        if old == new:
            continue
        if new is None:
            row.delete()
        elif row is None:
            create(key, new)
        else:
            row.limit = new
            row.save(update_fields=update_fields)
        changes.append((key, old, new))
    return changes


def set_defaults(values: Mapping[str, object], *, user, source: str) -> list[QuotaAudit]:
    """Set site-wide defaults (``None`` removes one: unlimited); audited with an empty project.

    Projects that rely on a changed default and are mapped to a provider that holds quotas get their limits pushed.
    """
    _check_source(source)
    cleaned = clean_values(values)
    with transaction.atomic():
        rows = {d.key: d for d in QuotaDefault.objects.select_for_update().filter(key__in=list(cleaned))}
        changes = _apply(rows, cleaned, lambda key, limit: QuotaDefault.objects.create(key=key, limit=limit),
                         ["limit"])
        audits = [QuotaAudit(project=None, key=key, old=old, new=new, changed_by=_user(user), source=source)
                  for key, old, new in changes]
        QuotaAudit.objects.bulk_create(audits)
        if audits:
            breaches.reevaluate(Project.objects.values_list("pk", flat=True))
        changed = [a.key for a in audits if a.key in pushable_keys()]
        if changed:
            transaction.on_commit(lambda: queue_push_for_defaults(changed))
    return audits
