"""Errors from outbound calls are shown to staff without the upstream's raw body (issue 17, item 9):
a provider that answers an HTML error page, or pages of text, is recorded in one short line."""

from __future__ import annotations

import pytest

from metering import collector
from metering.choices import RunStatus
from metering.models import CollectionState
from providers.base import ProviderDataError, ProviderUnavailable
from tests.conftest import T0

pytestmark = pytest.mark.django_db

PAGE = ("<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n<body><h1>Bad Gateway</h1>\n"
        "<p>upstream db-7.internal.corp:5432 refused; session=SECRET-SESSION-ID</p>" + "x" * 5000 + "</body></html>")


@pytest.mark.parametrize("error", [
    ProviderUnavailable(f"OpenStack failed while trying to list servers (502): {PAGE}"),
    ProviderDataError("OpenStack refused to list servers (400): " + "line of upstream text\n" * 400),
])
def test_provider_errors_are_recorded_in_one_short_line_without_the_body(fake_account, world, error):
    world.fail = error
    world.now = T0
    try:
        collector.refresh(fake_account)
    except ProviderUnavailable:
        pass  # re-raised for the task's retry, after it was recorded
    state = CollectionState.objects.get(account=fake_account)
    run = fake_account.runs.first()
    assert run.status == RunStatus.FAILED
    for text in (run.error, state.health_message, state.last_refresh_error):
        assert "\n" not in text and len(text) <= 400, text
        assert "SECRET" not in text and "<html" not in text.lower() and "db-7" not in text, text
        assert "OpenStack" in text and ("502" in text or "400" in text)
