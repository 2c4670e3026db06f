"""The overview under concurrent users, through gunicorn: p50 and p95 of whole HTTP requests.

Builds the pages benchmark's data (``bench.pages.build``: one project of about 900 resources at
the default 3,600), starts gunicorn (``deploy/gunicorn.conf.py``) on it, signs in 16 clients
and has each load the project's overview (this month) ``--requests`` times at once.

    DATABASE_URL=postgres://.../gp_bench .venv/bin/python bench/overview_load.py [--clients 16]

Needs ``DATABASE_URL`` on a database of its own: it is flushed and filled.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")

import requests  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from bench import pages  # noqa: E402  (sets Django up)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=3600)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=10, help="per client")
    parser.add_argument("--workers", type=int, default=5, help="gunicorn workers")
    parser.add_argument("--port", type=int, default=8590)
    parser.add_argument("--reuse", action="store_true", help="keep the data already in the database")
    args = parser.parse_args()
    if "DATABASE_URL" not in os.environ or os.environ["DATABASE_URL"].startswith("sqlite"):
        print("set DATABASE_URL to a PostgreSQL database of its own", file=sys.stderr)
        return 2
    if not args.reuse:
        call_command("migrate", verbosity=0)
        call_command("flush", interactive=False, verbosity=0)
        pages.build(args.resources, args.days)
    project = pages.Project.objects.get(slug="webshop")
    print(f"webshop: {pages.Resource.objects.filter(project=project).count()} resources, "
          f"{pages.UsageSegment.objects.filter(project=project).count()} segments")
    user = get_user_model().objects.get(username="bench-admin")
    cookies = []
    for _ in range(args.clients):
        client = Client()
        client.force_login(user)
        cookies.append(client.cookies[settings.SESSION_COOKIE_NAME].value)

    env = {**os.environ, "GLASSPANE_BIND": f"127.0.0.1:{args.port}", "GLASSPANE_WEB_WORKERS": str(args.workers),
           "GLASSPANE_ACCESS_LOG": "/dev/null", "SECRET_KEY": settings.SECRET_KEY}
    web = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "portal.wsgi"],
                           cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{args.port}/projects/webshop/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"http://127.0.0.1:{args.port}/healthz", timeout=5)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        for cookie in cookies[: args.workers * 2]:  # warm every worker once
            assert requests.get(url, cookies={settings.SESSION_COOKIE_NAME: cookie}, timeout=120).status_code == 200
        times: list[float] = []
        errors: list[int] = []
        start = threading.Barrier(args.clients)

        def client(cookie: str) -> None:
            session = requests.Session()
            session.cookies.set(settings.SESSION_COOKIE_NAME, cookie)
            start.wait()
            for _ in range(args.requests):
                t = time.perf_counter()
                response = session.get(url, timeout=300)
                times.append(time.perf_counter() - t)
                if response.status_code != 200:
                    errors.append(response.status_code)

        threads = [threading.Thread(target=client, args=(c,)) for c in cookies]
        began = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - began
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(30)
    print(f"{args.clients} clients x {args.requests} overview requests through gunicorn ({args.workers} workers), "
          f"{os.cpu_count()} cores: p50 {statistics.median(times) * 1000:.0f} ms, "
          f"p95 {percentile(times, 0.95) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms, "
          f"{len(times) / wall:.1f} requests/s, errors {len(errors)}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
