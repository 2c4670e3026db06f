"""The dashboard's pages at 10,000 resources and 12 months of history, through gunicorn over HTTP.

One dataset (``bench.datagen.pages_history``: COPY, about a minute) serves every figure. The web
server is production's: gunicorn with ``deploy/gunicorn.conf.py`` and ``portal.settings.production``
(DEBUG off, the manifest static storage after ``collectstatic``, database sessions, the shared Redis
cache of ``GLASSPANE_CACHE_URL``, the psycopg pool), reached over loopback as the reverse proxy
reaches it (``X-Forwarded-Proto: https``). Each page is fetched once cold (the first request after
the data was written: nothing cached), once per gunicorn worker to warm them, then ``--requests`` times;
p50 and p95 of whole HTTP requests are printed with the server's CPU per request (gunicorn workers
and their PostgreSQL backends, from /proc), which is what to trust on a shared machine. Then
``--clients`` clients in separate processes (four threads each, one HTTP session per client) load
the priced overview at once. Targets: single-client p95 < 150 ms for every page; 16 clients
p95 < 500 ms and >= 40 requests/s.

    DATABASE_URL=postgres://.../gp_bench .venv/bin/python bench/pages.py [--resources 10000] [--days 365]

Needs ``DATABASE_URL`` on a PostgreSQL database of its own (it is flushed and filled) and Redis
(``GLASSPANE_CACHE_URL``, else ``CELERY_BROKER_URL`` when it is Redis, else redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import argparse
import http.cookiejar
import multiprocessing
import os
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")

import django  # noqa: E402

django.setup()

import requests  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench import datagen  # noqa: E402

#: what the reverse proxy (deploy/nginx) adds to every request it forwards
PROXY_HEADERS = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "127.0.0.1"}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))]


def cache_url() -> str:
    url = os.environ.get("GLASSPANE_CACHE_URL", "")
    if not url:
        broker = os.environ.get("CELERY_BROKER_URL", "")
        url = broker if broker.startswith("redis://") else "redis://127.0.0.1:6379/0"
    return url


def check_rollups(days: list) -> None:
    """The generated rollups of these days equal what ``metering.daily.rebuild`` writes."""
    from metering import daily
    from metering.models import DailyUsage

    cols = ("resource_id", "account_id", "project_id", "state", "vcpus", "ram_mb", "disk_gb", "estimated", "us")
    for day in days:
        generated = sorted(DailyUsage.objects.filter(day=day).values_list(*cols))
        daily.rebuild(day)
        rebuilt = sorted(DailyUsage.objects.filter(day=day).values_list(*cols))
        if generated != rebuilt:
            raise SystemExit(f"generated rollups of {day} differ from daily.rebuild ({len(generated)} vs {len(rebuilt)})")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far (processes gone since count nothing)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


class Server:
    """gunicorn as production runs it, on a free port, against the benchmark's database."""

    def __init__(self, workers: int | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portal.settings.production",
            "SECRET_KEY": settings.SECRET_KEY,
            "GLASSPANE_CREDENTIAL_KEYS": ",".join(settings.GLASSPANE_CREDENTIAL_KEYS) or secrets.token_urlsafe(32),
            "GLASSPANE_ALLOWED_HOSTS": "127.0.0.1",
            "GLASSPANE_CACHE_URL": cache_url(),
            "GLASSPANE_BIND": f"127.0.0.1:{self.port}",
            "GLASSPANE_ACCESS_LOG": "/dev/null",
            "GLASSPANE_LOG_LEVEL": "WARNING",
        }
        if workers:
            self.env["GLASSPANE_WEB_WORKERS"] = str(workers)
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT,
                       env=self.env, check=True)
        self.process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py",
                                         "portal.wsgi"], cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL,
                                        stderr=open(ROOT / "var" / "bench-gunicorn.log", "w"))
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{self.url}/healthz", headers=PROXY_HEADERS, timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise SystemExit("gunicorn did not answer /healthz (see var/bench-gunicorn.log)")
            time.sleep(0.3)
        return self

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(30)

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return [int(p) for p in children]

    def database_pids(self) -> list[int]:
        with connection.cursor() as cur:
            cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid()")
            return [row[0] for row in cur.fetchall()]

    def cpu(self) -> tuple[float, float]:
        """(gunicorn workers' CPU seconds, their database backends' CPU seconds) so far."""
        return cpu_seconds(self.worker_pids()), cpu_seconds(self.database_pids())


def session_cookie(username: str) -> str:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client.cookies[settings.SESSION_COOKIE_NAME].value


class _KeepOwnCookies(http.cookiejar.DefaultCookiePolicy):
    """The session cookie is ours: the server's Set-Cookie (Secure, since production is HTTPS behind
    the proxy) would replace it with one a plain-HTTP client never sends back."""

    def set_ok(self, cookie, request):
        return False


def http_session(cookie: str) -> requests.Session:
    s = requests.Session()
    s.headers.update(PROXY_HEADERS)
    s.cookies.set_policy(_KeepOwnCookies())
    s.cookies.set(settings.SESSION_COOKIE_NAME, cookie, domain="127.0.0.1")
    return s


def get(session: requests.Session, url: str) -> float:
    """Milliseconds for one whole request (body read); fails on anything but 200."""
    t = time.perf_counter()
    response = session.get(url, timeout=300, allow_redirects=False)
    response.content  # noqa: B018
    elapsed = (time.perf_counter() - t) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{url}: HTTP {response.status_code} {response.headers.get('Location', '')}")
    return elapsed


def pages_to_measure(days: int) -> list[tuple[str, str, str]]:
    today = timezone.localdate()
    since = (today - timedelta(days=60)).isoformat()
    last_month = f"{today.replace(day=1) - timedelta(days=1):%Y-%m}"
    sixty = f"?start={since}&end={today}"
    return [
        ("floor: providers list (3 accounts)", "bench-admin", "/providers/"),
        ("overview, this month", "bench-admin", "/projects/webshop/"),
        ("overview, 60 days", "bench-admin", f"/projects/webshop/{sixty}"),
        ("overview, 60 days (member)", "bench-member", f"/projects/webshop/{sixty}"),
        ("overview, this month, priced", "bench-admin", "/projects/analytics/"),
        ("overview, 60 days, priced", "bench-admin", f"/projects/analytics/{sixty}"),
        ("download: overview CSV, 60 days", "bench-member", f"/projects/webshop/{sixty}&format=csv"),
        ("inventory", "bench-admin", "/inventory/"),
        ("inventory, filtered + sorted", "bench-admin", "/inventory/?kind=vm&q=prod&sort=-vcpus&page=3"),
        ("inventory (member)", "bench-member", "/inventory/"),
        ("resource detail, 7 d", "bench-admin", "/resources/{vm}/?window=7d"),
        ("admin overview, this month", "bench-admin", "/admin-overview/"),
        ("admin overview, 60 days", "bench-admin", f"/admin-overview/{sixty}"),
        ("chargeback, this month", "bench-admin", f"/projects/analytics/chargeback/?period={today:%Y-%m}"),
        ("chargeback, last month", "bench-admin", f"/projects/analytics/chargeback/?period={last_month}"),
        ("download: chargeback CSV, last month", "bench-admin",
         f"/projects/analytics/chargeback/?period={last_month}&format=csv"),
        ("chargeback, all projects", "bench-admin", "/chargeback/"),
        ("quotas", "bench-admin", "/quotas/"),
        ("home, all projects", "bench-admin", "/"),
    ]


def single_client(server: Server, n: int, days: int) -> float:
    from metering.models import UtilizationRollup

    vm = UtilizationRollup.objects.values_list("resource_id", flat=True).first()
    cookies = {u: session_cookie(u) for u in ("bench-admin", "bench-member")}
    warm = http_session(cookies["bench-admin"])
    for _ in range(3 * len(server.worker_pids())):  # every worker has loaded the code and the base templates
        get(warm, server.url + "/inventory/")
    print(f"{'page':38} {'cold ms':>8} {'p50 ms':>8} {'p95 ms':>8} {'web cpu ms':>10} {'db cpu ms':>9}")
    worst = 0.0
    for label, username, path in pages_to_measure(days):
        url = server.url + path.format(vm=vm)
        session = http_session(cookies[username])
        cold = get(session, url)
        for _ in range(len(server.worker_pids())):  # each worker has loaded this page's templates, more or less
            get(session, url)
        web0, db0 = server.cpu()
        samples = [get(session, url) for _ in range(n)]
        web1, db1 = server.cpu()
        p50, p95 = statistics.median(samples), percentile(samples, 0.95)
        if not label.startswith(("download", "floor")):  # downloads stream whole statements: not a page target
            worst = max(worst, p95)
        print(f"{label:38} {cold:8.1f} {p50:8.1f} {p95:8.1f} {(web1 - web0) * 1000 / n:10.1f} "
              f"{(db1 - db0) * 1000 / n:9.1f}", flush=True)
    print(f"worst p95: {worst:.1f} ms (target < 150 ms)")
    return worst


def _load_process(url: str, cookies: list[str], requests_each: int, barrier, results) -> None:
    times: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(cookie: str) -> None:
        session = http_session(cookie)
        barrier.wait()
        for _ in range(requests_each):
            try:
                ms = get(session, url)
            except (SystemExit, requests.RequestException) as exc:
                with lock:
                    errors.append(str(exc))
                continue
            with lock:
                times.append(ms)

    threads = [threading.Thread(target=client, args=(c,)) for c in cookies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put((times, errors))


def load(server: Server, clients: int, requests_each: int, path: str = "/projects/analytics/",
         threads_per_process: int = 4) -> dict:
    """``clients`` clients at once, ``requests_each`` requests each, from separate processes."""
    cookies = [session_cookie("bench-admin") for _ in range(clients)]
    url = server.url + path
    warm = http_session(cookies[0])
    for _ in range(10):  # every worker has served the page once, more or less
        get(warm, url)
    connection.close()  # children are forked: none of them may share this process's connection
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(clients + 1)
    results = ctx.Queue()
    groups = [cookies[i:i + threads_per_process] for i in range(0, clients, threads_per_process)]
    procs = [ctx.Process(target=_load_process, args=(url, g, requests_each, barrier, results)) for g in groups]
    for p in procs:
        p.start()
    barrier.wait()
    web0, db0 = server.cpu()
    began = time.perf_counter()
    times, errors = [], []
    for _ in procs:
        t, e = results.get(timeout=600)
        times += t
        errors += e
    wall = time.perf_counter() - began
    web1, db1 = server.cpu()
    for p in procs:
        p.join()
    done = len(times) or 1
    out = {"p50": statistics.median(times) if times else 0.0, "p95": percentile(times, 0.95) if times else 0.0,
           "rate": len(times) / wall, "errors": len(errors), "requests": len(times),
           "web_cpu": (web1 - web0) * 1000 / done, "db_cpu": (db1 - db0) * 1000 / done}
    print(f"load: {clients} clients x {requests_each} requests of {path} through gunicorn "
          f"({len(server.worker_pids())} workers), {os.cpu_count()} cores: p50 {out['p50']:.0f} ms, "
          f"p95 {out['p95']:.0f} ms, {out['rate']:.1f} requests/s, errors {out['errors']}; "
          f"web cpu {out['web_cpu']:.1f} ms, db cpu {out['db_cpu']:.1f} ms per request; "
          f"load average {os.getloadavg()[0]:.1f}")
    if errors:
        print(f"load: first error: {errors[0]}")
    return out


def build(resources: int, days: int) -> None:
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    t = time.perf_counter()
    facts = datagen.pages_history(resources, days)
    today = facts["now"].date()
    check_rollups([today - timedelta(days=1), today - timedelta(days=days // 2)])
    print(f"built {facts['resources']} resources, {facts['segments']} segments, {facts['daily_rows']} daily rollup "
          f"rows over {days} days in {time.perf_counter() - t:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page, one client")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients on the priced overview")
    parser.add_argument("--load-requests", type=int, default=15, help="requests per concurrent client")
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: production's)")
    parser.add_argument("--reuse", action="store_true", help="keep the data already in the database")
    parser.add_argument("--only", default="", help="measure only the pages whose label holds this")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        print("set DATABASE_URL to a PostgreSQL database of its own", file=sys.stderr)
        return 2
    if not args.reuse:
        build(args.resources, args.days)
    print(f"database: PostgreSQL; cache: {cache_url()}; {args.requests} requests per page after a cold one and "
          f"one per worker; load average {os.getloadavg()[0]:.1f}")
    with Server(args.workers) as server:
        if args.only:
            global pages_to_measure
            every = pages_to_measure
            pages_to_measure = lambda days: [p for p in every(days) if args.only in p[0]]  # noqa: E731
        if args.requests:
            single_client(server, args.requests, args.days)
        if args.clients:
            result = load(server, args.clients, args.load_requests)
            if result["errors"]:
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
