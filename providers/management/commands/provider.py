"""``provider add|list|remove``: connect, list and disconnect provider accounts."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from providers import registry
from providers.base import SettingsError
from providers.management.base import GlasspaneCommand, parse_pairs
from providers.models import NAME_VALIDATOR, ProviderAccount


class Command(GlasspaneCommand):
    help = "Add, list or remove provider accounts."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="connect a new account")
        add.add_argument("name")
        add.add_argument("--kind", required=True, help=f"one of: {', '.join(registry.kinds())}")
        add.add_argument("--setting", action="append", metavar="KEY=VALUE", default=[])
        add.add_argument("--credential", action="append", metavar="KEY=VALUE", default=[])
        add.add_argument("--interval", type=int, default=300, help="refresh interval in seconds (>= 10)")
        add.add_argument("--disabled", action="store_true", help="add without scheduling refreshes")
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
        if interval < 10:
            raise self.usage_error(f"--interval {interval}: must be at least 10 seconds")
        try:  # the model field's own bounds (at least 10 s, at most what the column holds)
            ProviderAccount._meta.get_field("refresh_interval").clean(interval, None)
        except ValidationError as exc:
            raise self.usage_error(f"--interval {interval}: {exc.messages[0]}") from None
        try:
            driver_class = registry.driver_class(kind)
        except registry.UnknownKind as exc:
            raise self.usage_error(f"--kind: {exc}") from None
        try:
            settings, credentials = driver_class.validate(
                parse_pairs(setting, "setting"), parse_pairs(credential, "credential")
            )
        except SettingsError as exc:
            field, message = next(iter(exc.errors.items()))
            secret = {s.name for s in driver_class.credentials_schema}
            flag = "--credential" if field in secret else "--setting"
            more = f" (and {len(exc.errors) - 1} more)" if len(exc.errors) > 1 else ""
            raise self.usage_error(f"{flag} {field}: {message}{more}") from None
        with transaction.atomic():
            account = ProviderAccount(
                name=name, kind=kind, settings=settings, refresh_interval=interval, enabled=not disabled
            )
            account.credentials = credentials
            account.save()
        self.stdout.write(f"added {kind} account {name!r} (refresh every {interval}s)")

    def _list(self, format, **_):
        accounts = list(ProviderAccount.objects.all())
        if format == "json":
            self.write_json(
                [
                    {
                        "name": a.name,
                        "kind": a.kind,
                        "enabled": a.enabled,
                        "interval": a.refresh_interval,
                        "settings": a.settings,
                        "health": a.health,
                        "health_message": a.health_message,
                        "last_refresh_finished": a.last_refresh_finished,
                        "last_refresh_counts": a.last_refresh_counts,
                        "last_refresh_error": a.last_refresh_error,
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
            last = a.last_refresh_finished.strftime("%Y-%m-%d %H:%M:%SZ") if a.last_refresh_finished else "never"
            rows.append(
                (a.name, a.kind, "yes" if a.enabled else "no", f"{a.refresh_interval}s", a.health, last,
                 (a.health_message or "")[:80])
            )
        widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
        for row in rows:
            self.stdout.write("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())

    def _remove(self, name, **_):
        deleted, _ = ProviderAccount.objects.filter(name=name).delete()
        if not deleted:
            raise self.usage_error(f"name {name!r}: no such provider account")
        self.stdout.write(f"removed account {name!r} and its inventory")
