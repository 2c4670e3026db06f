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
def eager(monkeypatch):
    """Run Celery tasks in-process (webhook, stop-newest, push-down) and re-raise their errors."""
    monkeypatch.setattr(celery_app.conf, "task_always_eager", True)
    monkeypatch.setattr(celery_app.conf, "task_eager_propagates", True)
