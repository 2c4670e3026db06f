"""Issue 21: the ledger's version (``metering.ledger``) is the key of computed pages. Any write to
a table a report or statement reads, by any path (ORM, queryset update, raw SQL), gives a new
version; reads and writes elsewhere do not. So a cached page can never outlive the data it shows."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from metering import ledger
from metering.chargeback.costs import month_to_date
from metering.models import LedgerChange, Project, Rate, RatePlan, RefreshRun, Resource, UsageSegment
from providers.models import ProviderAccount

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _account(name: str) -> ProviderAccount:
    account = ProviderAccount(name=name, kind="fake", settings={"world": name})
    account.credentials = {}
    account.save()
    return account


@pytest.fixture
def ledger_rows(db):
    """One project with a VM on each of two accounts; b's segment ends later than a's."""
    project = Project.objects.create(slug="alpha", name="Alpha")
    out = {"project": project}
    for name, hours in (("a", 2), ("b", 5)):
        account = _account(name)
        vm = Resource.objects.create(account=account, external_id=f"vm-{name}", kind="vm", name=f"vm-{name}",
                                     project=project, state="running", vcpus=Decimal(2), ram_mb=2048,
                                     disk_gb=Decimal(10), first_seen=T0, last_seen=T0 + timedelta(hours=hours),
                                     started_at=T0)
        out[name] = UsageSegment.objects.create(resource=vm, account=account, kind="vm", project=project,
                                                state="running", vcpus=Decimal(2), ram_mb=2048, disk_gb=Decimal(10),
                                                start=T0, end=T0 + timedelta(hours=hours), open=True)
    plan = RatePlan.objects.create(name="standard", currency="EUR", is_default=True)
    Rate.objects.create(plan=plan, measure="vcpu_hours", unit_price=Decimal("0.01"), effective_from=T0)
    return out


def test_every_kind_of_write_gives_a_new_version_and_reads_do_not(ledger_rows):
    seen = [ledger.version()]

    def changed() -> bool:
        seen.append(ledger.version())
        return seen[-1] != seen[-2]

    assert not changed()  # reading changes nothing
    list(UsageSegment.objects.all())
    assert not changed()
    UsageSegment.objects.filter(pk=ledger_rows["a"].pk).update(end=T0 + timedelta(hours=3))
    assert changed()  # a queryset update, behind the models' back
    with connection.cursor() as cur:
        cur.execute("UPDATE metering_resource SET name = 'renamed' WHERE external_id = 'vm-a'")
    assert changed()  # raw SQL
    Rate.objects.update(unit_price=Decimal("0.02"))
    assert changed()
    UsageSegment.objects.filter(pk=ledger_rows["b"].pk).delete()
    assert changed()
    RefreshRun.objects.create(account=ledger_rows["a"].account)
    assert not changed()  # not a table reports read


def test_a_change_committed_late_with_a_lower_id_still_moves_the_version(ledger_rows):
    """A transaction that took its change row's id before another committed is seen by the count."""
    newest = LedgerChange.objects.order_by("-id").first()
    LedgerChange.objects.filter(pk=newest.pk - 1).delete()
    before = ledger.version()
    LedgerChange.objects.create(id=newest.pk - 1, at=newest.at)  # lower id, appearing after
    assert ledger.version() != before


def test_compaction_keeps_the_version_stable_afterwards(ledger_rows):
    assert LedgerChange.objects.count() > 1
    before = ledger.version()
    assert ledger.compact() > 0
    assert LedgerChange.objects.count() == 1
    after = ledger.version()
    assert after != before and ledger.version() == after
    # a transaction that took a lower id before the compaction and commits after it: a version
    # never seen before
    marker = LedgerChange.objects.get()
    LedgerChange.objects.create(id=marker.pk - 1, at=marker.at)
    assert ledger.version() not in (before, after)


def test_month_to_date_sees_an_extension_that_leaves_the_latest_end_unchanged(ledger_rows, monkeypatch):
    """Before the ledger's version, the month-to-date cache key was a signature of the project's
    segments (count, open count, newest id, latest end, latest resource change): a refresh of
    account a extending its open segment to a time before b's end changed none of them, and the
    cached, stale cost was served until some other change came."""
    from django.utils import timezone

    monkeypatch.setattr(timezone, "now", lambda: T0 + timedelta(hours=6))
    alpha = ledger_rows["project"]
    first = month_to_date(alpha).cost_to_date
    UsageSegment.objects.filter(pk=ledger_rows["a"].pk).update(end=T0 + timedelta(hours=4))
    Resource.objects.filter(external_id="vm-a").update(last_seen=T0 + timedelta(hours=4))
    later = month_to_date(alpha).cost_to_date
    assert later == first + Decimal("0.04"), (first, later)  # 2 more hours of 2 vCPUs at 0.01


@pytest.mark.parametrize("url", ["/projects/alpha/", "/admin-overview/", "/projects/alpha/chargeback/", "/chargeback/",
                                 "/"])
def test_a_cached_page_follows_a_write_made_behind_the_models_back(ledger_rows, client, django_user_model,
                                                                  monkeypatch, url):
    from django.utils import timezone

    monkeypatch.setattr(timezone, "now", lambda: T0 + timedelta(hours=6))
    client.force_login(django_user_model.objects.create_user("staff", is_staff=True))
    csrf = re.compile(r'value="[^"]+"')

    def page() -> str:
        response = client.get(url)
        assert response.status_code == 200
        return csrf.sub("", response.content.decode())

    first = page()
    assert page() == first  # the second is served from the cache
    with connection.cursor() as cur:  # double b's size for its whole segment
        cur.execute("UPDATE metering_usagesegment SET vcpus = 4 WHERE id = %s", [ledger_rows["b"].pk])
    assert page() != first


def test_the_cached_overview_shows_uptime_at_its_own_clock(ledger_rows, client, django_user_model, monkeypatch):
    """The table's rows are cached by ledger version; each row's uptime moves with the clock."""
    from django.utils import timezone

    clock = [T0 + timedelta(hours=6)]
    monkeypatch.setattr(timezone, "now", lambda: clock[0])
    client.force_login(django_user_model.objects.create_user("staff", is_staff=True))
    assert ">6 h<" in client.get("/projects/alpha/").content.decode().replace(" 0 min", "")
    clock[0] = T0 + timedelta(hours=7, minutes=5)
    later = client.get("/projects/alpha/").content.decode()
    assert ">7 h 5 min<" in later and ">6 h" not in later


def test_the_homes_costs_to_date_are_the_chargeback_rankings_totals(ledger_rows, monkeypatch):
    """The home takes each project's cost to date from the cached month-to-date figure; it must be
    the total the chargeback ranking computes for [start of month, now), fixed costs included."""
    from django.utils import timezone

    from metering.chargeback.costs import month_of
    from metering.models import FixedCost
    from portal.web.chargeback import ranking
    from portal.web.home import costs_to_date

    now = T0 + timedelta(hours=6, minutes=7)
    monkeypatch.setattr(timezone, "now", lambda: now)
    FixedCost.objects.create(project=ledger_rows["project"], name="support", monthly_amount=Decimal("300.00"),
                             effective_from=T0)
    start, _ = month_of(now)
    expected = {r["project"].slug: r["total"] for r in ranking(start, now) if not r["problem"] and not r["showback"]}
    assert expected and {r["project"].slug: r["total"] for r in costs_to_date(start, now)} == expected


def test_naming_a_host_in_an_idle_rule_moves_the_version(ledger_rows):
    """The hosts an idle-capacity rule names decide who gets a share: a page cached before the
    rule named its host must not be served after (the M2M table joined the ledger's tables when
    idle allocation and the change log were merged)."""
    from metering.models import AllocationRule

    host = Resource.objects.create(account=ledger_rows["a"].account, external_id="host-1", kind="host",
                                   name="kvm-01", state="running", first_seen=T0, last_seen=T0)
    rule = AllocationRule.objects.create(name="idle by vcpu", spreads="idle", method="even")
    before = ledger.version()
    rule.hosts.add(host)
    assert ledger.version() != before
    before = ledger.version()
    rule.hosts.clear()
    assert ledger.version() != before
