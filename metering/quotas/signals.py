"""Signal handlers of the quota service, connected when the metering app is ready.

After every refresh that applied an inventory: settle reservations whose resource now shows, then
detect breaches.
"""

from __future__ import annotations

from django.dispatch import receiver

from metering import collector
from metering.choices import RunStatus
from metering.quotas import breaches, provisioning


@receiver(collector.refresh_applied, dispatch_uid="metering.quotas.after_refresh")
def after_refresh(sender, account, run, **kwargs) -> None:
    if run.status not in (RunStatus.OK, RunStatus.PARTIAL):
        return
    provisioning.settle(account)
    breaches.after_refresh(account)
