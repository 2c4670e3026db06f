"""Exactly one Celery beat dispatches, even when two are started: the second stands by and takes
over when the first stops."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.beat import acquire, release
from portal.models import SchedulerLease
from tests.servers import celery, stop

SENT = "Sending due task dispatch-refreshes"


@pytest.mark.django_db
def test_the_lease_has_one_holder_until_it_expires_or_is_released():
    assert acquire("a", ttl=30) and acquire("a", ttl=30)  # renewing is taking it again
    assert not acquire("b", ttl=30)
    release("b")  # not the holder: nothing happens
    assert not acquire("b", ttl=30)
    release("a")
    assert acquire("b", ttl=30) and not acquire("a", ttl=30)
    SchedulerLease.objects.update(until=timezone.now() - timedelta(seconds=1))  # b died without releasing
    assert acquire("a", ttl=30)


def sends(workdir) -> int:
    return (workdir / "celery.log").read_text().count(SENT)


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_two_beats_started_by_mistake_dispatch_once(tmp_path):
    env = {"GLASSPANE_SCHEDULER_TICK": "1", "GLASSPANE_BEAT_LEASE": "3", "CELERY_BROKER_URL": "filesystem://",
           "CELERY_RESULT_BACKEND": ""}
    dirs = [tmp_path / "beat-a", tmp_path / "beat-b"]
    beats = [celery(["beat", "--loglevel", "INFO"], d, env) for d in dirs]
    try:
        def ticked(d) -> bool:
            log = (d / "celery.log").read_text()
            return "holds the lease" in log or "standing by" in log

        wait_until(lambda: all(ticked(d) for d in dirs), 90, "both beats to start")
        wait_until(lambda: sum(sends(d) for d in dirs) >= 3, 30, "three dispatches")
        counts = [sends(d) for d in dirs]
        assert sorted(counts)[0] == 0, f"both beats dispatched: {counts}"
        holder = counts.index(max(counts))
        standby = 1 - holder
        assert "standing by" in (dirs[standby] / "celery.log").read_text()

        stop(beats[holder])  # a clean stop releases the lease: the standby takes over at once
        wait_until(lambda: sends(dirs[standby]) >= 2, 30, "the standby to take over")
        assert beats[holder].poll() is not None
        assert "holds the lease" in (dirs[standby] / "celery.log").read_text()
    finally:
        for proc in beats:
            stop(proc)
