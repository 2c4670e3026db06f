"""``listen_events [--provider NAME ...]``: record lifecycle events until stopped (see metering.listener)."""

from __future__ import annotations

import signal

from metering.listener import Listener, streams_events
from providers.management.base import GlasspaneCommand
from providers.models import ProviderAccount


class Command(GlasspaneCommand):
    help = "Record the lifecycle events of every event-streaming provider account (libvirt, Docker) until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--provider", metavar="NAME", action="append",
                            help="only this account (repeatable); default: every enabled one")
        parser.add_argument("--rescan", type=float, default=60.0, metavar="SECONDS",
                            help="how often to look for added or removed accounts (default 60)")

    def handle(self, *args, provider, rescan, **opts):
        for name in provider or []:
            account = ProviderAccount.objects.filter(name=name).first()
            if account is None:
                raise self.usage_error(f"--provider {name!r}: no such provider account")
            if not streams_events(account):
                raise self.usage_error(f"--provider {name!r}: a {account.kind} account streams no lifecycle events")
        if rescan <= 0:
            raise self.usage_error(f"--rescan {rescan:g}: must be more than 0 seconds")
        listener = Listener(provider, rescan=rescan)
        signal.signal(signal.SIGTERM, lambda *_: listener.stop.set())
        signal.signal(signal.SIGINT, lambda *_: listener.stop.set())
        self.stdout.write(f"listening for lifecycle events ({len(listener.accounts())} account(s) now); "
                          "Ctrl-C stops")
        listener.run()
