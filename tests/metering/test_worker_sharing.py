"""Two Celery workers in separate processes, each from a working directory of its own, on one
Redis broker and one database, share 20 accounts: no account is ever refreshed by both at once
(the account lease), and neither sits idle while work is queued."""

from __future__ import annotations

import re
import time
import uuid
from collections import defaultdict
from datetime import datetime

import pytest
import redis
from django.conf import settings

from devsim.libvirt_nodes import write_node_xml
from metering.choices import RunStatus
from metering.models import Project, RefreshRun, Resource
from providers.models import ProviderAccount
from tests.servers import celery, stop

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

REDIS_URL = settings.CELERY_BROKER_URL if settings.CELERY_BROKER_URL.startswith("redis") else "redis://127.0.0.1:6379/7"
ACCOUNTS, DOMAINS = 20, 40
LOG_LINE = re.compile(r"^(\S+ \S+) INFO celery\.app\.trace: Task metering\.refresh_account\[\S+\] "
                      r"succeeded in ([\d.]+)s: \{'run': (\d+)")


def finished_tasks(log_text: str) -> list[tuple[float, float, int]]:
    """(start, end, run id) of every refresh a worker's log says it finished, in epoch seconds."""
    out = []
    for line in log_text.splitlines():
        found = LOG_LINE.match(line)
        if found:
            end = datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            out.append((end - float(found.group(2)), end, int(found.group(3))))
    return out


def test_two_workers_share_twenty_accounts_without_overlap_or_idling(tmp_path):
    try:
        broker = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        broker.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(f"this test needs Redis at {REDIS_URL} (scripts/test.sh starts redis-server): {exc}")
    for slug in ("alpha", "beta"):
        Project.objects.create(slug=slug, name=slug)
    accounts = []
    for i in range(ACCOUNTS):
        path = tmp_path / f"node-{i}.xml"
        write_node_xml(path, DOMAINS, ["alpha", "beta"], seed=i)
        accounts.append(ProviderAccount.objects.create(name=f"lab-{i}", kind="libvirt",
                                                       settings={"uri": f"test://{path}"}))
    queue = f"share-{uuid.uuid4().hex[:8]}"
    env = {"CELERY_BROKER_URL": REDIS_URL, "CELERY_RESULT_BACKEND": REDIS_URL}
    dirs = [tmp_path / "worker-a", tmp_path / "worker-b"]
    workers = [celery(["worker", "--pool", "solo", "-Q", queue, "-n", f"{queue}-{i}@%h", "--prefetch-multiplier", "1",
                       "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel", "INFO"], d, env)
               for i, d in enumerate(dirs)]
    from celery import Celery

    client = Celery("share", broker=REDIS_URL, backend=REDIS_URL, set_as_current=False)
    try:
        deadline = time.monotonic() + 120
        while not all("ready." in (d / "celery.log").read_text() for d in dirs):
            assert time.monotonic() < deadline, "the workers did not start"
            assert all(w.poll() is None for w in workers), "a worker exited"
            time.sleep(0.25)
        # every account twice, back to back: the two workers are offered the same account at once
        runs = []
        for account in accounts:
            for _ in range(2):
                run = RefreshRun.objects.create(account=account, trigger="test")
                client.send_task("metering.refresh_account", args=(account.pk, run.pk, "test"), queue=queue)
                runs.append(run.pk)
        deadline = time.monotonic() + 240
        while RefreshRun.objects.filter(pk__in=runs, status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).exists():
            assert time.monotonic() < deadline, "the refreshes did not finish"
            time.sleep(0.25)
    finally:
        for w in workers:
            stop(w)
        client.close()

    done = RefreshRun.objects.filter(pk__in=runs)
    assert done.exclude(status__in=[RunStatus.OK, RunStatus.PARTIAL, RunStatus.SKIPPED]).count() == 0
    by_account = defaultdict(list)
    for run in done.filter(status__in=[RunStatus.OK, RunStatus.PARTIAL]):
        by_account[run.account_id].append((run.started_at, run.finished_at))
    assert set(by_account) == {a.pk for a in accounts}, "an account was never refreshed"
    for account_id, spans in by_account.items():
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert start >= end, f"account {account_id} was refreshed twice at once"
    skipped = done.filter(status=RunStatus.SKIPPED)
    assert all(r.error == "another refresh of this account was running" for r in skipped)
    assert Resource.objects.filter(account__in=accounts).exclude(kind="host").count() > ACCOUNTS * DOMAINS * 0.9

    per_worker = [finished_tasks((d / "celery.log").read_text()) for d in dirs]
    assert sorted(r for tasks in per_worker for *_, r in tasks) == sorted(runs), "a run's task is missing"
    assert all(len(tasks) >= 8 for tasks in per_worker), [len(t) for t in per_worker]
    last_start = max(start for tasks in per_worker for start, *_ in tasks)
    for tasks in per_worker:
        tasks.sort()
        gaps = [b[0] - a[1] for a, b in zip(tasks, tasks[1:], strict=False) if b[0] <= last_start]
        assert max(gaps) < 2.0, f"a worker idled {max(gaps):.2f} s while work was queued"
