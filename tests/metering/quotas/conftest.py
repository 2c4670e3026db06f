"""Fixtures for the quota tests: provisioning is captured instead of queued to a broker."""

from __future__ import annotations

import pytest

from portal.celery import app as celery_app


@pytest.fixture
def queued(monkeypatch):
    """Request ids that admission would hand to the provisioning task, in commit order."""
    ids: list[int] = []
    monkeypatch.setattr("metering.quotas.admission.enqueue_provision", ids.append)
    return ids


@pytest.fixture
def eager():
    """Run Celery tasks in-process (webhook, stop-newest, push-down) and re-raise their errors."""
    names = ("task_always_eager", "task_eager_propagates")
    before = {name: celery_app.conf[name] for name in names}
    celery_app.conf.update(dict.fromkeys(names, True))
    yield
    celery_app.conf.update(before)
