"""Fixtures for the quota tests: provisioning is captured instead of queued to a broker
(``eager`` for running tasks in-process is in ``tests/conftest.py``)."""

from __future__ import annotations

import pytest


@pytest.fixture
def queued(monkeypatch):
    """Request ids that admission would hand to the provisioning task, in commit order."""
    ids: list[int] = []
    monkeypatch.setattr("metering.quotas.admission.enqueue_provision", ids.append)
    return ids
