"""``provider add|edit|list|remove``: connect, change, list and disconnect provider accounts.

Settings and credentials go through ``ProviderAccount.configure``, like the admin, the portal and
the API: ``edit`` keeps the stored settings and credentials it is not given, except that a new
endpoint (``--setting uri=...``, ``auth_url``, ``base_url``) drops the stored credentials and
asks for them again. It lives with the collector because ``list`` shows the collector's state
(``CollectionState``) beside each account."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from metering.models import CollectionState
from providers import registry
from providers.configure import ConfigurationError
from providers.management.base import GlasspaneCommand, parse_pairs
from providers.models import NAME_VALIDATOR, ProviderAccount


class Command(GlasspaneCommand):
    help = "Add, edit, list or remove provider accounts."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="connect a new account")
        add.add_argument("name")
        add.add_argument("--kind", required=True, help=f"one of: {', '.join(registry.kinds())}")
        add.add_argument("--setting", action="append", metavar="KEY=VALUE", default=[])
        add.add_argument("--credential", action="append", metavar="KEY=VALUE", default=[])
        add.add_argument("--interval", type=int, default=300, help="refresh interval in seconds (>= 10)")
        add.add_argument("--disabled", action="store_true", help="add without scheduling refreshes")
        change = sub.add_parser("edit", help="change an account's settings, credentials or schedule")
        change.add_argument("name")
        change.add_argument("--setting", action="append", metavar="KEY=VALUE", default=[],
                            help="KEY= (empty) removes the setting")
        change.add_argument("--credential", action="append", metavar="KEY=VALUE", default=[],
                            help="KEY= (empty) removes the credential")
        change.add_argument("--interval", type=int, help="refresh interval in seconds (>= 10)")
        state = change.add_mutually_exclusive_group()
        state.add_argument("--enabled", dest="enabled", action="store_true", default=None)
        state.add_argument("--disabled", dest="enabled", action="store_false")
        lst = sub.add_parser("list", help="list accounts")
        lst.add_argument("--format", choices=["table", "json"], default="table")
        rm = sub.add_parser("remove", help="disconnect an account and forget its inventory")
        rm.add_argument("name")

    def handle(self, *args, action, **opts):
        return getattr(self, f"_{action}")(**opts)

    def _add(self, name, kind, setting, credential, interval, disabled, **_):
        try:
            NAME_VALIDATOR(name)
        except Exception as exc:  # noqa: BLE001 - ValidationError carries the message
            raise self.usage_error(f"name {name!r}: {exc.messages[0]}") from None
        if ProviderAccount.objects.filter(name=name).exists():
            raise self.usage_error(f"name {name!r}: an account with this name already exists")
        self._check_interval(interval)
        account = ProviderAccount(name=name, kind=kind, refresh_interval=interval, enabled=not disabled)
        with transaction.atomic():
            self._configure(account, kind, parse_pairs(setting, "setting"), parse_pairs(credential, "credential"))
        self.stdout.write(f"added {kind} account {name!r} (refresh every {interval}s)")

    def _edit(self, name, setting, credential, interval, enabled, **_):
        account = ProviderAccount.objects.filter(name=name).first()
        if account is None:
            raise self.usage_error(f"name {name!r}: no such provider account")
        if interval is not None:
            self._check_interval(interval)
            account.refresh_interval = interval
        if enabled is not None:
            account.enabled = enabled
        settings = {**account.settings, **parse_pairs(setting, "setting")}
        credentials = {k: v or None for k, v in parse_pairs(credential, "credential").items()}
        with transaction.atomic():
            self._configure(account, account.kind, {k: v for k, v in settings.items() if v != ""}, credentials)
        self.stdout.write(f"changed {account.kind} account {name!r}")

    def _check_interval(self, interval: int) -> None:
        if interval < 10:
            raise self.usage_error(f"--interval {interval}: must be at least 10 seconds")
        try:  # the model field's own bounds (at least 10 s, at most what the column holds)
            ProviderAccount._meta.get_field("refresh_interval").clean(interval, None)
        except ValidationError as exc:
            raise self.usage_error(f"--interval {interval}: {exc.messages[0]}") from None

    def _configure(self, account, kind, settings, credentials) -> None:
        """``account.configure``, its first error as one usage line naming the flag."""
        try:
            account.configure(settings, credentials, kind=kind)
        except ConfigurationError as exc:
            if exc.kind:
                raise self.usage_error(f"--kind: {exc.kind}") from None
            errors = [("--setting", k, v) for k, v in exc.settings.items()]
            errors += [("--credential", k, v) for k, v in exc.credentials.items()]
            flag, field, message = errors[0]
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise self.usage_error(f"{flag} {field}: {message}{more}") from None

    def _list(self, format, **_):
        accounts = list(ProviderAccount.objects.select_related("collection"))
        states = {a.pk: CollectionState.of(a) for a in accounts}
        if format == "json":
            self.write_json(
                [
                    {
                        "name": a.name,
                        "kind": a.kind,
                        "enabled": a.enabled,
                        "interval": a.refresh_interval,
                        "settings": a.settings,
                        "health": states[a.pk].health,
                        "health_message": states[a.pk].health_message,
                        "last_refresh_finished": states[a.pk].last_refresh_finished,
                        "last_refresh_counts": states[a.pk].last_refresh_counts,
                        "last_refresh_error": states[a.pk].last_refresh_error,
                    }
                    for a in accounts
                ]
            )
            return
        if not accounts:
            self.stdout.write("no provider accounts: add one with `provider add NAME --kind KIND ...`")
            return
        rows = [("NAME", "KIND", "ENABLED", "INTERVAL", "HEALTH", "LAST REFRESH", "MESSAGE")]
        for a in accounts:
            state = states[a.pk]
            last = state.last_refresh_finished.strftime("%Y-%m-%d %H:%M:%SZ") if state.last_refresh_finished else "never"
            rows.append(
                (a.name, a.kind, "yes" if a.enabled else "no", f"{a.refresh_interval}s", state.health, last,
                 (state.health_message or "")[:80])
            )
        widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
        for row in rows:
            self.stdout.write("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())

    def _remove(self, name, **_):
        deleted, _ = ProviderAccount.objects.filter(name=name).delete()
        if not deleted:
            raise self.usage_error(f"name {name!r}: no such provider account")
        self.stdout.write(f"removed account {name!r} and its inventory")
