"""``refresh [--provider NAME] [--wait]``: refresh accounts now."""

from __future__ import annotations

from django.core.management.base import CommandError

from metering import collector
from metering.tasks import BrokerError, enqueue_refresh
from providers.base import ProviderUnavailable
from providers.management.base import GlasspaneCommand
from providers.models import ProviderAccount


class Command(GlasspaneCommand):
    help = "Refresh one or every enabled provider account now (enqueued, or in this process with --wait)."

    def add_arguments(self, parser):
        parser.add_argument("--provider", metavar="NAME")
        parser.add_argument("--wait", action="store_true", help="refresh in this process and print the summary")

    def handle(self, *args, provider, wait, **opts):
        if provider:
            accounts = list(ProviderAccount.objects.filter(name=provider))
            if not accounts:
                raise self.usage_error(f"--provider {provider!r}: no such provider account")
        else:
            accounts = list(ProviderAccount.objects.filter(enabled=True))
            if not accounts:
                raise self.usage_error("no enabled provider accounts: add one with `provider add`")
        failed = 0
        for account in accounts:
            if not wait:
                try:
                    run = enqueue_refresh(account, trigger="cli")
                except BrokerError as exc:
                    raise CommandError(f"{account.name}: refresh not started: the task queue cannot be reached "
                                       f"({exc})", returncode=1) from None
                self.stdout.write(f"{account.name}: refresh queued (run {run.pk})")
                continue
            try:
                run = collector.refresh(account, trigger="cli")
            except ProviderUnavailable:
                run = account.runs.first()
            account.refresh_from_db()
            counts = ", ".join(f"{k} {v}" for k, v in run.counts.items())
            line = f"{account.name}: {run.status} in {run.duration or 0:.2f}s ({counts})"
            if run.error:
                line += f": {run.error}"
                failed += run.status == "failed"
            self.stdout.write(line)
            for skipped in run.skipped:
                self.stdout.write(f"  skipped: {skipped}")
            for issue in run.issues[:20]:
                self.stdout.write(f"  issue {issue['external_id']}: {issue['message']}")
        if failed:
            raise CommandError(f"{failed} refresh(es) failed", returncode=1)
