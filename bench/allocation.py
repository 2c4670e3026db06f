"""Every project's statement with allocation rules (issue 25), as an all-projects page builds them.

PROJECTS projects with VMS VMs each on one host with a host cost; a shared project with a fixed
cost spread by cost over them and an idle-capacity rule by vCPU-hours. Glasspane's figure builds
the N statements inside one request's memo (each rule computed once: 2N statements); the floor is
the same N statements with the rules disabled (the least any allocation can cost). (Without the
memo it is N + N² statements and each rebuilds the idle pools: minutes on a database of the other
steps' size, so it is not timed here; ``test_one_statement_per_page`` counts the statements.) Only this bench's projects are built, whatever
else the database holds.

Run ``python -m bench.allocation`` (a throwaway SQLite database unless ``DATABASE_URL`` is set).
"""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import UTC, datetime
from decimal import Decimal

PROJECTS, VMS = 30, 4
START, END = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)


def populate() -> list:
    from metering.models import (
        AllocationRule,
        FixedCost,
        HostCost,
        Project,
        Rate,
        RatePlan,
        Resource,
        UsageSegment,
    )
    from providers.models import ProviderAccount

    account = ProviderAccount(name="bench-alloc", kind="fake", settings={"world": "bench-alloc"})
    account.credentials = {}
    account.save()
    plan = RatePlan.objects.create(name="bench-alloc", currency="EUR", is_default=True)
    for m, price in (("vcpu_hours", "0.03125"), ("ram_gb_hours", "0.0078125")):
        Rate.objects.create(plan=plan, measure=m, unit_price=Decimal(price), effective_from=START)
    host = Resource.objects.create(account=account, external_id="kvm-01", kind="host", name="kvm-01",
                                   state="running", vcpus=Decimal(512), ram_mb=2048 * 1024, first_seen=START,
                                   last_seen=END)
    HostCost.objects.create(host=host, monthly_hardware_cost=Decimal("20000.00"), cpu_share=Decimal("0.5"))
    projects = [Project.objects.create(slug=f"p{i:03d}", name=f"P{i}") for i in range(PROJECTS)]
    for p in projects:
        for j in range(VMS):
            vm = Resource.objects.create(account=account, external_id=f"{p.slug}-{j}", kind="vm",
                                         name=f"{p.slug}-{j}", project=p, parent=host, state="running",
                                         vcpus=Decimal(1 + j), ram_mb=1024 * (1 + j), disk_gb=Decimal(20),
                                         first_seen=START, last_seen=END)
            UsageSegment.objects.create(resource=vm, account=account, kind="vm", project=p, state="running",
                                        vcpus=vm.vcpus, ram_mb=vm.ram_mb, disk_gb=vm.disk_gb, start=START, end=END,
                                        open=False)
    platform = Project.objects.create(slug="platform", name="Platform")
    FixedCost.objects.create(project=platform, name="monitoring", monthly_amount=Decimal("1000.00"),
                             effective_from=START)
    rule = AllocationRule.objects.create(name="bench platform", source=platform, method="cost")
    rule.targets.set(projects)
    idle = AllocationRule.objects.create(name="bench idle", spreads="idle", method="measure", measure="vcpu_hours")
    idle.hosts.set([host])
    return [*projects, platform]


def figures():
    from bench.harness import Figure, best_of
    from metering.chargeback import memo
    from metering.chargeback.engine import build_statement
    from metering.models import AllocationRule

    projects = populate()

    def every_statement():
        for p in projects:
            build_statement(p, START, END)

    def memoized():
        with memo.scope():
            every_statement()

    ours = best_of(memoized)
    AllocationRule.objects.filter(name__startswith="bench ").update(enabled=False)
    floor = best_of(memoized)
    AllocationRule.objects.filter(name__startswith="bench ").delete()
    note = f"{PROJECTS + 1} projects x {VMS} VMs, a by-cost rule and an idle rule"
    return [Figure("every project's statement with allocation rules", ours, floor, "s", "<= 2.5x", note)]


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")
    if "DATABASE_URL" not in os.environ:
        os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp(prefix='glasspane-bench-')}/bench.sqlite3"
    import django

    django.setup()
    from django.core.management import call_command

    from bench.harness import table

    call_command("migrate", verbosity=0)
    print(table(figures()))
    sys.exit(0)
