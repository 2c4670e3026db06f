"""Throttle counters are shared across processes when the cache is (issue 17, item 5): with Django's
Redis cache (what production configures), failures counted by another web process lock the token
here too. Uses Redis DB 9 of the local server; skipped without one, failing in CI."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import redis
from django.core.cache import caches

from portal.authentication import token_failures

REDIS = os.environ.get("GLASSPANE_TEST_CACHE_URL", "redis://127.0.0.1:6379/9")
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS}}


@pytest.fixture
def redis_cache(settings):
    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("GLASSPANE_CI") == "1":
            pytest.fail(f"Redis is required in CI ({REDIS})")
        pytest.skip(f"no Redis at {REDIS}")
    settings.CACHES = CACHES
    caches["default"].clear()
    yield caches["default"]
    caches["default"].clear()


def test_failures_counted_in_another_process_lock_here(redis_cache, settings):
    settings.GLASSPANE_TOKEN_MAX_FAILURES = 3
    code = ("import django, os; django.setup(); from django.conf import settings; "
            f"settings.CACHES = {CACHES!r}; "
            "from portal.authentication import token_failures; "
            "[token_failures().fail('gpat_prefix01') for _ in range(3)]")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.test"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert token_failures().locked("gpat_prefix01")
    assert not token_failures().locked("gpat_prefix02")
