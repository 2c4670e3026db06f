"""Run the simulated API server over real HTTP: in a background thread (tests, the demo's process)
or blocking (``python -m devsim.kubernetes``, which ``make run`` starts for the demo)."""

from __future__ import annotations

import argparse
import threading
from email.utils import format_datetime

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from devsim.kubernetes import seed
from devsim.kubernetes.state import ClusterState
from devsim.kubernetes.wsgi import SimulatorApp


class _Handler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"  # chunked watch streams and keep-alive, as the real server speaks

    def date_time_string(self, timestamp=None):
        """The ``Date`` header from the simulated clock, so clients read the cluster's time."""
        return format_datetime(self.server.state.clock.now(), usegmt=True)

    def log_request(self, code="-", size="-"):
        pass


class SimulatorServer(ThreadedWSGIServer):
    """A threaded HTTP server around one ``ClusterState``; ``url`` is the API server URL to give clients."""

    daemon_threads = True

    def __init__(self, host: str, port: int, state: ClusterState):
        self.state = state
        self.app = SimulatorApp(state)
        super().__init__(host, port, self.app, handler=_Handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        """Stop serving (open watches end within a quarter second) and release the port. Safe twice."""
        self.app.closing = True
        with self.state.lock:
            self.state.changed.notify_all()
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server_close()


def start_in_thread(state: ClusterState | None = None, host: str = "127.0.0.1", port: int = 0) -> SimulatorServer:
    """Serve ``state`` (default: the demo cluster) from a daemon thread; ``port=0`` picks a free port."""
    if state is None:
        state = ClusterState()
        seed.demo(state)
    server = SimulatorServer(host, port, state)
    server._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                      name="kubernetes-sim", daemon=True)
    server._thread.start()
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devsim.kubernetes",
                                     description="Serve a simulated Kubernetes API server (with KubeVirt).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6443)
    parser.add_argument("--seed", choices=("demo", "empty"), default="demo")
    parser.add_argument("--no-kubevirt", action="store_true", help="do not serve the kubevirt.io group")
    args = parser.parse_args(argv)
    state = ClusterState(kubevirt=not args.no_kubevirt)
    seed.base(state)
    if args.seed == "demo":
        seed.demo(state)
    server = SimulatorServer(args.host, args.port, state)
    print(f"Kubernetes simulator: API server {server.url}  bearer token {seed.ADMIN_TOKEN!r}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
