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
    # 1 is a script's "a target was missed"; a traceback exits 1 too, and its figures would be
    # silently missing from the table (a pages run whose gunicorn could not start printed none)
    if proc.returncode not in (0, 1) or "Traceback (most recent call last)" in proc.stderr:
        raise RuntimeError(f"{script} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def pages() -> list[Figure]:
    """bench/pages.py: 10,000 resources, 12 months, through gunicorn; the floor is the same stack's
    smallest signed-in page (the providers list), measured in the same run."""
    out = _run("bench/pages.py", ["--requests", "20"], _fresh_database("glasspane_bench_pages"), timeout=900)
    rows = []
    for line in out.splitlines():
        m = re.match(r"^(\S.*?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", line)
        if m:
            rows.append((m.group(1).strip(), *(float(m.group(i)) for i in range(2, 7))))
    floor = next((r[3] for r in rows if r[0].startswith("floor")), None)
    figures = []
    for label, cold, p50, p95, web, db in rows:
        if label.startswith("floor"):
            continue
        target = "-" if label.startswith("download") else "< 150 ms"
        figures.append(Figure(f"page p95: {label}", p95, floor, "ms", target,
                              f"p50 {p50:.0f} ms, cold {cold:.0f} ms; server CPU {web:.0f} + db {db:.0f} ms"))
    load = re.search(r"load: (\d+) clients .*?p50 (\d+) ms, p95 (\d+) ms, ([\d.]+) requests/s, errors (\d+); "
                     r"web cpu ([\d.]+) ms, db cpu ([\d.]+) ms", out)
    if load:
        clients, p50, p95, rate, errors, web, db = load.groups()
        note = (f"priced overview; p50 {p50} ms; server CPU {float(web):.0f} + db {float(db):.0f} ms a request; "
                f"errors {errors}")
        figures.append(Figure(f"pages, {clients} clients: p95", float(p95), None, "ms", "< 500 ms", note))
        figures.append(Figure(f"pages, {clients} clients: throughput", float(rate), None, "requests/s", ">= 40/s",
                              note))
    return figures


def quota_admission() -> list[Figure]:
    """Decisions/s from several processes calling the admission service, and through the HTTP API
    under gunicorn, each beside its floor (see bench/quota_admission.py)."""
    out = _run("bench/quota_admission.py", [], _server_url() + "/glasspane_quota", timeout=600)

    def rate(label: str) -> float | None:
        m = re.search(rf"^{label}: \d+ \((\d+)/s\)", out, re.M)
        return float(m.group(1)) if m else None

    over = re.search(r"over-admissions: (\d+)", out)
    cost = re.search(r"client CPU ([\d.]+) ms and ([\d.]+) round trips per decision", out)
    load = re.search(r"load average at end: (\S+)", out)
    note = f"over-admissions: {over.group(1) if over else '?'}; load {load.group(1) if load else '?'}"
    service_note = "6 processes, one project; floor: bare INSERT ... SELECT; " + note
    if cost:
        service_note += f"; {cost.group(2)} round trips, {cost.group(1)} ms client CPU per decision"
    return [
        Figure("quota admission (service)", rate("decisions"), rate("floor"), "decisions/s",
               ">= 500/s, 0 over-admissions", service_note),
        Figure("quota admission (HTTP API, gunicorn)", rate("http"), rate("http floor"), "decisions/s",
               ">= 150/s, 0 over-admissions", "floor: GET /api/v1/quota-defaults/ (token auth, one query); " + note),
    ]
