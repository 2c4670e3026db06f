"""schemathesis against the live OpenAPI schema, in-process over WSGI, on a seeded database.

Every operation gets generated requests (valid and invalid) as staff with a write token, so every
code path is reachable; the checks demand no 5xx and responses (status, content type, body,
headers) that conform to the schema. Bounded to a few examples per operation to stay fast.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from portal.models import PersonalAccessToken, TokenScope

pytestmark = pytest.mark.django_db

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance, negative_data_rejection]


@pytest.fixture
def live_requests(api_world, eager_tasks):
    """Django closes the connection when a WSGI request ends; the test's transaction must survive
    (Django's own test client disconnects this signal the same way)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def staff_token(api_world):
    return PersonalAccessToken.issue(api_world.users["staff"], scope=TokenScope.WRITE)[1]


# loaded from the running app's /api/schema/ when the module is collected (the schema needs no database);
# schemathesis.pytest.from_fixture would load it per test, but it breaks on pytest 9's node ids
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


@schema.parametrize()
@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_api_conforms_to_its_schema(case, live_requests, staff_token):
    cache.clear()  # the API throttle would otherwise answer 429 to a long run
    case.call_and_validate(headers={"Authorization": f"Bearer {staff_token}"}, checks=CHECKS)
