"""Real server processes for tests: gunicorn serving the test database, and a free port in this
checkout's range (``GLASSPANE_TEST_PORTS``, default 8500-8599)."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


_given: set[int] = set()


def free_port() -> int:
    """A port nobody listens on now and that this process has not handed out before."""
    lo, hi = (int(p) for p in os.environ.get("GLASSPANE_TEST_PORTS", "8500-8599").split("-"))
    ports = [p for p in range(lo, hi + 1) if p not in _given]
    random.shuffle(ports)
    for port in ports:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            _given.add(port)
            return port
    raise RuntimeError(f"no free port in {lo}-{hi}")


def database_url() -> str:
    """The URL of the database this test runs on (the test database), for child processes."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class Gunicorn:
    """``gunicorn -c deploy/gunicorn.conf.py portal.wsgi`` on the test database, in its own var/
    folder (so its embedded broker and generated files never touch the checkout's)."""

    def __init__(self, var_dir: Path, workers: int = 2, env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = var_dir / "gunicorn.log"
        self.env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.test", "DATABASE_URL": database_url(),
                    "GLASSPANE_VAR_DIR": str(var_dir), "GLASSPANE_BIND": f"127.0.0.1:{self.port}",
                    "GLASSPANE_WEB_WORKERS": str(workers), "GLASSPANE_ACCESS_LOG": "",
                    "GLASSPANE_CREDENTIAL_KEYS": ",".join(settings.GLASSPANE_CREDENTIAL_KEYS),
                    "SECRET_KEY": settings.SECRET_KEY, **(env or {})}
        if not self.env["GLASSPANE_ACCESS_LOG"]:
            self.env.pop("GLASSPANE_ACCESS_LOG")
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Gunicorn:
        try:
            return self._start()
        except BaseException:
            self.__exit__()
            raise

    def _start(self) -> Gunicorn:
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "portal.wsgi"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=10).status_code == 200:
                    return self
            except requests.RequestException:  # refused, or a worker still booting
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer within 60 s:\n{self.log.read_text()[-3000:]}")

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def celery(args: list[str], workdir: Path, env: dict | None = None, log_name: str = "celery.log") -> subprocess.Popen:
    """``celery -A portal ARGS`` from a working directory of its own (its own var/, so nothing but
    the database and the broker is shared), importing this checkout's code, on the test database."""
    workdir.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.test", "DATABASE_URL": database_url(),
                "GLASSPANE_VAR_DIR": str(workdir / "var"), "PYTHONPATH": str(ROOT),
                "GLASSPANE_CREDENTIAL_KEYS": ",".join(settings.GLASSPANE_CREDENTIAL_KEYS),
                "SECRET_KEY": settings.SECRET_KEY, **(env or {})}
    with open(workdir / log_name, "wb") as log:
        return subprocess.Popen([sys.executable, "-m", "celery", "-A", "portal", *args], cwd=workdir, env=full_env,
                                stdout=log, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen, timeout: float = 20) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
