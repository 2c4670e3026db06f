"""Run the simulator over real HTTP: blocking (``serve``, for ``manage.py openstack_sim``) or in a
background thread (``start_in_thread``, for tests).

The HTTP ``Date`` header of every response comes from the simulator clock, so a client can read
the cloud's time the way it would read a real cloud's.
"""

from __future__ import annotations

import threading
from email.utils import format_datetime

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from devsim.openstack.clock import SimClock
from devsim.openstack.seed import ADMIN_PASSWORD, ADMIN_PROJECT, ADMIN_USER
from devsim.openstack.seed import apply as apply_seed
from devsim.openstack.state import CloudState
from devsim.openstack.wsgi import SimulatorApp


class _Handler(WSGIRequestHandler):
    """werkzeug's handler with the simulator clock in ``Date`` and no access log."""

    def date_time_string(self, timestamp=None):
        return format_datetime(self.server.state.clock.now(), usegmt=True)

    def log_request(self, code="-", size="-"):
        self.server.served += 1  # counted, not logged (benchmarks compare request counts)


class SimulatorServer(ThreadedWSGIServer):
    """A threaded HTTP server around one ``CloudState``; ``auth_url`` is what clients are given."""

    def __init__(self, host: str, port: int, state: CloudState):
        self.state = state
        self.served = 0  # requests answered so far
        self.app = SimulatorApp(state)
        super().__init__(host, port, self.app, handler=_Handler)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def auth_url(self) -> str:
        return f"{self.base_url}/v3"

    def stop(self) -> None:
        """Stop serving and release the port. Safe to call twice."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server_close()


def make_state(seed: str | None = "demo", clock: SimClock | None = None) -> CloudState:
    state = CloudState(clock=clock)
    apply_seed(state, seed)
    return state


def start_in_thread(host: str = "127.0.0.1", port: int = 0, seed: str | None = "demo",
                    state: CloudState | None = None, clock: SimClock | None = None):
    """Start serving in a daemon thread: ``(server, auth_url)``. ``port=0`` picks a free port.

    Pass ``state`` to serve an existing cloud (``seed`` is then ignored); call ``server.stop()``.
    """
    server = SimulatorServer(host, port, state or make_state(seed, clock))
    server._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                      name="openstack-sim", daemon=True)
    server._thread.start()
    return server, server.auth_url


def serve(host: str = "127.0.0.1", port: int = 5000, seed: str | None = "demo", clock: SimClock | None = None,
          announce=print) -> None:
    """Serve until interrupted (Ctrl-C returns). ``announce`` receives the lines to show the user."""
    server = SimulatorServer(host, port, make_state(seed, clock))
    announce(f"OpenStack simulator: auth URL {server.auth_url}")
    announce(f"  user {ADMIN_USER!r} password {ADMIN_PASSWORD!r} project {ADMIN_PROJECT!r} domain 'Default'")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
