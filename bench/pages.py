"""Server time of the dashboard's heaviest pages at 2,000 resources and 60 days of history.

Builds the history directly with ``bulk_create`` (not through the collector: this measures the
pages, not collection), then times requests in-process with Django's test ``Client`` and prints
p50 and p95 per page. Target: p95 < 150 ms.

    .venv/bin/python bench/pages.py [--resources 2000] [--days 60] [--requests 30]

Uses a throwaway SQLite file unless ``DATABASE_URL`` is set (then that database is flushed and
filled: point it at a database of its own).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")
if "DATABASE_URL" not in os.environ:
    os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp(prefix='glasspane-bench-')}/bench.sqlite3"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from metering.models import (  # noqa: E402
    Membership,
    Project,
    ProjectRatePlan,
    Rate,
    RatePlan,
    Resource,
    UsageSegment,
    UtilizationRollup,
)
from providers.models import ProviderAccount  # noqa: E402

PROJECTS = ["webshop", "analytics", "ci", "research"]
#: "analytics" is the only project with a rate plan: the chargeback pages and the "priced" overviews
#: (cost to date, forecast and each resource's cost) are measured on it, the other overviews on
#: "webshop", which shows usage without prices
PRICES = {"instance_hours": "0.02", "container_hours": "0.005", "vcpu_hours": "0.0125", "ram_gb_hours": "0.004",
          "disk_gb_hours": "0.0001", "running_hours": "0.001"}


def build(n_resources: int, days: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    now = timezone.now().replace(microsecond=0)
    begin = now - timedelta(days=days)
    projects = [Project.objects.create(slug=s, name=s.title()) for s in PROJECTS]
    accounts = []
    for name in ("kvm-1", "docker-1", "openstack-1"):
        account = ProviderAccount(name=name, kind="fake", settings={"world": name})
        account.credentials = {}
        account.save()
        accounts.append(account)
    hosts = [Resource(account=accounts[0], external_id=f"host-{i}", kind="host", name=f"host-{i}", state="running",
                      vcpus=Decimal(64), ram_mb=262144, first_seen=begin, last_seen=now)
             for i in range(max(1, n_resources // 50))]
    Resource.objects.bulk_create(hosts)
    rows = []
    kinds = ["vm"] * 60 + ["container"] * 30 + ["volume"] * 10
    for i in range(n_resources - len(hosts)):
        kind = rng.choice(kinds)
        account = accounts[{"vm": rng.choice([0, 2]), "container": 1, "volume": 2}[kind]]
        first = begin + timedelta(hours=rng.randrange(0, days * 24 // 3))
        deleted = first + timedelta(days=rng.randrange(5, days)) if rng.random() < 0.15 else None
        deleted = deleted if deleted and deleted < now else None
        sized = kind != "volume"
        rows.append(Resource(
            account=account, external_id=f"{kind}-{i}", kind=kind, name=f"{rng.choice(PROJECTS)}-{kind}-{i}",
            project=rng.choice(projects), parent=rng.choice(hosts) if kind == "vm" else None,
            state="deleted" if deleted else ("in-use" if kind == "volume" else rng.choice(["running"] * 4 + ["stopped"])),
            vcpus=Decimal(rng.choice([1, 2, 4, 8])) if sized else None, ram_mb=rng.choice([1024, 2048, 8192]) if sized else None,
            disk_gb=Decimal(rng.choice([20, 40, 100])), labels={"env": rng.choice(["prod", "dev"]), "team": f"t{i % 9}"},
            first_seen=first, last_seen=deleted or now, started_at=first, deleted_at=deleted,
        ))
    Resource.objects.bulk_create(rows, batch_size=1000)
    segments = []
    for r in Resource.objects.exclude(kind="host"):
        start, end = r.first_seen, r.deleted_at or now
        cuts = sorted({start + (end - start) * rng.random() for _ in range(rng.randrange(1, 6))})
        edges = [start, *cuts, end]
        for j, (lo, hi) in enumerate(zip(edges, edges[1:], strict=False)):
            last = j == len(edges) - 2
            segments.append(UsageSegment(
                resource_id=r.pk, account_id=r.account_id, kind=r.kind, project_id=r.project_id,
                state=r.state if last and r.state != "deleted" else rng.choice(["running", "stopped"]),
                vcpus=r.vcpus if last else (r.vcpus or Decimal(1)) * rng.choice([1, 2]), ram_mb=r.ram_mb,
                disk_gb=r.disk_gb, start=lo, end=hi, open=last and r.deleted_at is None,
                estimated=rng.random() < 0.02))
    UsageSegment.objects.bulk_create(segments, batch_size=2000)
    # bulk-inserted, not collected: roll the finished days as the collector would have
    call_command("rollup_usage", start=f"{begin:%Y-%m-%d}", end=f"{now:%Y-%m-%d}", stdout=open(os.devnull, "w"))
    rollups = []
    hour0 = now.replace(minute=0, second=0) - timedelta(days=7)
    for r in Resource.objects.filter(kind="vm", deleted_at__isnull=True)[:300]:
        for h in range(7 * 24):
            rollups.append(UtilizationRollup(resource_id=r.pk, hour=hour0 + timedelta(hours=h), samples=12,
                                             cpu_pct_avg=rng.random() * 100, cpu_pct_max=100.0,
                                             cpu_core_seconds=rng.random() * 3600, memory_avg_mb=1000.0,
                                             memory_max_mb=1500.0, memory_mb_seconds=3.6e6))
    UtilizationRollup.objects.bulk_create(rollups, batch_size=5000)
    plan = RatePlan.objects.create(name="bench", currency="EUR")
    for measure, price in PRICES.items():
        Rate.objects.create(plan=plan, measure=measure, unit_price=Decimal(price), effective_from=begin - timedelta(days=31))
    ProjectRatePlan.objects.create(project=projects[1], plan=plan, effective_from=begin - timedelta(days=31))
    User = get_user_model()
    User.objects.create_user("bench-admin", is_staff=True)
    member = User.objects.create_user("bench-member")
    Membership.objects.create(user=member, project=projects[0], role="member")
    print(f"built {Resource.objects.count()} resources, {len(segments)} segments, {len(rollups)} rollups "
          f"over {days} days")


def timed(client: Client, url: str, n: int) -> tuple[float, float]:
    first = client.get(url)
    assert first.status_code == 200, (url, first.status_code)
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        response = client.get(url)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
        samples.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(round(0.95 * len(samples))) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=2000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    build(args.resources, args.days)
    settings.ALLOWED_HOSTS = ["*"]
    today = timezone.localdate()
    since = (today - timedelta(days=args.days)).isoformat()
    last_month = f"{today.replace(day=1) - timedelta(days=1):%Y-%m}"
    pages = [
        ("overview, this month (staff)", "bench-admin", "/projects/webshop/"),
        (f"overview, {args.days} days (staff)", "bench-admin", f"/projects/webshop/?start={since}&end={today}"),
        (f"overview, {args.days} days (member)", "bench-member", f"/projects/webshop/?start={since}&end={today}"),
        (f"overview CSV, {args.days} days", "bench-member", f"/projects/webshop/?start={since}&end={today}&format=csv"),
        ("overview, this month, priced (staff)", "bench-admin", "/projects/analytics/"),
        (f"overview, {args.days} days, priced (staff)", "bench-admin",
         f"/projects/analytics/?start={since}&end={today}"),
        ("inventory (staff)", "bench-admin", "/inventory/"),
        ("inventory, filtered + sorted", "bench-admin", "/inventory/?kind=vm&q=prod&sort=-vcpus&page=3"),
        ("inventory (member)", "bench-member", "/inventory/"),
        ("resource detail, 7 d", "bench-admin", None),
        (f"admin overview, {args.days} days", "bench-admin", f"/admin-overview/?start={since}&end={today}"),
        ("chargeback, this month (staff)", "bench-admin", f"/projects/analytics/chargeback/?period={today:%Y-%m}"),
        ("chargeback, last month (staff)", "bench-admin", f"/projects/analytics/chargeback/?period={last_month}"),
        ("chargeback CSV, last month", "bench-admin",
         f"/projects/analytics/chargeback/?period={last_month}&format=csv"),
        ("chargeback overview, this month", "bench-admin", "/chargeback/"),
    ]
    vm = UtilizationRollup.objects.values_list("resource_id", flat=True).first()
    print(f"database: {django.db.connection.vendor}; {args.requests} requests per page after one warm-up")
    print(f"{'page':42} {'p50 ms':>8} {'p95 ms':>8}")
    worst = 0.0
    for label, username, url in pages:
        client = Client()
        client.force_login(get_user_model().objects.get(username=username))
        p50, p95 = timed(client, url or f"/resources/{vm}/?window=7d", args.requests)
        worst = max(worst, p95)
        print(f"{label:42} {p50:8.1f} {p95:8.1f}")
    print(f"worst p95: {worst:.1f} ms (target < 150 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
