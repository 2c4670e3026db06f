"""Breach webhooks are safe outbound calls (issue 17, item 9): no redirects followed, a timeout in
seconds, private and link-local targets refused when ``GLASSPANE_WEBHOOK_DENY_PRIVATE`` is on
(production) unless allowed, and failures recorded without the upstream's body."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rest_framework.test import APIClient

from metering.models import QuotaBreach
from metering.tasks import breach_webhook
from tests.conftest import T0

pytestmark = pytest.mark.django_db
SECRET_BODY = "UPSTREAM-SECRET-BODY internal stack trace"


@pytest.fixture
def server():
    """A local HTTP server; ``server.mode`` picks its answer; ``server.hits`` lists the paths asked."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            srv.hits.append(self.path)
            if srv.mode == "redirect" and self.path == "/hook":
                self.send_response(307)
                self.send_header("Location", "/elsewhere")
                self.end_headers()
            elif srv.mode == "slow":
                time.sleep(3)
                self.send_response(204)
                self.end_headers()
            elif srv.mode == "error":
                body = SECRET_BODY.encode()
                self.send_response(500)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_response(204)
                self.end_headers()

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.hits, srv.mode = [], "ok"
    srv.url = f"http://127.0.0.1:{srv.server_port}/hook"
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def breach(project):
    return QuotaBreach.objects.create(project=project, key="vms", limit=1, used=2, over_by=1,
                                      opened_at=T0 + timedelta(minutes=1))


def deliver(breach, url):
    breach.project.breach_webhook = url
    breach.project.save()
    try:
        breach_webhook.apply(args=(breach.pk, "breach.opened"), throw=True)
    except Exception as exc:  # noqa: BLE001 - the task's failure is what some tests look at
        return exc
    return None


def results(breach):
    breach.refresh_from_db()
    return [a for a in breach.actions if a.get("webhook")]


def test_a_redirect_is_not_followed(settings, server, breach):
    settings.GLASSPANE_WEBHOOK_DENY_PRIVATE = False
    server.mode = "redirect"
    deliver(breach, server.url)
    assert server.hits == ["/hook"]
    assert "redirect" in results(breach)[-1]["result"]


def test_a_slow_receiver_times_out_in_seconds(settings, server, breach):
    settings.GLASSPANE_WEBHOOK_DENY_PRIVATE = False
    settings.GLASSPANE_WEBHOOK_TIMEOUT = 1
    server.mode = "slow"
    started = time.monotonic()
    deliver(breach, server.url)
    assert time.monotonic() - started < 2.5
    assert "timed out" in results(breach)[-1]["result"]


def test_an_error_is_recorded_without_the_upstream_body(settings, server, breach):
    settings.GLASSPANE_WEBHOOK_DENY_PRIVATE = False
    server.mode = "error"
    deliver(breach, server.url)
    result = results(breach)[-1]["result"]
    assert "HTTP 500" in result and "127.0.0.1" in result
    assert "UPSTREAM" not in result and "/hook" not in result


@pytest.mark.parametrize("url", ["http://127.0.0.1:{port}/hook", "http://169.254.169.254/latest/meta-data/",
                                 "http://10.0.0.1/hook", "http://[::1]:{port}/hook", "http://localhost:{port}/hook"])
def test_private_and_link_local_targets_are_refused_when_denied(settings, server, breach, url):
    settings.GLASSPANE_WEBHOOK_DENY_PRIVATE = True
    settings.GLASSPANE_WEBHOOK_ALLOWED_NETWORKS = []
    deliver(breach, url.format(port=server.server_port))
    assert server.hits == []
    assert "refused" in results(breach)[-1]["result"]


def test_the_allow_list_opens_a_private_network(settings, server, breach):
    settings.GLASSPANE_WEBHOOK_DENY_PRIVATE = True
    settings.GLASSPANE_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    deliver(breach, server.url)
    assert server.hits == ["/hook"]
    assert results(breach)[-1]["result"].startswith("delivered")


def test_the_api_refuses_a_denied_webhook_url(settings, api_world):
    settings.GLASSPANE_WEBHOOK_DENY_PRIVATE = True
    settings.GLASSPANE_WEBHOOK_ALLOWED_NETWORKS = []
    client = APIClient()
    client.force_authenticate(api_world.users["staff"])
    r = client.patch("/api/v1/projects/alpha/", {"breach_webhook": "http://169.254.169.254/x"}, format="json")
    assert r.status_code == 400 and "breach_webhook" in r.json(), r.content
    r = client.patch("/api/v1/projects/alpha/", {"breach_webhook": "https://hooks.example.net/x"}, format="json")
    assert r.status_code == 200, r.content


def test_production_denies_private_targets_by_default():
    import os
    import subprocess
    import sys

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.production", "SECRET_KEY": "x" * 60,
           "GLASSPANE_CREDENTIAL_KEYS": "P8y2lQdE0pA2YwL3n2g9s0xq0m1R4yq3uKc7l0JtqWc=",
           "DATABASE_URL": "sqlite:////tmp/unused.sqlite3"}
    code = "import django; django.setup(); from django.conf import settings; print(settings.GLASSPANE_WEBHOOK_DENY_PRIVATE)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "True", out.stderr
