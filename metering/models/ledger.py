"""The ledger's change log: one row per write to any table a report, statement or comparison reads.

Rows are written by database triggers (migration 0017), never by the application, so no writer can
forget them: the collector, the listener, admin edits, bulk tools and hand-written SQL all leave a
row. ``metering.ledger.version`` turns the log into the cache key of computed pages.
"""

from django.db import models


class LedgerChange(models.Model):
    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField(help_text="the writer's clock when the row was written")

    class Meta:
        db_table = "metering_ledgerchange"

    def __str__(self) -> str:
        return f"ledger change {self.id} at {self.at:%Y-%m-%d %H:%M:%S}"
