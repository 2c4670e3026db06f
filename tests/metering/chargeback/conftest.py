"""Helpers for chargeback tests: a ledger built through the real collector with the fake clock,
and rate plans written out by hand."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from metering import collector
from metering.models import Rate, RatePlan
from tests.conftest import T0

NOV = T0  # 2026-11-01 00:00 UTC; November has 30 days = 720 hours
DEC = datetime(2026, 12, 1, tzinfo=T0.tzinfo)


def day(n: float) -> datetime:
    """Midnight (or a fraction) of November the (n+1)th: day(0) = Nov 1, day(30) = Dec 1."""
    return NOV + timedelta(days=n)


class Ledger:
    """Drives the real collector: ``at(time, *observed)`` shows the world exactly these resources."""

    def __init__(self, account, world):
        self.account, self.world = account, world

    def at(self, when: datetime, *resources, deleted=()):
        self.world.resources = {r.external_id: r for r in resources}
        self.world.deleted = list(deleted)
        self.world.now = when
        run = collector.refresh(self.account)
        assert run.error == "" or "not newer" not in run.error, run.error
        return run


@pytest.fixture
def ledger(fake_account, world):
    return Ledger(fake_account, world)


def make_plan(name="standard", currency="EUR", default=True, **prices) -> RatePlan:
    """A plan with flat rates effective since 2026-01-01: ``make_plan(vcpu_hours="0.01")``."""
    plan = RatePlan.objects.create(name=name, currency=currency, is_default=default)
    for measure, price in prices.items():
        add_rate(plan, measure, price)
    return plan


def add_rate(plan, measure, price, since=None, until=None, **filters) -> Rate:
    return Rate.objects.create(plan=plan, measure=measure, unit_price=Decimal(price),
                               effective_from=since or datetime(2026, 1, 1, tzinfo=T0.tzinfo),
                               effective_to=until, **filters)
