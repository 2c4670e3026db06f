"""A task round-trips through a real worker process on the configured broker: the embedded
filesystem broker by default, Redis in CI (``CELERY_BROKER_URL``)."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from portal.tasks import ping

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


@pytest.fixture
def worker():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.test"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool", "solo", "--loglevel", "WARNING",
         "--without-heartbeat", "--without-gossip", "--without-mingle", "-Q", "roundtrip", "-n", "roundtrip@%h"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    yield proc
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_task_round_trips_through_a_worker(worker):
    result = ping.apply_async(args=["hello"], queue="roundtrip")
    assert result.get(timeout=60) == "hello"
    expected = "redis" if settings.CELERY_BROKER_URL.startswith("redis") else "filesystem"
    assert settings.CELERY_BROKER_URL.startswith(expected)
