"""The styled error pages: the 500 page keeps the navigation; 404 and 403 use the layout."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from portal.error_views import server_error

pytestmark = pytest.mark.django_db


def test_500_page_has_the_navigation_for_a_signed_in_user(dashboard):
    request = RequestFactory().get("/projects/alpha/")
    request.user = dashboard["users"]["staff"]
    request.session = {}
    response = server_error(request)
    body = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in body and 'aria-label="Main"' in body and "<title>Server error" in body


def test_500_page_renders_bare_when_the_layout_fails(dashboard, monkeypatch):
    request = RequestFactory().get("/")
    request.user = dashboard["users"]["staff"]  # no session: the layout's context processor fails
    response = server_error(request)
    assert response.status_code == 500 and "Something went wrong" in response.content.decode()


def test_404_and_403_pages_use_the_layout(as_user):
    client = as_user("viewer")
    response = client.get("/projects/beta/")
    assert response.status_code == 404 and b"Not found" in response.content and b'aria-label="Main"' in response.content
    response = client.get("/providers/")
    assert response.status_code == 403 and b"Not allowed" in response.content and b'aria-label="Main"' in response.content
