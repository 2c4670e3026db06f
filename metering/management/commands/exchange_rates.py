"""``exchange_rates import FILE.csv`` (header ``base,quote,rate,effective_from``) | ``exchange_rates list``."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandError

from metering.chargeback.currency import import_csv
from metering.models import ExchangeRate
from providers.management.base import GlasspaneCommand


class Command(GlasspaneCommand):
    help = "Import dated exchange rates from a CSV file, or list them."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        load = sub.add_parser("import", help="load base,quote,rate,effective_from rows (all or nothing)")
        load.add_argument("file")
        sub.add_parser("list", help="every rate, newest first per pair")

    def handle(self, *args, action, file=None, **opts):
        if action == "list":
            for r in ExchangeRate.objects.all():
                self.stdout.write(f"{r.effective_from}  1 {r.base} = {r.rate.normalize()} {r.quote}  {r.source}")
            return
        path = Path(file)
        if not path.is_file():
            raise self.usage_error(f"{file}: no such file")
        try:
            count = import_csv(path.read_text(encoding="utf-8-sig"), source=path.name)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CommandError(f"{file}: {exc}") from None
        self.stdout.write(f"imported {count} exchange rate{'s' if count != 1 else ''} from {file}")
