"""Nothing hangs: an endpoint answering 401 to Keystone version discovery, and one that never
answers, both fail a refresh at once with a message that says what is wrong (issue 15, point 5).

Not against the real control plane: a real Keystone answers discovery; the defect is what happens
when the configured URL is something else (a proxy demanding a login, a wrong path, a dead peer).
"""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from metering import collector
from metering.choices import AccountHealth as Health
from metering.models import CollectionState
from providers.base import ProviderDataError
from providers.models import ProviderAccount
from providers.openstack.driver import OpenStackDriver

ADMIN = {"username": "admin", "password": "admin", "project_name": "admin"}


class _Unauthorized(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = b'{"error": {"code": 401, "title": "Unauthorized", "message": "authentication required"}}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET  # noqa: N815

    def log_message(self, *args):
        pass


@pytest.fixture
def unauthorized_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Unauthorized)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v3"
    server.shutdown()
    server.server_close()


@pytest.fixture
def silent_url():
    """A port that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v3"
    sock.close()


def _in_thread(fn, limit: float):
    result: dict = {}

    def target():
        try:
            result["value"] = fn()
        except Exception as exc:  # noqa: BLE001 - handed to the test
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    began = time.monotonic()
    thread.start()
    thread.join(limit)
    assert not thread.is_alive(), f"still waiting after {limit}s"
    return result, time.monotonic() - began


def test_a_401_to_version_discovery_fails_fast_and_says_why(unauthorized_url):
    driver = OpenStackDriver({"auth_url": unauthorized_url}, ADMIN)
    result, took = _in_thread(driver.inventory, 20)
    error = result.get("error")
    assert isinstance(error, ProviderDataError), result
    assert "answered 401 to version discovery" in str(error) and "credentials" not in str(error).split(":")[0]
    assert took < 5


def test_a_peer_that_never_answers_times_out(silent_url):
    driver = OpenStackDriver({"auth_url": silent_url, "timeout": 2}, ADMIN)
    result, took = _in_thread(driver.health, 20)
    assert result["value"].ok is False and "did not answer" in result["value"].message
    assert took < 10


@pytest.mark.django_db
def test_refresh_of_such_an_account_is_recorded_failed_quickly(unauthorized_url):
    account = ProviderAccount(name="proxy", kind="openstack", settings={"auth_url": unauthorized_url})
    account.credentials = ADMIN
    account.save()
    began = time.monotonic()
    run = collector.refresh(account)  # in this thread: the test database belongs to it
    state = CollectionState.objects.get(account=account)
    assert time.monotonic() - began < 5
    assert run.status == "failed" and state.health == Health.UNHEALTHY
    assert "version discovery" in state.health_message
