"""The simulator's WSGI application: discovery, authentication, RBAC, list/watch/get/create/update/
patch/delete, and the metrics API, every failure a ``Status`` object as the API server sends it.

Paths follow the API server's layout: ``/api/v1/<plural>[/<name>]`` for cluster-scoped and
all-namespaces requests, ``/api/v1/namespaces/<ns>/<plural>[/<name>]`` for namespaced ones, and the
same under ``/apis/<group>/<version>``. A group that is switched off is absent from ``/apis`` and its
paths answer 404 like any path the server does not serve.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import copy
import json
import time
from collections.abc import Iterator
from decimal import Decimal

from kubernetes.utils.quantity import parse_quantity
from werkzeug.wrappers import Request, Response

from devsim.kubernetes.state import (
    KUBEVIRT,
    METRICS,
    TYPES,
    ApiError,
    ClusterState,
    RequestRecord,
    ResourceType,
    _selected,
    not_found,
    pod_requests,
    rfc3339,
    type_key,
)

NOT_SERVED = "the server could not find the requested resource"
EXPIRED_CONTINUE = ("The provided continue parameter is too old to display a consistent list result. You can "
                    "start a new list without the continue parameter, or use the continue token in this response "
                    "to retrieve the remainder of the results. Continuing with the provided token results in an "
                    "inconsistent list - objects that were created, modified, or deleted between the time the "
                    "first chunk was returned and now may show up in the list.")
PREFERRED = {KUBEVIRT: "v1", METRICS: "v1beta1"}


def json_response(body, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


class SimulatorApp:
    """The WSGI callable serving one ``ClusterState``."""

    def __init__(self, state: ClusterState):
        self.state = state
        self.closing = False

    def __call__(self, environ, start_response):
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        state = self.state
        try:
            subject = self._authenticate(request)
            with state.lock:
                state.settle()
                response = self.route(request, subject)
        except ApiError as exc:
            response = json_response(exc.status(), exc.code)
        with state.lock:
            state.record(RequestRecord(request.method, request.path, dict(request.args.items()),
                                       response.status_code))
        return response

    def _authenticate(self, request: Request):
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        subject = self.state.tokens.get(token)
        if subject is None:
            raise ApiError(401, "Unauthorized", "Unauthorized")
        return subject

    # -- routing ------------------------------------------------------------------------------------

    def route(self, request: Request, subject) -> Response:
        parts = [p for p in request.path.split("/") if p]
        if parts == ["version"]:
            return json_response(self.state.version)
        if parts == ["api"]:
            return json_response({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": request.host}]})
        if parts == ["apis"]:
            return json_response({"kind": "APIGroupList", "apiVersion": "v1",
                                  "groups": [self._group(g) for g in self._groups()]})
        if parts[:2] == ["api", "v1"]:
            group, rest = "", parts[2:]
        elif len(parts) >= 2 and parts[0] == "apis" and parts[1] in self._groups():
            group = parts[1]
            if len(parts) == 2:
                return json_response({"kind": "APIGroup", "apiVersion": "v1", **self._group(group)})
            if parts[2] != PREFERRED[group]:
                raise ApiError(404, "NotFound", NOT_SERVED)
            rest = parts[3:]
        else:
            raise ApiError(404, "NotFound", NOT_SERVED)
        if not rest:
            return json_response(self._resource_list(group))
        namespace, plural, name = self._split(rest, group)
        key = type_key(group, plural)
        if key is None:
            raise ApiError(404, "NotFound", NOT_SERVED)
        rtype = TYPES[key]
        verb = self._verb(request, name)
        if verb not in rtype.verbs:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested "
                           "resource", {"kind": rtype.plural})
        if not subject.can(verb, group, plural):
            raise _forbidden(subject.user, verb, rtype, namespace, name)
        if group == METRICS:
            return self.metrics(key, namespace, name)
        handler = getattr(self, f"do_{verb}")
        return handler(request, key, rtype, namespace, name)

    def _groups(self) -> list[str]:
        return [g for g, on in ((KUBEVIRT, self.state.kubevirt), (METRICS, self.state.metrics)) if on]

    @staticmethod
    def _group(group: str) -> dict:
        version = {"groupVersion": f"{group}/{PREFERRED[group]}", "version": PREFERRED[group]}
        return {"name": group, "versions": [version], "preferredVersion": version}

    @staticmethod
    def _resource_list(group: str) -> dict:
        version = PREFERRED.get(group, "v1")
        resources = []
        for rtype in TYPES.values():
            if rtype.group == group:
                entry = {"name": rtype.plural, "singularName": rtype.singular, "namespaced": rtype.namespaced,
                         "kind": rtype.kind, "verbs": list(rtype.verbs)}
                if rtype.short_names:
                    entry["shortNames"] = list(rtype.short_names)
                if group:
                    entry["categories"] = ["all"] if group == KUBEVIRT else []
                resources.append(entry)
                if rtype.plural == "resourcequotas":
                    resources.append({"name": "resourcequotas/status", "singularName": "", "namespaced": True,
                                      "kind": "ResourceQuota", "verbs": ["get", "patch", "update"]})
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else "v1", "resources": resources}

    @staticmethod
    def _split(rest: list[str], group: str) -> tuple[str | None, str, str | None]:
        """(namespace, plural, name) from the path segments after the group version."""
        if rest[0] == "namespaces" and len(rest) >= 3:
            if len(rest) > 4:
                raise ApiError(404, "NotFound", NOT_SERVED)
            return rest[1], rest[2], rest[3] if len(rest) == 4 else None
        if len(rest) > 2:
            raise ApiError(404, "NotFound", NOT_SERVED)
        return None, rest[0], rest[1] if len(rest) == 2 else None

    @staticmethod
    def _verb(request: Request, name: str | None) -> str:
        method = request.method
        if method == "GET":
            if name:
                return "get"
            return "watch" if _flag(request.args.get("watch")) else "list"
        return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method, "unknown")

    # -- reads --------------------------------------------------------------------------------------

    def _present(self, key: str, obj: dict) -> dict:
        if key == "resourcequotas":
            obj = {**obj, "status": self.state.quota_status(obj)}
        return obj

    def do_get(self, request, key, rtype, namespace, name) -> Response:
        scope = (namespace or "") if rtype.namespaced else ""
        if rtype.namespaced and namespace is None:
            raise ApiError(404, "NotFound", NOT_SERVED)
        return json_response(self._present(key, self.state.get(key, scope, name)))

    def do_list(self, request, key, rtype, namespace, name) -> Response:
        args = request.args
        selector = args.get("labelSelector", "")
        limit = _int_arg(args.get("limit"), "limit")
        token = args.get("continue")
        state = self.state
        if token:
            rv, start = _decode_continue(token)
            items = state.stored_snapshot(key, namespace, selector, rv)
            if items is None:
                raise ApiError(410, "Expired", EXPIRED_CONTINUE)
        else:
            core = not rtype.group

            def present(obj):
                obj = self._present(key, obj)
                if core:  # the API server leaves kind and apiVersion out of a core list's items
                    obj = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
                return json.dumps(obj)

            rv, items = state.snapshot(key, namespace, selector, present)
            start = ""
        begin = bisect.bisect_right(items, start, key=lambda item: item[0]) if start else 0
        page = items[begin:begin + limit] if limit else items[begin:]
        meta: dict = {"resourceVersion": str(rv)}
        remaining = len(items) - begin - len(page)
        if limit and remaining > 0:
            meta["continue"] = _encode_continue(rv, page[-1][0])
            meta["remainingItemCount"] = remaining
        head = json.dumps({"kind": f"{rtype.kind}List", "apiVersion": rtype.api_version, "metadata": meta})
        body = head[:-1] + ', "items": [' + ", ".join(data for _, data in page) + "]}"
        return Response(body, status=200, content_type="application/json")

    def do_watch(self, request, key, rtype, namespace, name) -> Response:
        args = request.args
        raw_rv = args.get("resourceVersion") or "0"
        try:
            since = int(raw_rv)
        except ValueError:
            raise ApiError(400, "BadRequest", f'invalid resource version "{raw_rv}"') from None
        timeout = _int_arg(args.get("timeoutSeconds"), "timeoutSeconds") or 1800
        bookmarks = _flag(args.get("allowWatchBookmarks"))
        selector = args.get("labelSelector", "")
        stream = self._stream(key, rtype, namespace, selector, since, timeout, bookmarks)
        return Response(stream, status=200, content_type="application/json")

    def _stream(self, key, rtype, namespace, selector, since, timeout, bookmarks) -> Iterator[bytes]:
        state = self.state
        deadline = time.monotonic() + timeout

        def matches(obj):
            return (namespace is None or obj["metadata"].get("namespace") == namespace) and _selected(obj, selector)

        with state.lock:
            if since == 0:  # no version: synthetic ADDED events for what exists, then changes
                initial = [o for o in state.items(key) if matches(o)]
                since = state.rv
                lines = [_line("ADDED", o, rtype) for o in initial]
            elif since < state.oldest_rv:
                gone = ApiError(410, "Expired", f"too old resource version: {since} ({state.oldest_rv})")
                lines, since = [_line("ERROR", gone.status(), None)], None
            else:
                lines = []
        yield from lines
        if since is None:
            return
        next_bookmark = time.monotonic()
        while not self.closing and time.monotonic() < deadline:
            with state.lock:
                start = bisect.bisect_right(state.history, since, key=lambda e: e.rv)
                events = [e for e in state.history[start:] if e.type_key == key
                          and (namespace is None or e.namespace == namespace)
                          and _selected({"metadata": {"labels": e.labels}}, selector)]
                current = state.rv
                if not events and (not bookmarks or time.monotonic() < next_bookmark):
                    wait = min(deadline, next_bookmark if bookmarks else deadline) - time.monotonic()
                    state.changed.wait(timeout=max(0.01, min(wait, 0.25)))
                    state.settle()
                    continue
            for event in events:
                yield f'{{"type": "{event.type}", "object": {event.data}}}\n'.encode()
            since = current
            if bookmarks and time.monotonic() >= next_bookmark:
                yield _line("BOOKMARK", {"kind": rtype.kind, "apiVersion": rtype.api_version,
                                         "metadata": {"resourceVersion": str(current)}}, None)
                next_bookmark = time.monotonic() + state.bookmark_interval

    # -- writes -------------------------------------------------------------------------------------

    def do_create(self, request, key, rtype, namespace, name) -> Response:
        state = self.state
        body = _body(request)
        if not isinstance(body, dict) or not isinstance(body.get("metadata"), dict) or not body["metadata"].get("name"):
            raise ApiError(422, "Invalid", f"{rtype.kind} is invalid: metadata.name: Required value: name or "
                           f"generateName is required", {"kind": rtype.kind})
        meta = body["metadata"]
        obj_name = meta["name"]
        if rtype.namespaced:
            if namespace is None:
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested "
                               "resource")
            if meta.get("namespace") not in (None, namespace):
                raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the "
                               "namespace sent on the request")
            meta["namespace"] = namespace
            if state.find("namespaces", "", namespace) is None:
                raise ApiError(404, "NotFound", f'namespaces "{namespace}" not found',
                               {"name": namespace, "kind": "namespaces"})
        scope = namespace if rtype.namespaced else ""
        if state.find(key, scope, obj_name) is not None:
            raise ApiError(409, "AlreadyExists", f'{rtype.qualified} "{obj_name}" already exists',
                           {"name": obj_name, "group": rtype.group, "kind": rtype.plural})
        for field in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp"):
            meta.pop(field, None)
        body.pop("status", None)
        if key == "pods":
            _require_containers(body)
            created = state.create_pod(body)
        elif key == "virtualmachines":
            _require_template(body)
            state.admit(namespace, "virtualmachines.kubevirt.io", obj_name,
                        {"count/virtualmachines.kubevirt.io": Decimal(1)})
            created = state.reconcile_vm(state.put(key, body))
        elif key == "persistentvolumeclaims":
            storage = (((body.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")
            if not storage:
                raise ApiError(422, "Invalid", f'PersistentVolumeClaim "{obj_name}" is invalid: '
                               f'spec.resources[storage]: Required value', {"name": obj_name})
            state.admit(namespace, "persistentvolumeclaims", obj_name,
                        {"persistentvolumeclaims": Decimal(1), "requests.storage": parse_quantity(storage)})
            body["spec"].setdefault("volumeMode", "Filesystem")
            body["status"] = {"phase": "Bound", "accessModes": body["spec"].get("accessModes", ["ReadWriteOnce"]),
                              "capacity": {"storage": storage}}
            body["spec"].setdefault("volumeName", f"pvc-{obj_name}")
            created = state.put(key, body)
        elif key == "resourcequotas":
            _check_hard(body)
            created = state.put(key, body)
        elif key == "namespaces":
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = obj_name
            body["spec"], body["status"] = {"finalizers": ["kubernetes"]}, {"phase": "Active"}
            created = state.put(key, body)
        else:
            created = state.put(key, body)
        return json_response(self._present(key, created), 201)

    def do_update(self, request, key, rtype, namespace, name) -> Response:
        state = self.state
        current = state.get(key, namespace or "", name)
        body = _body(request)
        if not isinstance(body, dict) or not isinstance(body.get("metadata"), dict):
            raise ApiError(400, "BadRequest", "the body of the request was not a valid object")
        sent_rv = body["metadata"].get("resourceVersion")
        if sent_rv and sent_rv != current["metadata"]["resourceVersion"]:
            raise _conflict(rtype, name)
        if body["metadata"].get("name") != name:
            raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
        return self._replace(key, rtype, current, body)

    def do_patch(self, request, key, rtype, namespace, name) -> Response:
        current = self.state.get(key, namespace or "", name)
        content_type = (request.content_type or "").split(";")[0].strip()
        patch = _body(request)
        merged = copy.deepcopy(current)
        if content_type == "application/json-patch+json":
            merged = _json_patch(merged, patch)
        elif content_type in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            if not isinstance(patch, dict):
                raise ApiError(400, "BadRequest", "the body of the request was not a valid merge patch")
            merged = _merge(merged, patch)
        else:
            raise ApiError(415, "UnsupportedMediaType", 'the body of the request was in an unknown format - '
                           'accepted media types include: application/json-patch+json, application/merge-patch+json, '
                           'application/apply-patch+yaml', {})
        sent_rv = (merged.get("metadata") or {}).get("resourceVersion")
        if sent_rv and sent_rv != current["metadata"]["resourceVersion"]:
            raise _conflict(rtype, name)
        return self._replace(key, rtype, current, merged)

    def _replace(self, key, rtype, current, body) -> Response:
        state = self.state
        body["metadata"]["namespace"] = current["metadata"].get("namespace")
        if rtype.namespaced is False:
            body["metadata"].pop("namespace", None)
        if key == "resourcequotas":
            _check_hard(body)
        if key in ("pods", "persistentvolumeclaims", "namespaces", "nodes"):
            body.setdefault("status", current.get("status"))
            if key == "pods" and body.get("spec") != current.get("spec"):
                body["spec"] = _pod_spec_update(current["spec"], body.get("spec") or {})
        if key == "virtualmachines":
            body["status"] = current.get("status")
            updated = state.reconcile_vm(body)
        else:
            body.pop("status", None) if key == "resourcequotas" else None
            updated = state.put(key, body)
        return json_response(self._present(key, updated))

    def do_delete(self, request, key, rtype, namespace, name) -> Response:
        state = self.state
        options = _body(request, optional=True) or {}
        grace = request.args.get("gracePeriodSeconds", options.get("gracePeriodSeconds"))
        uid = ((options.get("preconditions") or {}).get("uid")) if isinstance(options, dict) else None
        if key == "pods":
            deleted = state.delete_pod(namespace, name, None if grace is None else int(grace), uid)
        elif key == "virtualmachines":
            deleted = state.delete_vm(namespace, name)
        else:
            current = state.get(key, namespace or "", name)
            if uid and current["metadata"]["uid"] != uid:
                raise _conflict(rtype, name)
            deleted = state.remove(key, namespace or "", name)
        return json_response(deleted)

    # -- metrics.k8s.io -----------------------------------------------------------------------------

    def metrics(self, key: str, namespace: str | None, name: str | None) -> Response:
        state = self.state
        stamp = rfc3339(state.now())
        pods = [p for p in state.items("pods") if p["status"].get("phase") == "Running"]
        per_pod = {p["metadata"]["uid"]: _pod_usage(state, p) for p in pods}
        if key == "nodes.metrics":
            items = []
            for node in state.items("nodes"):
                node_name = node["metadata"]["name"]
                cpu = sum((c for p in pods if p["spec"].get("nodeName") == node_name
                           for c, _ in per_pod[p["metadata"]["uid"]].values()), Decimal("0.05"))
                mem = sum((m for p in pods if p["spec"].get("nodeName") == node_name
                           for _, m in per_pod[p["metadata"]["uid"]].values()), Decimal(512 * 2**20))
                items.append({"metadata": {"name": node_name, "creationTimestamp": stamp,
                                           "labels": node["metadata"].get("labels", {})},
                              "timestamp": stamp, "window": "20.029s",
                              "usage": {"cpu": f"{int(cpu * 10**9)}n", "memory": f"{int(mem) // 1024}Ki"}})
            kind = "NodeMetrics"
        else:
            items = []
            for pod in pods:
                if namespace is not None and pod["metadata"]["namespace"] != namespace:
                    continue
                usage = per_pod[pod["metadata"]["uid"]]
                items.append({"metadata": {"name": pod["metadata"]["name"],
                                           "namespace": pod["metadata"]["namespace"], "creationTimestamp": stamp,
                                           "labels": pod["metadata"].get("labels", {})},
                              "timestamp": stamp, "window": "18.593s",
                              "containers": [{"name": c, "usage": {"cpu": f"{int(cpu * 10**9)}n",
                                                                   "memory": f"{int(mem) // 1024}Ki"}}
                                             for c, (cpu, mem) in usage.items()]})
            kind = "PodMetrics"
        if name is not None:
            for item in items:
                if item["metadata"]["name"] == name:
                    return json_response({"kind": kind, "apiVersion": "metrics.k8s.io/v1beta1", **item})
            raise not_found(TYPES[key], name)
        return json_response({"kind": f"{kind}List", "apiVersion": "metrics.k8s.io/v1beta1",
                              "metadata": {}, "items": items})


# -- helpers ------------------------------------------------------------------------------------------


def _pod_usage(state: ClusterState, pod: dict) -> dict[str, tuple[Decimal, Decimal]]:
    """Per container (cpu cores, memory bytes): a quarter of the request, or the test's override."""
    override = state.pod_usage.get(pod["metadata"]["uid"])
    result = {}
    for container in pod["spec"].get("containers", []):
        requests = (container.get("resources") or {}).get("requests") or {}
        if override:
            cpu, mem = parse_quantity(override[0]), parse_quantity(override[1])
        else:
            cpu = parse_quantity(requests.get("cpu", "20m")) / 4
            mem = parse_quantity(requests.get("memory", "64Mi")) / 4
        result[container["name"]] = (cpu, mem)
    return result


def _line(kind: str, obj: dict, rtype: ResourceType | None) -> bytes:
    if rtype is not None:
        obj = {"apiVersion": rtype.api_version, "kind": rtype.kind, **obj}
    return (json.dumps({"type": kind, "object": obj}) + "\n").encode()


def _encode_continue(rv: int, start: str) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start + "\x00"}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, str]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if raw.get("v") != "meta.k8s.io/v1":
            raise ValueError
        return int(raw["rv"]), str(raw["start"]).rstrip("\x00")
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ApiError(400, "BadRequest", "continue key is not valid: incorrect encoded start resourceVersion "
                       "(version meta.k8s.io/v1)") from None


def _int_arg(raw: str | None, what: str) -> int | None:
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "BadRequest", f'invalid value for {what}: "{raw}"') from None
    if value < 0:
        raise ApiError(400, "BadRequest", f"{what} must be non-negative")
    return value


def _body(request: Request, optional: bool = False):
    data = request.get_data(as_text=True)
    if not data:
        if optional:
            return None
        raise ApiError(400, "BadRequest", "the body of the request was empty")
    try:
        return json.loads(data)
    except ValueError as exc:
        raise ApiError(400, "BadRequest", f"the object provided is unrecognized: {exc}") from None


def _forbidden(user: str, verb: str, rtype: ResourceType, namespace: str | None, name: str | None) -> ApiError:
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    subject = f'{rtype.qualified} "{name}"' if name else rtype.qualified
    message = (f'{subject} is forbidden: User "{user}" cannot {verb} resource "{rtype.plural}" in API group '
               f'"{rtype.group}" {scope}')
    details = {"kind": rtype.plural, **({"group": rtype.group} if rtype.group else {}),
               **({"name": name} if name else {})}
    return ApiError(403, "Forbidden", message, details)


def _conflict(rtype: ResourceType, name: str) -> ApiError:
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {rtype.qualified} "{name}": the object has '
                    f'been modified; please apply your changes to the latest version and try again',
                    {"name": name, "kind": rtype.plural, **({"group": rtype.group} if rtype.group else {})})


def _check_hard(body: dict) -> None:
    name = body["metadata"].get("name")
    for resource, value in ((body.get("spec") or {}).get("hard") or {}).items():
        try:
            parse_quantity(value)
        except (ValueError, TypeError):
            raise ApiError(422, "Invalid", f'ResourceQuota "{name}" is invalid: spec.hard[{resource}]: Invalid '
                           f'value: "{value}": quantities must match the regular expression '
                           "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
                           {"name": name, "kind": "ResourceQuota"}) from None


def _require_containers(body: dict) -> None:
    containers = (body.get("spec") or {}).get("containers")
    if not containers:
        name = body["metadata"]["name"]
        raise ApiError(422, "Invalid", f'Pod "{name}" is invalid: spec.containers: Required value',
                       {"name": name, "kind": "Pod"})
    for container in containers:
        try:
            pod_requests({"spec": {"containers": [container]}})
        except (ValueError, TypeError):
            raise ApiError(422, "Invalid", f'Pod "{body["metadata"]["name"]}" is invalid: '
                           f'spec.containers[0].resources: Invalid value', {"kind": "Pod"}) from None


def _require_template(body: dict) -> None:
    template = (body.get("spec") or {}).get("template")
    if not isinstance(template, dict) or not isinstance(template.get("spec"), dict):
        name = body["metadata"]["name"]
        raise ApiError(422, "Invalid", f'VirtualMachine.kubevirt.io "{name}" is invalid: spec.template: Required value',
                       {"name": name, "kind": "VirtualMachine", "group": "kubevirt.io"})


def _pod_spec_update(current: dict, wanted: dict) -> dict:
    """Pods are immutable but for a few fields (images, activeDeadlineSeconds, tolerations)."""
    allowed = copy.deepcopy(current)
    for index, container in enumerate(wanted.get("containers") or []):
        if index < len(allowed.get("containers", [])) and container.get("image"):
            allowed["containers"][index]["image"] = container["image"]
    if "activeDeadlineSeconds" in wanted:
        allowed["activeDeadlineSeconds"] = wanted["activeDeadlineSeconds"]
    return allowed


def _merge(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


def _json_patch(doc: dict, ops) -> dict:
    """RFC 6902 add/replace/remove/test, which is what clients send."""
    if not isinstance(ops, list):
        raise ApiError(400, "BadRequest", "the body of the request was not a JSON patch list")
    for op in ops:
        path = [p.replace("~1", "/").replace("~0", "~") for p in str(op.get("path", "")).split("/")[1:]]
        if not path:
            raise ApiError(422, "Invalid", "the JSON patch has an empty path")
        parent = doc
        for part in path[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent.setdefault(part, {})
        last = path[-1]
        kind = op.get("op")
        if kind in ("add", "replace"):
            if isinstance(parent, list):
                index = len(parent) if last == "-" else int(last)
                if kind == "add":
                    parent.insert(index, op.get("value"))
                else:
                    parent[index] = op.get("value")
            else:
                if kind == "replace" and last not in parent:
                    raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our "
                                   f"request: replace operation does not apply: doc is missing key: /{'/'.join(path)}")
                parent[last] = op.get("value")
        elif kind == "remove":
            try:
                del parent[int(last) if isinstance(parent, list) else last]
            except (KeyError, IndexError):
                raise ApiError(422, "Invalid", f"remove operation does not apply: doc is missing path: "
                               f"/{'/'.join(path)}") from None
        elif kind == "test":
            if (parent[int(last)] if isinstance(parent, list) else parent.get(last)) != op.get("value"):
                raise ApiError(422, "Invalid", f"testing value /{'/'.join(path)} failed")
        else:
            raise ApiError(422, "Invalid", f"unknown JSON patch operation {kind!r}")
    return doc


def _flag(raw: str | None) -> bool:
    """A boolean query parameter as Go's ``strconv.ParseBool`` reads it (``true``, ``True``, ``1``...)."""
    return (raw or "").lower() in ("1", "t", "true")
