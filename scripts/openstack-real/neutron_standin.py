"""A read-only Neutron stand-in for the real OpenStack test cloud (stdlib only).

Nova needs a network endpoint in the catalog even for servers booted with ``networks="none"``:
it asks Neutron for the ports of a server when deleting it, and for its networks when asked for
``auto``. This answers every collection read with an empty list (``GET /v2.0/ports`` ->
``{"ports": []}``), version discovery with one v2.0 entry, ``/v2.0/extensions`` with none, the
auto-allocated-topology dry run with 409 as a Neutron without a default external network (so
Nova refuses ``networks="auto"`` in its own words), and any write with 403 in Neutron's error
shape. It holds no state.

    python3 neutron_standin.py --port 9696 [--host 127.0.0.1]
"""

from __future__ import annotations

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class Handler(BaseHTTPRequestHandler):
    server_version = "neutron-standin/1"

    def _send(self, status: int, body: dict | None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = urlsplit(self.path).path.rstrip("/")
        base = f"http://{self.headers.get('Host') or '127.0.0.1'}"
        if path == "":
            self._send(200, {"versions": [{"id": "v2.0", "status": "CURRENT",
                                           "links": [{"href": f"{base}/v2.0/", "rel": "self"}]}]})
            return
        parts = [p for p in path.split("/") if p]
        if parts[0] != "v2.0":
            self._send(404, {"NeutronError": {"type": "HTTPNotFound", "message": "not found", "detail": ""}})
            return
        if len(parts) == 1:
            self._send(200, {"resources": []})
            return
        if parts[1] == "auto-allocated-topology":
            # as Neutron with no default external network: the dry run refuses, and Nova then
            # refuses networks="auto" with its own 400 (instead of a 500 on a 404)
            self._send(409, {"NeutronError": {"type": "DeploymentError", "detail": "",
                                              "message": "Deployment error: No default router:external network."}})
            return
        collection = parts[-1].replace("-", "_")
        if len(parts) == 2 or parts[-2] in ("quotas",):
            self._send(200, {collection: []})
            return
        self._send(404, {"NeutronError": {"type": "NotFound", "message": f"{path} not found", "detail": ""}})

    def _refuse(self) -> None:
        self._send(403, {"NeutronError": {"type": "PolicyNotAuthorized", "detail": "",
                                          "message": "this network service stand-in is read-only"}})

    do_POST = do_PUT = do_PATCH = _refuse  # noqa: N815

    def do_DELETE(self) -> None:  # noqa: N802
        self._send(404, {"NeutronError": {"type": "NotFound", "message": "nothing to delete", "detail": ""}})

    def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9696)
    args = parser.parse_args()
    ThreadingHTTPServer((args.host, args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
