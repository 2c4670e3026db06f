"""Figures from the stand-alone benchmark scripts (pages, quota admission), each run in a process
of its own on a database of its own, their printed numbers read back into the table."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg
from django.db import connection

from bench.harness import Figure

ROOT = Path(__file__).resolve().parents[1]


def _server_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}"


def _fresh_database(name: str) -> str:
    server = _server_url()
    with psycopg.connect(f"{server}/postgres", autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name}")
        c.execute(f"CREATE DATABASE {name}")
    return f"{server}/{name}"


def _run(script: str, args: list[str], database_url: str, timeout: int = 300) -> str:
    env = {**os.environ, "DATABASE_URL": database_url}
    proc = subprocess.run([sys.executable, script, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{script} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def pages() -> list[Figure]:
    out = _run("bench/pages.py", ["--requests", "20"], _fresh_database("glasspane_bench_pages"))
    figures = []
    for line in out.splitlines():
        m = re.match(r"^(\S.*?)\s+([\d.]+)\s+([\d.]+)$", line)
        if m and not line.startswith("page"):
            label, p50, p95 = m.group(1).strip(), float(m.group(2)), float(m.group(3))
            figures.append(Figure(f"page p95: {label}", p95, None, "ms", "< 150 ms", f"p50 {p50:.0f} ms"))
    return figures


def quota_admission() -> list[Figure]:
    out = _run("bench/quota_admission.py", ["--clients", "32", "--seconds", "10"], _server_url() + "/glasspane_quota")
    rate = re.search(r"decisions: (\d+) \((\d+)/s\)", out)
    over = re.search(r"over-admissions: (\d+)", out)
    latency = re.search(r"latency ms: p50 ([\d.]+), p95 ([\d.]+)", out)
    note = f"32 clients, one project; over-admissions: {over.group(1) if over else '?'}"
    if latency:
        note += f"; latency p50 {latency.group(1)} ms, p95 {latency.group(2)} ms"
    return [Figure("quota admission", float(rate.group(2)) if rate else None, None, "decisions/s",
                   ">= 500/s, 0 over-admissions", note)]
