"""Throttling of password guessing on the web login (``portal.auth_views.ThrottledLoginView``)."""

from __future__ import annotations

import pytest

from portal.auth_views import LOCKED_MESSAGE

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.portal.api.login_urls")]


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="right-horse-battery")


def login(client, password, username="alice", ip="192.0.2.1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_five_failures_lock_the_username_from_that_address_even_for_the_right_password(client, alice):
    for _ in range(5):
        assert login(client, "wrong").status_code == 200  # the form again, with its error
    locked = login(client, "right-horse-battery")
    assert locked.status_code == 429 and LOCKED_MESSAGE in locked.content.decode()
    assert "_auth_user_id" not in client.session
    # another address, or another username from this address, is not locked
    assert login(client, "right-horse-battery", ip="192.0.2.2").status_code == 302
    assert login(client, "nope", username="bob").status_code == 200


def test_a_success_resets_the_count(client, alice, settings):
    settings.GLASSPANE_LOGIN_MAX_FAILURES = 3
    login(client, "wrong")
    login(client, "wrong")
    assert login(client, "right-horse-battery").status_code == 302
    client.logout()
    login(client, "wrong")
    login(client, "wrong")
    assert login(client, "right-horse-battery").status_code == 302  # two failures after the reset


def test_the_lock_ends_with_its_window(client, alice, settings):
    from django.core.cache import cache

    settings.GLASSPANE_LOGIN_MAX_FAILURES = 2
    login(client, "wrong")
    login(client, "wrong")
    assert login(client, "right-horse-battery").status_code == 429
    cache.clear()  # what the window's expiry does
    assert login(client, "right-horse-battery").status_code == 302
