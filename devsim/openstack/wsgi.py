"""The simulator's WSGI application: routing, token checks, microversions, error bodies.

Each service module (``keystone``, ``nova``, ``cinder``) contributes werkzeug ``Rule`` objects whose
endpoints are handler functions ``handler(ctx, **url_args) -> Response``. This module turns a
request into a ``Context`` (state, parsed request, the authenticated token, the negotiated
microversion, the simulator's base URL), runs the handler under the state lock and records the
request so tests can see what a client did.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map
from werkzeug.wrappers import Request, Response

from devsim.openstack.state import CloudState, RequestRecord, Token

#: Nova's and Cinder's fault names by status (nova.api.openstack.wsgi.Fault._fault_names)
FAULT_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    406: "notAcceptable",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}
KEYSTONE_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    503: "Service Unavailable",
}
UNAUTHENTICATED = "The request you have made requires authentication."


class ApiError(Exception):
    """Raised by handlers; rendered as the owning service's error body."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass
class Context:
    state: CloudState
    request: Request
    base_url: str  # e.g. http://127.0.0.1:5000 (no trailing slash)
    service: str  # identity | compute | volume | image | network | root
    token: Token | None = None
    microversion: tuple[int, int] | None = None

    @property
    def now(self) -> datetime:
        return self.state.clock.now()

    def json_body(self) -> dict[str, Any]:
        try:
            body = json.loads(self.request.get_data(as_text=True) or "null")
        except ValueError:
            raise ApiError(400, "Malformed request body") from None
        if not isinstance(body, dict):
            raise ApiError(400, "Malformed request body")
        return body

    def require_admin(self, policy: str) -> None:
        if self.token is None or not self.token.is_admin:
            raise ApiError(403, f"Policy doesn't allow {policy} to be performed.")

    def mv_at_least(self, major: int, minor: int) -> bool:
        return (self.microversion or (2, 1)) >= (major, minor)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(body), status=status, content_type="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def empty_response(status: int = 204, headers: dict[str, str] | None = None) -> Response:
    response = Response(b"", status=status)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def error_response(service: str, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    if service == "image":  # Glance answers with webob's HTML pages
        from devsim.openstack.glance import html_error

        text = message if status != 401 else (
            "This server could not verify that you are authorized to access the document you requested. Either "
            "you supplied the wrong credentials (e.g., bad password), or your browser does not understand how "
            "to supply the credentials required.")
        response = html_error(status, KEYSTONE_TITLES.get(status, "Error"), text)
        for key, value in (headers or {}).items():
            response.headers[key] = value
        return response
    if service == "network" and status != 401:
        kind = {404: "NetworkNotFound" if "Network" in message else "HTTPNotFound",
                405: "HTTPMethodNotAllowed"}.get(status, "NeutronError")
        return json_response({"NeutronError": {"type": kind, "message": message, "detail": ""}}, status, headers)
    if service in ("identity", "root"):
        body = {"error": {"code": status, "message": message,
                          "title": KEYSTONE_TITLES.get(status, "Error")}}
    elif status == 401:
        # keystonemiddleware answers for Nova and Cinder before they see the request
        body = {"error": {"code": 401, "title": "Unauthorized", "message": message}}
    else:
        body = {FAULT_NAMES.get(status, "computeFault"): {"code": status, "message": message}}
    return json_response(body, status, headers)


def isotime(when: datetime | None, micro: bool = False) -> str | None:
    """Nova's two time formats: ``2013-09-03T04:01:32Z`` and ``2013-09-23T13:53:12.774549``."""
    if when is None:
        return None
    if micro:
        return when.strftime("%Y-%m-%dT%H:%M:%S.%f")
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


class SimulatorApp:
    """The WSGI callable serving Keystone, Nova and Cinder from one ``CloudState``."""

    def __init__(self, state: CloudState):
        from devsim.openstack import cinder, glance, keystone, neutron, nova

        self.state = state
        self.url_map = Map(keystone.rules() + nova.rules() + cinder.rules() + glance.rules() + neutron.rules(),
                           strict_slashes=False, merge_slashes=False)
        self.services = {"identity": keystone, "compute": nova, "volume": cinder, "image": glance,
                         "network": neutron}

    def __call__(self, environ, start_response):
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        base_url = request.host_url.rstrip("/")
        adapter = self.url_map.bind_to_environ(request.environ)
        service = _service_of(request.path)
        ctx = Context(self.state, request, base_url, service)
        try:
            handler, args = adapter.match()
        except NotFound:
            return self._finish(ctx, error_response(service, 404, "The resource could not be found."))
        except MethodNotAllowed:
            return self._finish(ctx, error_response(service, 405, "The method is not allowed for the requested URL."))
        except HTTPException as exc:  # redirects werkzeug may raise for slashes
            return self._finish(ctx, exc.get_response(request.environ))
        with self.state.lock:
            try:
                if service in self.state.faults.unavailable or (
                        service == "root" and "identity" in self.state.faults.unavailable):
                    raise ApiError(503, "The server is currently unavailable. Please try again at a later time.")
                module = self.services.get(service)
                if module is not None:
                    module.prepare(ctx, handler)
                response = handler(ctx, **args)
            except ApiError as exc:
                response = error_response(service, exc.status, exc.message, exc.headers)
            return self._finish(ctx, response)

    def _finish(self, ctx: Context, response: Response) -> Response:
        if ctx.service == "compute" and ctx.microversion:
            version = ".".join(map(str, ctx.microversion))
            response.headers["OpenStack-API-Version"] = f"compute {version}"
            response.headers["X-OpenStack-Nova-API-Version"] = version
            response.headers["Vary"] = "OpenStack-API-Version, X-OpenStack-Nova-API-Version"
        elif ctx.service == "volume" and ctx.microversion:
            response.headers["OpenStack-API-Version"] = "volume " + ".".join(map(str, ctx.microversion))
            response.headers["Vary"] = "OpenStack-API-Version"
        response.headers.setdefault("X-Openstack-Request-Id", "req-" + _request_id())
        with self.state.lock:
            self.state.record(RequestRecord(
                method=ctx.request.method,
                path=ctx.request.path,
                query=dict(ctx.request.args.items()),
                status=response.status_code,
                microversion=".".join(map(str, ctx.microversion)) if ctx.microversion else None,
            ))
        return response


def _service_of(path: str) -> str:
    if path.startswith("/compute"):
        return "compute"
    if path.startswith("/volume"):
        return "volume"
    if path.startswith("/image"):
        return "image"
    if path.startswith("/network"):
        return "network"
    if path.startswith("/v3"):
        return "identity"
    return "root"


def _request_id() -> str:
    return str(uuid.uuid4())


def authenticate(ctx: Context) -> Token:
    """The token in ``X-Auth-Token``, valid on the simulator clock, or a 401."""
    token = ctx.state.valid_token(ctx.request.headers.get("X-Auth-Token"))
    if token is None:
        raise ApiError(401, UNAUTHENTICATED,
                       {"WWW-Authenticate": f'Keystone uri="{ctx.base_url}/v3"'})
    ctx.token = token
    return token


def requested_microversion(ctx: Context, service_name: str, legacy_header: str | None,
                           minimum: tuple[int, int], maximum: tuple[int, int]) -> tuple[int, int]:
    """Parse ``OpenStack-API-Version: <service> X.Y`` (or the legacy header); 406 when out of range."""
    raw = None
    header = ctx.request.headers.get("OpenStack-API-Version", "")
    for part in header.split(","):
        bits = part.strip().split()
        if len(bits) == 2 and bits[0].lower() == service_name:
            raw = bits[1]
    if raw is None and legacy_header:
        raw = ctx.request.headers.get(legacy_header)
    if not raw:
        return minimum
    if raw.strip().lower() == "latest":
        return maximum
    try:
        major, minor = (int(x) for x in raw.strip().split("."))
    except ValueError:
        raise ApiError(400, f"Invalid format for API version: {raw}.") from None
    if not (minimum <= (major, minor) <= maximum):
        low, high = ".".join(map(str, minimum)), ".".join(map(str, maximum))
        raise ApiError(406, f"Version {raw} is not supported by the API. Minimum is {low} and maximum is {high}.")
    return major, minor


def paginate(items: list, ctx: Context, key=lambda item: item.id) -> tuple[list, int, int]:
    """Slice ``items`` by ``marker``/``limit`` query args: (page, start index, effective limit).

    As in Nova and Cinder, callers add a next link whenever the page is full (``len(page) ==
    limit``), so a listing whose size is a multiple of the limit ends with an empty page.
    """
    marker = ctx.request.args.get("marker")
    start = 0
    if marker:
        for index, item in enumerate(items):
            if key(item) == marker:
                start = index + 1
                break
        else:
            raise ApiError(400, f"marker [{marker}] not found")
    limit_raw = ctx.request.args.get("limit")
    if limit_raw is None:
        limit = 1000  # Nova's and Cinder's osapi_max_limit default
    else:
        try:
            limit = int(limit_raw)
        except ValueError:
            raise ApiError(400, "limit param must be an integer") from None
        if limit < 0:
            raise ApiError(400, "limit param must be positive")
        limit = min(limit, 1000)
    return items[start:start + limit], start, limit


def next_link(ctx: Context, path: str, page: list, key=lambda item: item.id, **extra: str) -> list[dict]:
    """A ``*_links`` list with one ``rel: next`` whose query keeps the request's filters."""
    args = {k: v for k, v in ctx.request.args.items() if k != "marker"}
    args.update(extra)
    limit = args.get("limit") or "1000"
    args["limit"] = limit
    args["marker"] = key(page[-1])
    return [{"href": f"{ctx.base_url}{path}?{urlencode(sorted(args.items()))}", "rel": "next"}]
