"""Configuring a provider account: the one service Django admin, the portal form, the API and the
``provider`` command call (``ProviderAccount.configure``).

It validates settings and credentials through the driver, reports settings errors apart from
credentials errors, and decides which stored credentials survive an edit:

* a credential given with a value replaces the stored one; given blank (an empty form field) or
  not given, the stored one is kept; given as ``None`` it is removed;
* when the kind or a setting the driver marks as an endpoint (``Setting.endpoint``: where the
  account connects, e.g. ``auth_url``, ``base_url``, ``uri``) changes, no stored credential
  survives, and each one that was stored must be entered again: credentials never follow a
  changed endpoint to a host somebody else controls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from providers import crypto, registry
from providers.base import SettingsError

if TYPE_CHECKING:
    from providers.models import ProviderAccount


class ConfigurationError(ValueError):
    """Bad settings or credentials, each mapping a field name to a message."""

    def __init__(self, settings: Mapping[str, str] | None = None, credentials: Mapping[str, str] | None = None,
                 kind: str = ""):
        self.settings, self.credentials, self.kind = dict(settings or {}), dict(credentials or {}), kind
        parts = [f"{name}: {msg}" for name, msg in {**self.settings, **self.credentials}.items()]
        super().__init__("; ".join(([f"kind: {kind}"] if kind else []) + parts))

    @property
    def errors(self) -> dict[str, dict[str, str] | str]:
        """``{"settings": {...}, "credentials": {...}, "kind": "..."}``, leaving out what is fine."""
        out: dict[str, Any] = {}
        if self.kind:
            out["kind"] = self.kind
        if self.settings:
            out["settings"] = self.settings
        if self.credentials:
            out["credentials"] = self.credentials
        return out


def _stored(account: ProviderAccount) -> tuple[str, dict, dict]:
    """The kind, settings and credentials as saved (not as the caller may have changed them)."""
    if account.pk is None:
        return "", {}, {}
    row = type(account).objects.filter(pk=account.pk).values("kind", "settings", "credentials_encrypted").first()
    if row is None:
        return "", {}, {}
    return row["kind"], row["settings"] or {}, crypto.decrypt(row["credentials_encrypted"])


def configure(account: ProviderAccount, *, kind: str | None = None, settings: Mapping[str, Any] | None = None,
              credentials: Mapping[str, Any] | None = None, save: bool = True) -> ProviderAccount:
    """Validate and set ``account``'s kind, settings and credentials; save it unless ``save=False``.

    ``settings=None`` keeps the stored settings; ``credentials`` follows the module's rules.
    Raises ``ConfigurationError``.
    """
    old_kind, old_settings, old_credentials = _stored(account)
    kind = kind or account.kind or old_kind
    try:
        driver_class = registry.driver_class(kind)
    except registry.UnknownKind as exc:
        raise ConfigurationError(kind=str(exc)) from None
    if settings is None:
        settings = old_settings
    if not isinstance(settings, Mapping):
        raise ConfigurationError(settings={"settings": "must be a mapping of name: value"})
    given = dict(credentials or {})
    moved = _moved(driver_class, old_kind, kind, old_settings, settings) if old_kind else []
    kept = {} if moved else dict(old_credentials)
    merged = {**kept, **{k: v for k, v in given.items() if v not in ("",)}}
    merged = {k: v for k, v in merged.items() if v is not None}
    errors: dict[str, str] = {}
    if moved:
        defaults = {s.name: s.default for s in driver_class.credentials_schema}
        for name, value in old_credentials.items():
            if value not in (None, "") and value != defaults.get(name) and name not in merged:
                errors[name] = f"enter it again: {' and '.join(moved)} changed, so the stored value was dropped"
    try:
        clean_settings, clean_credentials = driver_class.validate(settings, merged)
    except SettingsError as exc:
        errors = {**exc.errors, **errors}
        clean_settings = clean_credentials = None
    if errors:
        secret = {s.name for s in driver_class.credentials_schema} | set(given)
        raise ConfigurationError(
            settings={k: v for k, v in errors.items() if k not in secret},
            credentials={k: v for k, v in errors.items() if k in secret})
    account.kind, account.settings = kind, clean_settings
    account.credentials = clean_credentials
    if save:
        account.save()
    return account


def _moved(driver_class, old_kind: str, kind: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What makes the account connect somewhere else: a new kind, or changed endpoint settings."""
    if old_kind != kind:
        return ["kind"]
    changed = []
    for spec in driver_class.settings_schema:
        if spec.endpoint:
            before, after = old.get(spec.name), new.get(spec.name)
            if str(before if before is not None else "").strip() != str(after if after is not None else "").strip():
                changed.append(spec.name)
    return changed
