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
