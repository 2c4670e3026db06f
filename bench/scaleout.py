"""Scale-out: 20 libvirt accounts refreshed by 1, 2 and 4 Celery worker processes on Redis.

Each round resets the accounts, starts the workers (their start-up is not timed: each answers a
ping first), enqueues one refresh per account and times until all are done. The machine has 2
cores, so past 2 workers the figure shows the ceiling, honestly.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from celery import Celery
from django.db import connection

from bench.harness import Figure
from devsim.libvirt_nodes import write_node_xml
from metering.models import Resource
from metering.models.collection import CollectionState
from providers.models import ProviderAccount

ROOT = Path(__file__).resolve().parents[1]
ACCOUNTS = 20
DOMAINS = 150


def _database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _round(client: Celery, accounts: list[ProviderAccount], workers: int, broker: str) -> float:
    for account in accounts:
        Resource.objects.filter(account=account).delete()
    CollectionState.objects.filter(account__in=accounts).update(last_observed_at=None)
    queue = f"scale-{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "DATABASE_URL": _database_url(), "CELERY_BROKER_URL": broker,
           "CELERY_RESULT_BACKEND": broker, "DJANGO_SETTINGS_MODULE": "portal.settings.test"}
    procs = [subprocess.Popen([sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool", "solo", "-Q", queue,
                               "-n", f"{queue}-{i}@%h", "--without-heartbeat", "--without-gossip", "--without-mingle",
                               "--loglevel", "ERROR"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in range(workers)]
    try:
        for r in [client.send_task("portal.ping", queue=queue) for _ in range(workers * 2)]:
            r.get(timeout=120)
        started = time.perf_counter()
        results = [client.send_task("metering.refresh_account", args=(a.pk, None, "bench"), queue=queue)
                   for a in accounts]
        for r in results:
            r.get(timeout=600)
        return time.perf_counter() - started
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)


def figures() -> list[Figure]:
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not broker.startswith("redis"):
        broker = "redis://127.0.0.1:6379/9"
    folder = Path(tempfile.mkdtemp())
    accounts = []
    for i in range(ACCOUNTS):
        path = folder / f"node-{i}.xml"
        write_node_xml(path, DOMAINS, ["bench-a", "bench-b"], seed=100 + i)
        accounts.append(ProviderAccount.objects.create(name=f"scale-{i}", kind="libvirt",
                                                       settings={"uri": f"test://{path}"}))
    client = Celery("bench", broker=broker, backend=broker, set_as_current=False)
    try:
        rates = {n: ACCOUNTS / _round(client, accounts, n, broker) for n in (1, 2, 4)}
    finally:
        client.close()
    base = rates[1]
    figures = [Figure("scale-out, 1 worker", base, None, "refreshes/s", "-",
                      f"{ACCOUNTS} libvirt accounts x {DOMAINS} domains, Redis")]
    for n in (2, 4):
        wanted = 1 + 0.8 * (n - 1)
        figures.append(Figure(f"scale-out, {n} workers (speed-up)", rates[n], base, "refreshes/s",
                              f">= {wanted:.1f}x", f"{os.cpu_count()} cores on this machine"))
    return figures
