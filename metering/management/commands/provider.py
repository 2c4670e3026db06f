"""``provider add|edit|test|list|remove``: connect, change, test, list and disconnect provider accounts.

Settings and credentials go through ``ProviderAccount.configure``, like the admin, the portal and
the API: ``edit`` keeps the stored settings and credentials it is not given, except that a new
endpoint (``--setting uri=...``, ``auth_url``, ``base_url``) drops the stored credentials and
asks for them again. It lives with the collector because ``list`` shows the collector's state
(``CollectionState``) beside each account.

``test`` (and ``add --test``) checks settings and credentials against the provider without saving
(``providers.connection_check``, as the portal's Test connection button): one line saying what it
found, exit status 0; or the provider's error, exit status 1."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.db import transaction

from metering.models import CollectionState
from providers import connection_check, registry
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
        add.add_argument("--test", action="store_true",
                         help="test the connection first; add the account only if it works")
        test = sub.add_parser("test", help="test a connection without saving anything")
        test.add_argument("name", nargs="?", help="a saved account (its stored settings, changed by the options)")
        test.add_argument("--kind", help="test an account that is not saved: its kind")
        test.add_argument("--setting", action="append", metavar="KEY=VALUE", default=[])
        test.add_argument("--credential", action="append", metavar="KEY=VALUE", default=[],
                          help="KEY= (empty) leaves the stored credential out of the test")
        test.add_argument("--timeout", type=float, help="seconds to wait for the provider (default: "
                                                          "GLASSPANE_CONNECTION_CHECK_TIMEOUT)")
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

    def _add(self, name, kind, setting, credential, interval, disabled, test=False, **_):
        try:
            NAME_VALIDATOR(name)
        except Exception as exc:  # noqa: BLE001 - ValidationError carries the message
            raise self.usage_error(f"name {name!r}: {exc.messages[0]}") from None
        if ProviderAccount.objects.filter(name=name).exists():
            raise self.usage_error(f"name {name!r}: an account with this name already exists")
        self._check_interval(interval)
        account = ProviderAccount(name=name, kind=kind, refresh_interval=interval, enabled=not disabled)
        if test:
            result = self._run_check(kind, parse_pairs(setting, "setting"), parse_pairs(credential, "credential"))
            if not result.ok:
                raise CommandError(f"not added: {self._phrase(result)}", returncode=1)
            self.stdout.write(self._phrase(result))
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

    def _test(self, name, kind, setting, credential, timeout, **_):
        if timeout is not None and not 0 < timeout <= 600:
            raise self.usage_error(f"--timeout {timeout:g}: must be more than 0 and at most 600 seconds")
        account = None
        if name:
            if kind:
                raise self.usage_error("--kind: give a saved account's name or --kind, not both")
            account = ProviderAccount.objects.filter(name=name).first()
            if account is None:
                raise self.usage_error(f"name {name!r}: no such provider account")
        elif not kind:
            raise self.usage_error("give a saved account's name, or --kind with --setting and --credential")
        settings = parse_pairs(setting, "setting")
        if account is not None:
            settings = {k: v for k, v in {**account.settings, **settings}.items() if v != ""}
        credentials = {k: v or None for k, v in parse_pairs(credential, "credential").items()}
        result = self._run_check(kind, settings, credentials, account=account, timeout=timeout)
        if not result.ok:
            raise CommandError(self._phrase(result), returncode=1)
        self.stdout.write(self._phrase(result))

    def _run_check(self, kind, settings, credentials, account=None, timeout=None):
        """``connection_check.check``; bad settings are a usage error naming the flag, as for a save."""
        try:
            return connection_check.check(kind, settings, credentials, account=account, timeout=timeout)
        except ConfigurationError as exc:
            raise self._usage(exc) from None

    @staticmethod
    def _phrase(result) -> str:
        if result.ok:
            return f"ok: {result.message}"
        return f"{result.problem_label.lower()} ({result.problem}): {result.message}"

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
            raise self._usage(exc) from None

    def _usage(self, exc: ConfigurationError):
        """A configuration error as one usage line naming the flag (and how many more there are)."""
        if exc.kind:
            return self.usage_error(f"--kind: {exc.kind}")
        errors = [("--setting", k, v) for k, v in exc.settings.items()]
        errors += [("--credential", k, v) for k, v in exc.credentials.items()]
        flag, field, message = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return self.usage_error(f"{flag} {field}: {message}{more}")

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
