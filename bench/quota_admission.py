"""Benchmark: quota admission decisions per second, from several processes and through the HTTP API.

Two figures, each beside its floor measured in the same run, on a throw-away PostgreSQL database:

* **service**: ``--processes`` processes (each with its own database connection) call
  ``metering.quotas.submit`` in a loop for ``--seconds`` against one project's limit of ``--limit``
  VMs. Floor: the same number of processes, each executing in a loop one bare single-statement
  ``INSERT ... SELECT`` round trip of the same shape (it reads the project's active reservations
  and inserts one row, committed), with no Python around it.
* **http**: ``--clients`` client processes POST ``/api/v1/provision-requests/`` with personal
  access tokens to gunicorn started as production starts it (``deploy/gunicorn.conf.py``, its
  default workers: 2 x cores + 1, the production settings and connection pool). Floor: the same
  clients GET ``/api/v1/quota-defaults/`` through the same gunicorn: token authentication, one
  small query, a JSON answer.

Admitted requests stand for provisioning in flight: a *releaser* in the parent releases every
reservation older than ``--hold`` seconds. It does so under the project's lock (the lock
admission takes) after counting the active reservations, so it sees every state an admission
leaves before anything is released: a count above the limit is an over-admission, which must
never happen (exit status 1). Nothing is provisioned (the provisioning task is not queued in
the service figure; through HTTP it goes to whatever broker ``CELERY_BROKER_URL`` names).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/glasspane_bench .venv/bin/python bench/quota_admission.py

A throw-away database (``test_<name>``) is created and dropped, like the test suite does.
Prints ``decisions ...``, ``floor ...``, ``http ...``, ``http floor ...`` and ``over-admissions`` lines,
plus the round trips and CPU each decision costs, and the load average (the machine may be shared).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection, connections  # noqa: E402

from metering.choices import ChangeSource  # noqa: E402
from metering.models import Membership, Project, Reservation  # noqa: E402
from metering.quotas import QuotaExceeded, admission, set_limits, submit  # noqa: E402
from portal.models import PersonalAccessToken, TokenScope  # noqa: E402
from providers.models import ProviderAccount  # noqa: E402

SPEC = {"name": "vm", "kind": "vm", "vcpus": 1, "ram_mb": 512}


def conninfo() -> str:
    s = connection.settings_dict
    return (f"host={s['HOST'] or '127.0.0.1'} port={s['PORT'] or 5432} user={s['USER']} dbname={s['NAME']}"
            + (f" password={s['PASSWORD']}" if s.get("PASSWORD") else ""))


# -- the releaser (and over-admission check) -------------------------------------------------------------


class Releaser(threading.Thread):
    """Every 20 ms, under the project's lock: count the active reservations (more than the limit
    is an over-admission), then release those older than ``hold``."""

    def __init__(self, project_id: int, limit: int, hold: float):
        super().__init__(daemon=True)
        self.project_id, self.limit, self.hold = project_id, limit, hold
        self.over = self.rounds = self.peak = 0
        self.stop = threading.Event()
        self.table = Reservation._meta.db_table

    def run(self) -> None:
        with psycopg.connect(conninfo()) as conn:
            while not self.stop.is_set():
                self.round(conn)
                time.sleep(0.02)
            self.round(conn)

    def round(self, conn) -> None:
        with conn.transaction():
            conn.execute(f"SELECT 1 FROM {Project._meta.db_table} WHERE id = %s FOR UPDATE", (self.project_id,))
            active = conn.execute(f"SELECT count(*) FROM {self.table} WHERE project_id = %s AND active",
                                  (self.project_id,)).fetchone()[0]
            self.peak = max(self.peak, active)
            self.over += active > self.limit
            self.rounds += 1
            conn.execute(f"UPDATE {self.table} SET active = false, released_at = now() WHERE project_id = %s "
                         f"AND active AND created_at < now() - make_interval(secs => %s)", (self.project_id, self.hold))


# -- the service figure ----------------------------------------------------------------------------------


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _service_client(project_id: int, account_id: int, seconds: float, barrier, out) -> None:
    admission.enqueue_provision = lambda request_id: None  # decisions only: nothing is provisioned
    project, account = Project.objects.get(pk=project_id), ProviderAccount.objects.get(pk=account_id)
    counts = {"admitted": 0, "refused": 0, "round_trips": 0}

    def orm_query(execute, sql, params, many, context):  # each ORM query is a round trip of its own
        counts["round_trips"] += 1
        return execute(sql, params, many, context)

    connection.ensure_connection()
    real_pipeline = type(connection.connection).pipeline

    def counted_pipeline(self):  # a pipeline is one round trip
        counts["round_trips"] += 1
        return real_pipeline(self)

    type(connection.connection).pipeline = counted_pipeline
    barrier.wait()
    cpu, stop_at = _cpu(), time.monotonic() + seconds
    with connection.execute_wrapper(orm_query):
        while time.monotonic() < stop_at:
            try:
                submit(project, account, SPEC, user=None, source=ChangeSource.API)
                counts["admitted"] += 1
            except QuotaExceeded:
                counts["refused"] += 1
    out.put({**counts, "cpu": _cpu() - cpu})
    connections.close_all()


def _floor_client(project_id: int, account_id: int, seconds: float, barrier, out) -> None:
    statement = (f"INSERT INTO bench_floor (project_id, account_id, held, at) "
                 f"SELECT %s, %s, count(*), now() FROM {Reservation._meta.db_table} WHERE project_id = %s AND active "
                 f"RETURNING id")
    with psycopg.connect(conninfo(), autocommit=True) as conn:
        barrier.wait()
        n, cpu, stop_at = 0, _cpu(), time.monotonic() + seconds
        while time.monotonic() < stop_at:
            conn.execute(statement, (project_id, account_id, project_id)).fetchone()
            n += 1
    out.put({"admitted": 0, "refused": n, "round_trips": n, "cpu": _cpu() - cpu})


def _run_processes(target, n: int, args: tuple) -> tuple[dict, float]:
    """``n`` processes running ``target`` at once (forked, each opening its own connection)."""
    return _run_each(target, [args] * n)


def _run_each(target, each: list[tuple]) -> tuple[dict, float]:
    """One forked process per argument tuple, started together; summed results and elapsed time."""
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    barrier, out = ctx.Barrier(len(each) + 1), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, barrier, out)) for args in each]
    for p in procs:
        p.start()
    barrier.wait()
    began = time.monotonic()
    results = [out.get(timeout=600) for _ in procs]
    elapsed = time.monotonic() - began
    for p in procs:
        p.join()
    totals = {key: sum(r[key] for r in results) for key in results[0]}
    return totals, elapsed


def service(args, project: Project, account: ProviderAccount, releaser: Releaser) -> None:
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_floor (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
                       "project_id bigint, account_id bigint, held bigint, at timestamptz)")
    floor, floor_s = _run_processes(_floor_client, args.processes, (project.pk, account.pk, args.seconds))
    ours, ours_s = _run_processes(_service_client, args.processes, (project.pk, account.pk, args.seconds))
    decisions, floor_n = ours["admitted"] + ours["refused"], floor["refused"]
    print(f"decisions: {decisions} ({decisions / ours_s:.0f}/s) from {args.processes} processes: "
          f"admitted {ours['admitted']}, refused {ours['refused']}; client CPU {ours['cpu'] / decisions * 1000:.2f} ms "
          f"and {ours['round_trips'] / decisions:.2f} round trips per decision")
    print(f"floor: {floor_n} ({floor_n / floor_s:.0f}/s) bare INSERT ... SELECT round trips from {args.processes} "
          f"processes; client CPU {floor['cpu'] / floor_n * 1000:.2f} ms each")


# -- the HTTP figure -------------------------------------------------------------------------------------


def _http_client(port: int, token: str, method: str, path: str, body: bytes, seconds: float, barrier, out) -> None:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Host": "127.0.0.1"}
    counts = {"admitted": 0, "refused": 0, "errors": 0}
    barrier.wait()
    stop_at = time.monotonic() + seconds
    while time.monotonic() < stop_at:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)  # sync workers close after each answer
        conn.request(method, path, body=body if method == "POST" else None, headers=headers)
        response = conn.getresponse()
        status, answer = response.status, response.read()
        conn.close()
        if status not in (200, 202, 403) and not counts["errors"]:
            print(f"{method} {path}: {status} {answer[:300]!r}", file=sys.stderr)
        if status in (200, 202):
            counts["admitted"] += 1
        elif status == 403 and method == "POST":
            counts["refused"] += 1
        else:
            counts["errors"] += 1
    out.put({**counts, "cpu": 0.0})


def http_figures(args, project: Project, account: ProviderAccount) -> int:
    from django.contrib.auth import get_user_model

    tokens = []
    for i in range(args.clients):
        user = get_user_model().objects.create_user(f"bench-member-{i}")
        Membership.objects.create(user=user, project=project, role="member")
        tokens.append(PersonalAccessToken.issue(user, scope=TokenScope.WRITE)[1])
    var = tempfile.mkdtemp(prefix="glasspane-bench-admission-")
    s = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.production",
           "DATABASE_URL": f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}",
           "GLASSPANE_BIND": f"127.0.0.1:{args.port}", "GLASSPANE_ACCESS_LOG": "/dev/null",
           "GLASSPANE_ALLOWED_HOSTS": "127.0.0.1", "GLASSPANE_SSL_REDIRECT": "0", "GLASSPANE_VAR_DIR": var,
           "SECRET_KEY": secrets.token_urlsafe(50), "GLASSPANE_CREDENTIAL_KEYS": ",".join(settings.GLASSPANE_CREDENTIAL_KEYS)}
    env.pop("GLASSPANE_WEB_WORKERS", None)  # production's default: 2 x cores + 1
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env,
                   check=True)  # as scripts/run.sh does: the production settings serve the manifest's names
    log = Path(var) / "gunicorn.log"
    with open(log, "wb") as out:
        web = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "portal.wsgi"],
                               cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    errors = 0
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or web.poll() is not None:
                raise RuntimeError(f"gunicorn did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        body = json.dumps({"project": project.slug, "provider": account.name, **SPEC}).encode()
        runs = {}
        for label, method, path in (("floor", "GET", "/api/v1/quota-defaults/"),
                                    ("http", "POST", "/api/v1/provision-requests/")):
            _run_processes(_http_client, args.clients, (args.port, tokens[0], method, path, body, 1.0))  # warm up
            totals, elapsed = _run_each(_http_client, [(args.port, token, method, path, body, args.seconds)
                                                       for token in tokens])
            runs[label] = (totals, elapsed)
            errors += totals["errors"]
        ours, ours_s = runs["http"]
        floor, floor_s = runs["floor"]
        decisions = ours["admitted"] + ours["refused"]
        workers = min(2 * multiprocessing.cpu_count() + 1, 9)
        print(f"http: {decisions} ({decisions / ours_s:.0f}/s) decisions through gunicorn ({workers} workers, "
              f"{args.clients} client processes): admitted {ours['admitted']}, refused {ours['refused']}, "
              f"errors {ours['errors']}")
        print(f"http floor: {floor['admitted']} ({floor['admitted'] / floor_s:.0f}/s) GET /api/v1/quota-defaults/ "
              f"with the same tokens and gunicorn; errors {floor['errors']}")
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(30)
    if errors:
        print(f"gunicorn's log ends:\n{log.read_text()[-3000:]}", file=sys.stderr)
    return errors


# -- main ------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=6, help="service client processes")
    parser.add_argument("--clients", type=int, default=8, help="HTTP client processes")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--limit", type=int, default=20, help="VM limit of the project")
    parser.add_argument("--hold", type=float, default=0.2, help="seconds an admitted request keeps its reservation")
    parser.add_argument("--port", type=int, default=0, help="gunicorn's port (default: a free one)")
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()
    if not args.port:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            args.port = probe.getsockname()[1]
    if connection.vendor != "postgresql":
        print("set DATABASE_URL to a PostgreSQL server", file=sys.stderr)
        return 2
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        return run(args)
    finally:
        connections.close_all()
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run(args) -> int:
    project = Project.objects.create(slug="bench", name="Bench")
    # a real kind (the production settings know no fake one); nothing is provisioned, so it is never reached
    account = ProviderAccount.objects.create(name="bench", kind="openstack", settings={"auth_url": "http://127.0.0.1:1/v3"})
    set_limits(project, {"vms": args.limit}, user=None, source=ChangeSource.CLI)
    print(f"database: {connection.vendor}, seconds: {args.seconds}, vm limit: {args.limit}, hold: {args.hold}s, "
          f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    releaser = Releaser(project.pk, args.limit, args.hold)
    releaser.start()
    errors = 0
    try:
        service(args, project, account, releaser)
        if not args.skip_http:
            errors = http_figures(args, project, account)
    finally:
        releaser.stop.set()
        releaser.join()
    print(f"over-admissions: {releaser.over} (active reservations checked under the lock {releaser.rounds} times, "
          f"peak {releaser.peak} of {args.limit})")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 1 if releaser.over or errors else 0


if __name__ == "__main__":
    sys.exit(main())
