"""Production settings pass ``check --deploy`` with no warnings when their environment is set, and
their static files (the manifest storage ``make run`` and production use) collect."""

import json
import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def production_env(tmp_path) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.production",
        "SECRET_KEY": "x" * 20 + "-prod-key-with-enough-entropy-0123456789abcdef",
        "GLASSPANE_CREDENTIAL_KEYS": Fernet.generate_key().decode(),
        "GLASSPANE_ALLOWED_HOSTS": "glasspane.example.com",
        "GLASSPANE_VAR_DIR": str(tmp_path),
        "GLASSPANE_CACHE_URL": "redis://127.0.0.1:6379/6",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set by the browser tests' conftest, never in production
    return env


def test_check_deploy_is_clean(tmp_path):
    env = production_env(tmp_path)
    proc = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "System check identified no issues" in proc.stdout


def test_collectstatic_with_the_manifest_storage(tmp_path):
    """The test settings serve static files plainly; this catches what only the manifest storage
    refuses, e.g. a vendored file that references a source map we do not ship."""
    env = production_env(tmp_path)
    proc = subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    manifest = json.loads((tmp_path / "staticfiles" / "staticfiles.json").read_text())
    hashed = manifest["paths"]["vendor/chartjs/chart.umd.min.js"]
    assert (tmp_path / "staticfiles" / hashed).is_file()
    assert (tmp_path / "staticfiles" / (hashed + ".gz")).is_file()  # WhiteNoise's compressed copy


def settings_of(env: dict, *names: str) -> dict:
    code = ("import json, django; django.setup(); from django.conf import settings; "
            f"print(json.dumps({{n: getattr(settings, n) for n in {list(names)!r}}}, default=str))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_production_pools_postgresql_connections_and_shares_a_redis_cache(tmp_path):
    env = {**production_env(tmp_path), "DATABASE_URL": "postgres://glasspane@db.internal:5432/glasspane"}
    got = settings_of(env, "DATABASES", "CACHES", "SECURE_REDIRECT_EXEMPT")
    assert sorted(got["SECURE_REDIRECT_EXEMPT"]) == ["^healthz$", "^readyz$"]  # probes over plain HTTP
    assert got["DATABASES"]["default"]["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 4, "timeout": 10}
    assert got["DATABASES"]["default"]["CONN_MAX_AGE"] == 0
    assert got["CACHES"]["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert got["CACHES"]["default"]["LOCATION"] == "redis://127.0.0.1:6379/6"


def test_the_pool_is_postgresql_only_and_zero_turns_it_off():
    from portal.settings.base import use_connection_pool

    sqlite = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "x", "CONN_MAX_AGE": 60}}
    use_connection_pool(sqlite, 4)
    assert "OPTIONS" not in sqlite["default"] and sqlite["default"]["CONN_MAX_AGE"] == 60
    off = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "x", "CONN_MAX_AGE": 60}}
    use_connection_pool(off, 0)
    assert "OPTIONS" not in off["default"]


def test_development_cache_stays_in_memory_and_a_bad_cache_url_is_named(tmp_path, settings):
    if not os.environ.get("GLASSPANE_CACHE_URL"):
        assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.dev", "GLASSPANE_VAR_DIR": str(tmp_path),
           "GLASSPANE_CACHE_URL": "memcached://x"}
    proc = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=60)
    assert proc.returncode != 0 and "GLASSPANE_CACHE_URL must be a redis:// URL, got 'memcached://x'" in proc.stderr


def test_check_deploy_warns_about_a_per_process_cache(tmp_path):
    env = production_env(tmp_path)
    env.pop("GLASSPANE_CACHE_URL")
    proc = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "portal.W002" in proc.stdout + proc.stderr


def test_a_secret_key_that_starts_with_a_dollar_is_taken_as_it_is(tmp_path):
    """Django's own key generator draws from an alphabet with ``$``; django-environ reads a value
    that starts with one as the name of another variable ("Set the 2(@c3... environment variable"),
    so one generated key in fifty stopped production settings (and the pages bench) from loading."""
    key = "$" + "k" * 20 + "-dollar-first-0123456789abcdefghij"
    got = settings_of({**production_env(tmp_path), "SECRET_KEY": key}, "SECRET_KEY")
    assert got == {"SECRET_KEY": key}
