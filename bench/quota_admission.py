"""Benchmark: concurrent admission decisions against one project's limit, on a real database.

``CLIENTS`` threads (each with its own database connection) submit VM requests for ``SECONDS``
against a limit of ``LIMIT`` VMs; an admitted request holds its reservation for ``HOLD`` seconds
(provisioning in flight) and is then released, a refused one is counted. After every admission the client counts the project's active
reservations: more than the limit is an over-admission, which must never happen.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/glasspane_bench .venv/bin/python bench/quota_admission.py

A throw-away database (``test_<name>``) is created and dropped, like the test suite does.
Exit status 1 when any over-admission was seen.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")

import django  # noqa: E402

django.setup()

from django.db import connection, connections  # noqa: E402

from metering.choices import ChangeSource, RequestState  # noqa: E402
from metering.models import Project, Reservation  # noqa: E402
from metering.quotas import QuotaExceeded, admission, release, set_limits, submit  # noqa: E402
from providers.models import ProviderAccount  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--limit", type=int, default=8, help="VM limit of the project")
    parser.add_argument("--hold", type=float, default=0.5, help="seconds an admitted request keeps its reservation")
    args = parser.parse_args()

    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        return run(args)
    finally:
        connections.close_all()
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run(args) -> int:
    admission.enqueue_provision = lambda request_id: None  # decisions only: nothing is provisioned
    project = Project.objects.create(slug="bench", name="Bench")
    account = ProviderAccount(name="bench", kind="fake", settings={"world": "bench"})
    account.credentials = {}
    account.save()
    set_limits(project, {"vms": args.limit}, user=None, source=ChangeSource.CLI)
    spec = {"name": "vm", "kind": "vm", "vcpus": 1, "ram_mb": 512}

    lock = threading.Lock()
    totals = {"admitted": 0, "refused": 0, "over": 0, "errors": 0}
    latencies: list[float] = []
    start_line = threading.Barrier(args.clients + 1)
    stop_at = [0.0]

    def client() -> None:
        mine = {"admitted": 0, "refused": 0, "over": 0, "errors": 0}
        times = []
        start_line.wait()
        try:
            while time.monotonic() < stop_at[0]:
                began = time.perf_counter()
                try:
                    request = submit(project, account, spec, user=None, source=ChangeSource.API)
                except QuotaExceeded:
                    mine["refused"] += 1
                    times.append(time.perf_counter() - began)
                    continue
                times.append(time.perf_counter() - began)
                mine["admitted"] += 1
                if Reservation.objects.filter(project=project, active=True).count() > args.limit:
                    mine["over"] += 1
                time.sleep(args.hold)
                release(request, state=RequestState.FAILED, message="benchmark")
        finally:
            connections.close_all()
            with lock:
                for key, value in mine.items():
                    totals[key] += value
                latencies.extend(times)

    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    for thread in threads:
        thread.start()
    stop_at[0] = time.monotonic() + args.seconds
    began = time.monotonic()
    start_line.wait()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began

    decisions = totals["admitted"] + totals["refused"]
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    print(f"database: {connection.vendor}, clients: {args.clients}, seconds: {elapsed:.1f}, vm limit: {args.limit}, "
          f"hold: {args.hold}s")
    print(f"decisions: {decisions} ({decisions / elapsed:.0f}/s): admitted {totals['admitted']}, "
          f"refused {totals['refused']}")
    if latencies:
        print(f"latency ms: p50 {p(0.5):.1f}, p95 {p(0.95):.1f}, p99 {p(0.99):.1f}, "
              f"mean {statistics.fmean(latencies) * 1000:.1f}")
    print(f"over-admissions: {totals['over']}")
    return 1 if totals["over"] else 0


if __name__ == "__main__":
    sys.exit(main())
