"""pytest: the dev defaults with fast hashing; ``DATABASE_URL``/``CELERY_BROKER_URL`` still switch."""

import os

from portal.settings.dev import *  # noqa: F403

DEBUG = False
# the test double is registered for tests (and benchmarks) only, never by an install
GLASSPANE_EXTRA_DRIVERS = {"fake": "devsim.fake:FakeDriver"}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# a file, not memory, so worker processes started by integration tests see the test database
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # one file per test run, so parallel runs never share it; removed when the run ends
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test_glasspane_{os.getpid()}.sqlite3")}  # noqa: F405
