"""The quota impact of a provisioning request, before it is made (a launch form's preview, the
API's ``POST /api/v1/provision-requests/preview/``).

For each key of each scope the request is checked in (global, and its provider account where a
limit is narrowed to it): what is in use (used + reserved), what the request adds, the total
after it against the limit, and that total's state (``metering.quotas.states``). The budget is a
key like the others: in use is the month's forecast, the request adds its cost to the end of the
month at the project's rates (shown even where the budget is unlimited).

Nothing is recorded. The refusal, if any, is the one ``submit`` would raise right now, from the
same ``admission.assess``: a preview and a submission never disagree about the same data.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from metering.choices import QuotaKey
from metering.quotas import states
from metering.quotas.admission import QuotaExceeded, assess, check_account
from metering.quotas.limits import KEYS
from metering.quotas.usage import budget_delta, number
from providers.base import ProvisionSpec


@dataclass(frozen=True)
class KeyImpact:
    key: str
    account: str | None  # None: the global limits; else the account the limit is narrowed to
    limit: int  # -1 = unlimited
    in_use: Decimal  # used + reserved
    reserved: Decimal
    requested: Decimal
    after: Decimal
    state: str  # of ``after`` against ``limit``: ok / near / at / over

    @property
    def unlimited(self) -> bool:
        return self.limit < 0

    def as_dict(self) -> dict:
        return {"key": self.key, "account": self.account, "limit": self.limit, "unlimited": self.unlimited,
                "in_use": number(self.in_use), "reserved": number(self.reserved),
                "requested": number(self.requested), "after": number(self.after), "state": self.state}


@dataclass(frozen=True)
class Preview:
    spec: ProvisionSpec
    impacts: tuple[KeyImpact, ...]
    currency: str  # of the budget and the added cost ("" when the project has no rate plan)
    refusal: QuotaExceeded | None

    @property
    def fits(self) -> bool:
        return self.refusal is None

    @property
    def budget(self) -> KeyImpact:
        return next(i for i in self.impacts if i.key == QuotaKey.BUDGET and i.account is None)

    def as_dict(self) -> dict:
        refusal = None if self.refusal is None else {
            "detail": self.refusal.message, "key": self.refusal.key, "requested": number(self.refusal.requested),
            "used": number(self.refusal.used), "limit": self.refusal.limit}
        return {"fits": self.fits, "refusal": refusal, "currency": self.currency,
                "spec": self.spec.as_json(), "impacts": [i.as_dict() for i in self.impacts]}


def preview(project, account, spec: ProvisionSpec) -> Preview:
    """The impact of ``spec`` on ``project`` through ``account``; raises ``SpecError`` when the
    account takes no requests (as ``submit`` would)."""
    from metering.chargeback.costs import month_to_date

    check_account(account, project)
    month = month_to_date(project)
    found = assess(project, account, spec, forecast=Decimal(month.forecast))
    want = dict(found.want)
    if not want[QuotaKey.BUDGET]:  # admission prices only a limited budget; a preview always shows the cost
        want[QuotaKey.BUDGET] = budget_delta(project, account, vcpus=want[QuotaKey.VCPUS],
                                             ram_mb=int(want[QuotaKey.RAM_MB]), disk_gb=want[QuotaKey.DISK_GB],
                                             kind=spec.kind)
    impacts = []
    for scope_id, usage in found.scopes.items():
        if scope_id is not None and all(u.unlimited for u in usage.values()):
            continue  # nothing narrowed to the account: only the global limits apply
        for key in KEYS:
            quota = usage[key]
            after = quota.in_use + want[key]
            impacts.append(KeyImpact(key, None if scope_id is None else account.name, quota.limit, quota.in_use,
                                     quota.reserved, want[key], after,
                                     states.state(after, None if quota.unlimited else quota.limit)))
    impacts.sort(key=lambda i: (i.account is not None, KEYS.index(i.key)))
    return Preview(spec, tuple(impacts), month.currency, found.refusal)

