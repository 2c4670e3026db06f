"""deploy/: the systemd units pass ``systemd-analyze verify`` (pointed at this checkout), the
environment template configures a production that passes ``check --deploy``, and the reverse
proxy sends what the production settings believe."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from portal.settings.base import GLASSPANE_QUEUE_TASKS

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"


def env_template() -> dict[str, str]:
    pairs = {}
    for line in (DEPLOY / "glasspane.env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            assert re.fullmatch(r"[A-Z_][A-Z0-9_]*", key), f"not an environment line: {line!r}"
            pairs[key] = value
    return pairs


def test_systemd_units_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:  # scripts/bootstrap.sh installs Debian's systemd package, which ships it
        pytest.fail("systemd-analyze is missing: apt-get install systemd")
    for unit in (DEPLOY / "systemd").iterdir():
        text = unit.read_text().replace("/opt/glasspane", str(ROOT))
        (tmp_path / unit.name).write_text(text.replace("/etc/glasspane/glasspane.env", str(tmp_path / "env")))
    shutil.copy(DEPLOY / "glasspane.env.example", tmp_path / "env")
    units = ["glasspane.target", "glasspane-migrate.service", "glasspane-web.service", "glasspane-beat.service",
             "glasspane-events.service"]
    for queue in GLASSPANE_QUEUE_TASKS:  # one worker instance per queue
        (tmp_path / f"glasspane-worker@{queue}.service").symlink_to(tmp_path / "glasspane-worker@.service")
        units.append(f"glasspane-worker@{queue}.service")
    proc = subprocess.run([analyze, "verify", "--man=no", *[str(tmp_path / u) for u in units]],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    # unknown keys and bad values are only warnings to systemd: none is acceptable here
    assert proc.stderr.strip() == "", proc.stderr


def test_the_environment_template_configures_a_production_that_passes_check_deploy(tmp_path):
    values = env_template()
    assert values["DJANGO_SETTINGS_MODULE"] == "portal.settings.production"
    values.update(SECRET_KEY="k" * 20 + "-template-check-0123456789abcdefghijklmnop",
                  GLASSPANE_CREDENTIAL_KEYS=Fernet.generate_key().decode(), GLASSPANE_VAR_DIR=str(tmp_path))
    assert not [k for k, v in values.items() if "CHANGE-ME" in v and k != "DATABASE_URL"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLASSPANE_", "CELERY_", "DATABASE_"))}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    proc = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                          cwd=ROOT, env={**env, **values}, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_reverse_proxy_forwards_what_the_settings_trust():
    conf = (DEPLOY / "nginx" / "glasspane.conf").read_text()
    production = (ROOT / "portal" / "settings" / "production.py").read_text()
    assert 'SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")' in production
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in conf
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in conf  # replaced, never appended
    assert re.search(r"listen 443 ssl", conf) and "return 301 https://" in conf
    bind = env_template()["GLASSPANE_BIND"]
    assert f"server {bind};" in conf
