"""The client address behind a reverse proxy (issue 17, item 5): ``X-Forwarded-For`` is read only
through ``GLASSPANE_TRUSTED_PROXIES`` proxies, so a client cannot choose the address it is counted as."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from portal.authentication import client_ip

rf = RequestFactory()


def request(xff=None, remote="10.0.0.1"):
    extra = {"REMOTE_ADDR": remote}
    if xff is not None:
        extra["HTTP_X_FORWARDED_FOR"] = xff
    return rf.get("/", **extra)


def test_without_trusted_proxies_the_header_is_ignored(settings):
    settings.GLASSPANE_TRUSTED_PROXIES = 0
    assert client_ip(request("203.0.113.9")) == "10.0.0.1"


@pytest.mark.parametrize("count,xff,expected", [
    (1, "203.0.113.9", "203.0.113.9"),
    (1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # the client sent 6.6.6.6 itself: not trusted
    (2, "6.6.6.6, 203.0.113.9, 10.1.1.1", "203.0.113.9"),
    (2, "203.0.113.9", "203.0.113.9"),  # fewer hops than proxies: the first address there is
    (1, "not-an-address", "10.0.0.1"),
    (1, "", "10.0.0.1"),
])
def test_the_address_the_trusted_proxies_saw(settings, count, xff, expected):
    settings.GLASSPANE_TRUSTED_PROXIES = count
    assert client_ip(request(xff)) == expected


@pytest.mark.django_db
def test_login_lockout_follows_the_forwarded_address(client, django_user_model, settings):
    settings.GLASSPANE_TRUSTED_PROXIES = 1
    settings.GLASSPANE_LOGIN_MAX_FAILURES = 2
    django_user_model.objects.create_user("alice", password="right-horse-battery")

    def login(password, xff):
        return client.post("/login/", {"username": "alice", "password": password},
                           REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=xff)

    login("wrong", "198.51.100.1")
    login("wrong", "198.51.100.1")
    assert login("right-horse-battery", "198.51.100.1").status_code == 429
    # another client behind the same proxy is not locked out
    assert login("right-horse-battery", "198.51.100.2").status_code == 302
