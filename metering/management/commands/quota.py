"""``quota show SLUG``, ``quota set SLUG key=value ...``, ``quota push SLUG`` and
``quota defaults [key=value ...]``.

Every change goes through ``metering.quotas.set_limits``/``set_defaults`` (source ``cli``), so it is
validated and audited like an edit in the admin or the portal. After a change the project's usage
is shown, with what is now over its limit. ``set`` and ``push`` write the limits to the provider
projects the project is mapped to at once (``pushdown.push``) and report each; when a provider
refuses or cannot be reached the command exits 2 with one line carrying the provider's own message
(the limit stays saved in Glasspane; the push is recorded and retried, see ``pushdown``).
"""

from __future__ import annotations

from django.utils import timezone

from metering.choices import ChangeSource
from metering.models import Project
from metering.quotas import QuotaValueError, project_usage, pushdown, set_defaults, set_limits
from metering.quotas.limits import defaults
from metering.quotas.usage import number
from providers.management.base import GlasspaneCommand
from providers.models import ProviderAccount


def _pairs(command, pairs: list[str]) -> dict[str, str]:
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise command.usage_error(f"{pair!r}: expected key=value (keys: vms, containers, vcpus, ram_mb, "
                                      f"disk_gb, volumes, budget; -1 = unlimited)")
        values[key.strip()] = value.strip()
    return values


def _limit(value: int) -> str:
    return "unlimited" if value == -1 else str(value)


def _retry(result) -> str:
    if result.next_retry_at is None:
        return "not retried: run `quota push` once the cause is fixed"
    at = timezone.localtime(result.next_retry_at)
    return f"next retry {at:%H:%M} {at.tzname()}"


class Command(GlasspaneCommand):
    help = "Show or set a project's limits, or the site-wide defaults (-1 = unlimited)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        show = sub.add_parser("show", help="a project's limits and usage")
        show.add_argument("slug")
        show.add_argument("--account", metavar="NAME", help="the limits narrowed to this provider account")
        show.add_argument("--format", choices=["table", "json"], default="table")
        put = sub.add_parser("set", help="set limits: key=value ... (-1 unlimited, 'default' removes)")
        put.add_argument("slug")
        put.add_argument("pairs", nargs="+", metavar="key=value")
        put.add_argument("--account", metavar="NAME", help="narrow the limits to this provider account")
        put.add_argument("--format", choices=["table", "json"], default="table")
        again = sub.add_parser("push", help="write the project's limits to the provider projects it is mapped to")
        again.add_argument("slug")
        dflt = sub.add_parser("defaults", help="show or set the site-wide defaults")
        dflt.add_argument("pairs", nargs="*", metavar="key=value")
        dflt.add_argument("--format", choices=["table", "json"], default="table")

    def handle(self, *args, action, **opts):
        if action == "defaults":
            return self._defaults(opts["pairs"], opts["format"])
        project = Project.objects.filter(slug=opts["slug"]).first()
        if project is None:
            raise self.usage_error(f"slug {opts['slug']!r}: no such project")
        if action == "push":
            return self._push(project, report_unmapped=True)
        account = None
        if opts["account"]:
            account = ProviderAccount.objects.filter(name=opts["account"]).first()
            if account is None:
                raise self.usage_error(f"--account {opts['account']!r}: no such provider account")
        if action == "set":
            try:
                audits = set_limits(project, _pairs(self, opts["pairs"]), user=None, source=ChangeSource.CLI,
                                    account=account, push=False)
            except QuotaValueError as exc:
                field, message = next(iter(exc.errors.items()))
                raise self.usage_error(f"{field}: {message}") from None
            if opts["format"] == "table":
                for audit in audits:
                    old = "default" if audit.old is None else _limit(audit.old)
                    new = "default" if audit.new is None else _limit(audit.new)
                    self.stdout.write(f"{audit.key}: {old} -> {new}")
                if not audits:
                    self.stdout.write("nothing changed")
            self._show(project, account, opts["format"])
            if any(a.key in pushdown.pushable_keys() for a in audits):
                self._push(project, quiet=opts["format"] == "json")
            return
        self._show(project, account, opts["format"])

    def _push(self, project, report_unmapped: bool = False, quiet: bool = False) -> None:
        """Push now; print what each provider project holds; one line and exit 2 if any failed."""
        if report_unmapped and not pushdown.mappings(project).exists():
            self.stdout.write(f"{project.slug} is not mapped to a provider project that holds quotas: nothing to push")
            return
        results = pushdown.push(project)
        for result in results:
            if result.ok and not quiet:
                held = " ".join(f"{k}={_limit(v)}" for k, v in sorted(result.applied.items()) if k in result.limits)
                self.stdout.write(f"pushed to {result.target}: {held}")
        failed = [r for r in results if not r.ok]
        if failed:
            raise self.usage_error("; ".join(
                f"{r.pushed} saved in Glasspane but not applied on {r.target}: {r.error} ({_retry(r)})"
                for r in failed))
    def _show(self, project, account, fmt) -> None:
        usage = project_usage(project, account)
        if fmt == "json":
            self.write_json({"project": project.slug, "account": account.name if account else None,
                             "quotas": [u.as_dict() for u in usage.values()]})
            return
        scope = f" on {account.name}" if account else ""
        self.stdout.write(f"{project.slug}{scope}")
        rows = [("KEY", "LIMIT", "USED", "RESERVED", "AVAILABLE", "")]
        for u in usage.values():
            rows.append((u.key, _limit(u.limit), str(number(u.used)), str(number(u.reserved)),
                         "-" if u.unlimited else str(number(u.available)), "OVER" if u.over else ""))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for row in rows:
            self.stdout.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        over = [u for u in usage.values() if u.over]
        for u in over:
            self.stdout.write(f"now over: {u.key} uses {number(u.in_use)} of {u.limit}")

    def _defaults(self, pairs, fmt) -> None:
        if pairs:
            try:
                audits = set_defaults(_pairs(self, pairs), user=None, source=ChangeSource.CLI)
            except QuotaValueError as exc:
                field, message = next(iter(exc.errors.items()))
                raise self.usage_error(f"{field}: {message}") from None
            if fmt == "table":
                for audit in audits:
                    old = "unlimited" if audit.old is None else _limit(audit.old)
                    new = "unlimited" if audit.new is None else _limit(audit.new)
                    self.stdout.write(f"default {audit.key}: {old} -> {new}")
        values = defaults()
        if fmt == "json":
            self.write_json(values)
            return
        for key, value in values.items():
            self.stdout.write(f"{key:<12} {_limit(value)}")
