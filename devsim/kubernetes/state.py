"""The simulated cluster: typed object store, resourceVersions, watch history, tokens and controllers.

Objects are stored as the JSON dicts the API returns (``apiVersion``, ``kind``, ``metadata``, ``spec``,
``status``). Every write takes the next value of one global ``resourceVersion`` counter (as etcd's
revision does) and appends an event to the watch history. ``compact()`` forgets history and paging
snapshots older than now, after which a watch or a ``continue`` from before answers 410 Gone.

Controllers run inside writes, so the store is always settled: the "scheduler" places a new pod on
the node with fewest pods and the "kubelet" starts it at once; a pod deleted with a grace period
stays ``Terminating`` until the clock passes its ``deletionTimestamp``; the KubeVirt controller keeps
a VirtualMachineInstance and its ``virt-launcher`` pod in step with the VM's ``runStrategy``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from kubernetes.utils.quantity import parse_quantity

from devsim.openstack.clock import SimClock


@dataclass(frozen=True)
class ResourceType:
    """One REST resource as discovery describes it."""

    group: str  # "" for the core group
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str
    verbs: tuple[str, ...] = ("create", "delete", "get", "list", "patch", "update", "watch")
    short_names: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``pods`` or ``virtualmachines.kubevirt.io``, as error messages name a resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


READ_ONLY = ("get", "list")
CORE = "core"
KUBEVIRT = "kubevirt.io"
METRICS = "metrics.k8s.io"

TYPES: dict[str, ResourceType] = {
    "nodes": ResourceType("", "v1", "nodes", "Node", False, "node", short_names=("no",)),
    "namespaces": ResourceType("", "v1", "namespaces", "Namespace", False, "namespace", short_names=("ns",)),
    "pods": ResourceType("", "v1", "pods", "Pod", True, "pod", short_names=("po",)),
    "persistentvolumeclaims": ResourceType("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True,
                                           "persistentvolumeclaim", short_names=("pvc",)),
    "resourcequotas": ResourceType("", "v1", "resourcequotas", "ResourceQuota", True, "resourcequota",
                                   short_names=("quota",)),
    "virtualmachines": ResourceType(KUBEVIRT, "v1", "virtualmachines", "VirtualMachine", True, "virtualmachine",
                                    short_names=("vm", "vms")),
    "virtualmachineinstances": ResourceType(KUBEVIRT, "v1", "virtualmachineinstances", "VirtualMachineInstance",
                                            True, "virtualmachineinstance", short_names=("vmi", "vmis")),
    "nodes.metrics": ResourceType(METRICS, "v1beta1", "nodes", "NodeMetrics", False, "", verbs=READ_ONLY),
    "pods.metrics": ResourceType(METRICS, "v1beta1", "pods", "PodMetrics", True, "", verbs=READ_ONLY),
}
STORED = ("nodes", "namespaces", "pods", "persistentvolumeclaims", "resourcequotas", "virtualmachines",
          "virtualmachineinstances")


def type_key(group: str, plural: str) -> str | None:
    for key, rtype in TYPES.items():
        if rtype.group == group and rtype.plural == plural:
            return key
    return None


def rfc3339(when: datetime | None) -> str | None:
    """Kubernetes ``metav1.Time``: whole seconds, UTC, ``Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if when else None


def stable_uid(*parts: str) -> str:
    """A UUID derived from names, so a restarted demo keeps its ids."""
    return str(uuid.UUID(hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]))


class ApiError(Exception):
    """Raised by the store and handlers; rendered as a ``Status`` object."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details or {}

    def status(self) -> dict:
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}
        if self.details:
            body["details"] = self.details
        return body


def not_found(rtype: ResourceType, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{rtype.qualified} "{name}" not found',
                    {"name": name, "group": rtype.group, "kind": rtype.plural} if rtype.group
                    else {"name": name, "kind": rtype.plural})


@dataclass
class Rule:
    """An RBAC PolicyRule: verbs on resources of API groups ("*" matches all)."""

    verbs: frozenset[str]
    groups: frozenset[str]
    resources: frozenset[str]

    def allows(self, verb: str, group: str, plural: str) -> bool:
        return (("*" in self.verbs or verb in self.verbs) and ("*" in self.groups or group in self.groups)
                and ("*" in self.resources or plural in self.resources))


def rule(verbs: str, groups: str, resources: str) -> Rule:
    split = lambda text: frozenset(x.strip() for x in text.split(",")) if text else frozenset({""})  # noqa: E731
    return Rule(split(verbs), split(groups) if groups != "core" else frozenset({""}), split(resources))


@dataclass
class Subject:
    """Who a bearer token authenticates as, and what RBAC allows them."""

    user: str
    rules: list[Rule] = field(default_factory=list)

    def can(self, verb: str, group: str, plural: str) -> bool:
        return any(r.allows(verb, group, plural) for r in self.rules)


@dataclass
class Event:
    """One change in the watch history; ``data`` is the object's JSON as the event carries it."""

    rv: int
    type_key: str
    type: str  # ADDED | MODIFIED | DELETED
    namespace: str
    labels: dict
    data: str


@dataclass
class RequestRecord:
    method: str
    path: str
    query: dict[str, str]
    status: int


class ClusterState:
    """Everything the simulated API server knows. Handlers hold ``lock`` while they read or write."""

    def __init__(self, clock: SimClock | None = None, *, kubevirt: bool = True, metrics: bool = True):
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.clock = clock or SimClock()
        self.kubevirt = kubevirt  # is the kubevirt.io group served?
        self.metrics = metrics  # is metrics.k8s.io served?
        self.rv = 1000
        self.objects: dict[str, dict[tuple[str, str], dict]] = {key: {} for key in STORED}
        self.history: list[Event] = []
        self.oldest_rv = self.rv  # watches from before this are 410 Gone
        self.snapshots: OrderedDict[tuple[str, int, str], list[tuple[str, str]]] = OrderedDict()
        self.pods_on: dict[str, int] = {}  # node name -> pods scheduled there
        self.tokens: dict[str, Subject] = {}
        self.requests: list[RequestRecord] = []
        self.bookmark_interval = 1.0  # seconds between BOOKMARK events of an idle watch
        self.pod_usage: dict[str, tuple[str, str]] = {}  # pod uid -> (cpu, memory) metrics override
        self.version = {"major": "1", "minor": "31", "gitVersion": "v1.31.4",
                        "gitCommit": "a78aa47129b8539636eb86a9d00e31b2720fe06b", "gitTreeState": "clean",
                        "buildDate": "2024-12-10T18:03:36Z", "goVersion": "go1.22.9", "compiler": "gc",
                        "platform": "linux/amd64"}

    # -- authentication ---------------------------------------------------------------------------

    def add_token(self, token: str, user: str, rules: list[Rule]) -> None:
        self.tokens[token] = Subject(user, list(rules))

    # -- reading ----------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now()

    def get(self, key: str, namespace: str, name: str) -> dict:
        self.settle()
        obj = self.objects[key].get((namespace, name))
        if obj is None:
            raise not_found(TYPES[key], name)
        return obj

    def find(self, key: str, namespace: str, name: str) -> dict | None:
        return self.objects[key].get((namespace, name))

    def items(self, key: str, namespace: str | None = None) -> list[dict]:
        """Live objects of one type, sorted by namespace/name (the order etcd keys give)."""
        store = self.objects[key]
        keys = sorted(k for k in store if namespace is None or k[0] == namespace)
        return [store[k] for k in keys]

    def snapshot(self, key: str, namespace: str | None, selector: str = "",
                 present=json.dumps) -> tuple[int, list[tuple[str, str]]]:
        """A list as of now, ``[(namespace/name, item JSON)]``, kept for ``continue`` tokens until
        compaction or eviction (etcd serves a continued list at the first page's revision)."""
        self.settle()
        items = [(f"{o['metadata'].get('namespace', '')}/{o['metadata']['name']}", present(o))
                 for o in self.items(key, namespace) if _selected(o, selector)]
        ident = (f"{key}|{namespace or ''}|{selector}", self.rv, "")
        self.snapshots[ident] = items
        while len(self.snapshots) > 32:
            self.snapshots.popitem(last=False)
        return self.rv, items

    def stored_snapshot(self, key: str, namespace: str | None, selector: str,
                        rv: int) -> list[tuple[str, str]] | None:
        return self.snapshots.get((f"{key}|{namespace or ''}|{selector}", rv, ""))

    # -- writing ----------------------------------------------------------------------------------

    def _bump(self) -> int:
        self.rv += 1
        return self.rv

    def _record(self, key: str, kind: str, obj: dict) -> None:
        meta = obj["metadata"]
        self.history.append(Event(int(meta["resourceVersion"]), key, kind, meta.get("namespace", ""),
                                  dict(meta.get("labels") or {}), json.dumps(obj)))
        if key == "pods":
            node = obj["spec"].get("nodeName")
            if kind == "ADDED" and node:
                self.pods_on[node] = self.pods_on.get(node, 0) + 1
            elif kind == "DELETED" and node:
                self.pods_on[node] -= 1
        with self.lock:  # re-entrant: a no-op for callers already holding it
            self.changed.notify_all()

    def put(self, key: str, obj: dict) -> dict:
        """Create or replace ``obj`` (metadata filled in), recording the watch event."""
        meta = obj.setdefault("metadata", {})
        rtype = TYPES[key]
        namespace = meta.get("namespace", "") if rtype.namespaced else ""
        ident = (namespace, meta["name"])
        existing = self.objects[key].get(ident)
        obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
        if existing is None:
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", rfc3339(self.now()))
            meta.setdefault("generation", 1) if key in ("virtualmachines", "virtualmachineinstances") else None
        else:
            meta["uid"] = existing["metadata"]["uid"]
            meta["creationTimestamp"] = existing["metadata"]["creationTimestamp"]
            if "generation" in existing["metadata"] and obj.get("spec") != existing.get("spec"):
                meta["generation"] = existing["metadata"]["generation"] + 1
        meta["resourceVersion"] = str(self._bump())
        self.objects[key][ident] = obj
        self._record(key, "ADDED" if existing is None else "MODIFIED", obj)
        return obj

    def remove(self, key: str, namespace: str, name: str) -> dict | None:
        obj = self.objects[key].pop((namespace, name), None)
        if obj is None:
            return None
        obj["metadata"]["resourceVersion"] = str(self._bump())
        obj["metadata"].setdefault("deletionTimestamp", rfc3339(self.now()))
        obj["metadata"].setdefault("deletionGracePeriodSeconds", 0)
        self._record(key, "DELETED", obj)
        return obj

    def compact(self) -> int:
        """Forget watch history and paging snapshots up to now (etcd compaction)."""
        self.history.clear()
        self.snapshots.clear()
        self.oldest_rv = self.rv
        return self.rv

    # -- controllers ------------------------------------------------------------------------------

    def settle(self) -> None:
        """Finish graceful deletions whose time has come (the kubelet confirming termination)."""
        now = self.now()
        for pod in [p for p in self.objects["pods"].values() if p["metadata"].get("deletionTimestamp")]:
            due = _parse_time(pod["metadata"]["deletionTimestamp"])
            if due <= now:
                _terminate(pod, due)
                self.remove("pods", pod["metadata"]["namespace"], pod["metadata"]["name"])

    def schedule(self) -> str:
        """The node with fewest pods (ties by name): the scheduler's choice, simplified."""
        nodes = sorted(n["metadata"]["name"] for n in self.objects["nodes"].values())
        if not nodes:
            raise ApiError(500, "InternalError", "no nodes to schedule on")
        return min(nodes, key=lambda n: (self.pods_on.get(n, 0), n))

    def create_pod(self, pod: dict, *, admit: bool = True) -> dict:
        """Default, admit (quotas), schedule and start a pod."""
        meta = pod["metadata"]
        namespace = meta["namespace"]
        if self.find("namespaces", "", namespace) is None:
            raise ApiError(404, "NotFound", f'namespaces "{namespace}" not found',
                           {"name": namespace, "kind": "namespaces"})
        if self.find("pods", namespace, meta["name"]) is not None:
            raise ApiError(409, "AlreadyExists", f'pods "{meta["name"]}" already exists',
                           {"name": meta["name"], "kind": "pods"})
        spec = pod.setdefault("spec", {})
        default_pod_spec(spec)
        if admit:
            self.admit(namespace, "pods", meta["name"], pod_requests(pod))
        spec.setdefault("nodeName", self.schedule())
        start_pod(pod, self.now(), self._node_ip(spec["nodeName"]), len(self.objects["pods"]))
        return self.put("pods", pod)

    def _node_ip(self, node_name: str) -> str:
        node = self.find("nodes", "", node_name) or {}
        for address in (node.get("status") or {}).get("addresses") or []:
            if address.get("type") == "InternalIP":
                return address["address"]
        return "10.0.0.1"

    def delete_pod(self, namespace: str, name: str, grace: int | None = None, uid: str | None = None) -> dict:
        pod = self.get("pods", namespace, name)
        if uid and pod["metadata"]["uid"] != uid:
            raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on pods "{name}": Precondition failed: '
                           f'UID in precondition: {uid}, UID in object meta: {pod["metadata"]["uid"]}',
                           {"name": name, "kind": "pods"})
        if grace is None:
            grace = int(pod["spec"].get("terminationGracePeriodSeconds", 30))
        if pod["metadata"].get("deletionTimestamp"):
            return pod
        if grace <= 0:
            _terminate(pod, self.now())
            return self.remove("pods", namespace, name)
        pod["metadata"]["deletionTimestamp"] = rfc3339(self.now() + timedelta(seconds=grace))
        pod["metadata"]["deletionGracePeriodSeconds"] = grace
        return self.put("pods", pod)

    # -- quota admission --------------------------------------------------------------------------

    def quota_used(self, namespace: str) -> dict[str, Decimal]:
        """What counts against quotas in ``namespace`` (terminal pods do not)."""
        used = {"pods": Decimal(0), "requests.cpu": Decimal(0), "requests.memory": Decimal(0),
                "limits.cpu": Decimal(0), "limits.memory": Decimal(0), "persistentvolumeclaims": Decimal(0),
                "requests.storage": Decimal(0), "count/virtualmachines.kubevirt.io": Decimal(0)}
        for pod in self.items("pods", namespace):
            if pod["status"].get("phase") in ("Succeeded", "Failed"):
                continue
            used["pods"] += 1
            for name, value in pod_requests(pod).items():
                if name in used and name != "pods":
                    used[name] += value
        for pvc in self.items("persistentvolumeclaims", namespace):
            used["persistentvolumeclaims"] += 1
            used["requests.storage"] += parse_quantity(pvc["spec"]["resources"]["requests"]["storage"])
        used["count/virtualmachines.kubevirt.io"] += len(self.items("virtualmachines", namespace))
        return used

    def admit(self, namespace: str, plural: str, name: str, requested: dict[str, Decimal]) -> None:
        """The ResourceQuota admission plugin: 403 naming the quota when a request would exceed it."""
        quotas = self.items("resourcequotas", namespace)
        used = self.quota_used(namespace) if quotas else {}
        for quota in quotas:
            hard = {k: parse_quantity(v) for k, v in (quota["spec"].get("hard") or {}).items()}
            missing = [k for k in ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory")
                       if k in hard and plural == "pods" and k not in requested]
            if missing:
                raise ApiError(403, "Forbidden", f'{plural} "{name}" is forbidden: failed quota: '
                               f'{quota["metadata"]["name"]}: must specify {",".join(sorted(missing))}',
                               {"name": name, "kind": plural})
            over = [k for k, v in requested.items() if k in hard and used.get(k, 0) + v > hard[k]]
            if over:
                over.sort()
                raise ApiError(403, "Forbidden", f'{plural} "{name}" is forbidden: exceeded quota: '
                               f'{quota["metadata"]["name"]}, requested: '
                               + ",".join(f"{k}={_fmt(k, requested[k])}" for k in over)
                               + ", used: " + ",".join(f"{k}={_fmt(k, used.get(k, 0))}" for k in over)
                               + ", limited: " + ",".join(f"{k}={quota['spec']['hard'][k]}" for k in over),
                               {"name": name, "kind": plural})

    def quota_status(self, quota: dict) -> dict:
        """``status.hard`` and ``status.used`` as the quota controller keeps them."""
        used = self.quota_used(quota["metadata"]["namespace"])
        hard = dict(quota["spec"].get("hard") or {})
        return {"hard": hard, "used": {k: _fmt(k, used.get(k, Decimal(0))) for k in hard}}

    # -- KubeVirt ---------------------------------------------------------------------------------

    def reconcile_vm(self, vm: dict) -> dict:
        """Make the VMI and launcher pod match the VM's run strategy; set the VM's status."""
        namespace, name = vm["metadata"]["namespace"], vm["metadata"]["name"]
        strategy = run_strategy(vm)
        vmi = self.find("virtualmachineinstances", namespace, name)
        if strategy in ("Always", "RerunOnFailure", "Once") and vmi is None:
            vmi = self._start_vmi(vm)
        elif strategy == "Halted" and vmi is not None:
            self._stop_vmi(vmi)
            vmi = None
        running = vmi is not None and vmi["status"].get("phase") == "Running"
        status = {"printableStatus": "Running" if running else "Stopped", "ready": running,
                  "created": vmi is not None, "runStrategy": strategy,
                  "conditions": [{"type": "Ready", "status": "True" if running else "False",
                                  "lastProbeTime": None,
                                  "lastTransitionTime": rfc3339(self.now()),
                                  **({} if running else {"reason": "VMINotExists",
                                                         "message": "VMI does not exist"})}],
                  "volumeSnapshotStatuses": [{"name": v["name"], "enabled": False,
                                              "reason": "No VolumeSnapshotClass: Volume snapshots are not "
                                                        "configured for this StorageClass"}
                                             for v in vm["spec"]["template"]["spec"].get("volumes") or []]}
        old = self.find("virtualmachines", namespace, name)
        if old is not None and old.get("status") == status and old.get("spec") == vm.get("spec") \
                and old["metadata"].get("labels") == vm["metadata"].get("labels"):
            return old
        vm["status"] = status
        vm["status"]["observedGeneration"] = vm["metadata"].get("generation", 1)
        vm["status"]["desiredGeneration"] = vm["metadata"].get("generation", 1)
        return self.put("virtualmachines", vm)

    def _start_vmi(self, vm: dict) -> dict:
        namespace, name = vm["metadata"]["namespace"], vm["metadata"]["name"]
        template = copy.deepcopy(vm["spec"]["template"])
        now = self.now()
        node = self.schedule()
        vmi_uid = str(uuid.uuid4())
        domain = template["spec"].setdefault("domain", {})
        domain.setdefault("firmware", {"uuid": stable_uid("vmi", namespace, name)})
        domain.setdefault("machine", {"type": "q35"})
        domain.setdefault("features", {"acpi": {"enabled": True}})
        topology = cpu_topology(domain)
        guest = guest_memory(domain)
        vmi = {
            "metadata": {"name": name, "namespace": namespace, "uid": vmi_uid,
                         "labels": {**(template.get("metadata") or {}).get("labels", {}),
                                    "kubevirt.io/nodeName": node},
                         "annotations": {"kubevirt.io/latest-observed-api-version": "v1",
                                         "kubevirt.io/storage-observed-api-version": "v1"},
                         "finalizers": ["kubevirt.io/virtualMachineControllerFinalize", "foregroundDeleteVirtualMachine"],
                         "ownerReferences": [{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
                                              "name": name, "uid": vm["metadata"]["uid"],
                                              "controller": True, "blockOwnerDeletion": True}]},
            "spec": template["spec"],
            "status": {
                "phase": "Running", "nodeName": node, "qosClass": "Burstable",
                "activePods": {}, "guestOSInfo": {}, "migrationMethod": "BlockMigration",
                "migrationTransport": "Unix", "launcherContainerImageVersion":
                    "quay.io/kubevirt/virt-launcher:v1.4.0",
                "currentCPUTopology": topology,
                "memory": {"guestAtBoot": guest, "guestCurrent": guest, "guestRequested": guest},
                "conditions": [{"type": "Ready", "status": "True", "lastProbeTime": None,
                                "lastTransitionTime": rfc3339(now)},
                               {"type": "LiveMigratable", "status": "True", "lastProbeTime": None,
                                "lastTransitionTime": None}],
                "phaseTransitionTimestamps": [
                    {"phase": phase, "phaseTransitionTimestamp": rfc3339(now)}
                    for phase in ("Pending", "Scheduling", "Scheduled", "Running")],
                "interfaces": [{"name": "default", "ipAddress": f"10.244.{len(self.objects['pods']) // 250}."
                                f"{len(self.objects['pods']) % 250 + 2}", "mac": _mac(vmi_uid),
                                "interfaceName": "eth0", "infoSource": "domain, guest-agent"}],
            },
        }
        launcher = launcher_pod(vm, vmi, node)
        pod = self.create_pod(launcher, admit=False)
        vmi["status"]["activePods"] = {pod["metadata"]["uid"]: node}
        return self.put("virtualmachineinstances", vmi)

    def _stop_vmi(self, vmi: dict) -> None:
        namespace, name = vmi["metadata"]["namespace"], vmi["metadata"]["name"]
        for pod in self.items("pods", namespace):
            owners = pod["metadata"].get("ownerReferences") or []
            if any(o.get("uid") == vmi["metadata"]["uid"] for o in owners):
                _terminate(pod, self.now())
                self.remove("pods", namespace, pod["metadata"]["name"])
        vmi["status"]["phase"] = "Succeeded"
        self.remove("virtualmachineinstances", namespace, name)

    def delete_vm(self, namespace: str, name: str) -> dict:
        vm = self.get("virtualmachines", namespace, name)
        vmi = self.find("virtualmachineinstances", namespace, name)
        if vmi is not None:
            self._stop_vmi(vmi)
        return self.remove("virtualmachines", namespace, vm["metadata"]["name"])

    # -- request log ------------------------------------------------------------------------------

    def record(self, entry: RequestRecord) -> None:
        self.requests.append(entry)

    def requests_to(self, path_suffix: str, method: str = "GET") -> list[RequestRecord]:
        return [r for r in self.requests if r.method == method and r.path.endswith(path_suffix)]


# -- object helpers (the shapes of the API reference) -----------------------------------------------


def _parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _fmt(name: str, value: Decimal) -> str:
    """A quantity as the quota controller prints it (memory and storage in bytes, cpu in cores or m)."""
    if name.endswith(".cpu"):
        millis = value * 1000
        return f"{int(value)}" if value == int(value) else f"{int(millis)}m"
    return str(int(value))


def _mac(uid: str) -> str:
    return "02:" + ":".join(uid.replace("-", "")[i:i + 2] for i in range(0, 10, 2))


def _selected(obj: dict, selector: str) -> bool:
    """Equality-based label selectors (``a=b,c!=d,e``), enough for the driver and tests."""
    if not selector:
        return True
    labels = obj["metadata"].get("labels") or {}
    for term in selector.split(","):
        term = term.strip()
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def default_pod_spec(spec: dict) -> None:
    """API-server defaulting: requests default to limits; the usual scheduling defaults."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("priority", 0)
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec.setdefault("tolerations", [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300}])
    for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
        resources = container.setdefault("resources", {})
        limits = resources.get("limits") or {}
        requests = resources.setdefault("requests", {}) if limits else resources.get("requests")
        for name, value in limits.items():
            requests.setdefault(name, value)
        if not resources.get("requests"):
            resources.pop("requests", None)
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("imagePullPolicy", "IfNotPresent")


def pod_requests(pod: dict) -> dict[str, Decimal]:
    """The pod's effective requests and limits (max of init containers vs sum of app containers)."""
    totals: dict[str, Decimal] = {"pods": Decimal(1)}
    for scope in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            app = [c.get("resources", {}).get(scope, {}).get(resource) for c in pod["spec"].get("containers", [])]
            init = [c.get("resources", {}).get(scope, {}).get(resource)
                    for c in pod["spec"].get("initContainers", [])]
            if all(v is None for v in app + init):
                continue
            total = sum((parse_quantity(v) for v in app if v is not None), Decimal(0))
            total = max([total, *(parse_quantity(v) for v in init if v is not None)])
            overhead = (pod["spec"].get("overhead") or {}).get(resource)
            totals[f"{scope}.{resource}"] = total + (parse_quantity(overhead) if overhead else 0)
    return totals


def _qos(pod: dict) -> str:
    containers = pod["spec"].get("containers", [])
    if not any(c.get("resources", {}).get("requests") or c.get("resources", {}).get("limits") for c in containers):
        return "BestEffort"
    guaranteed = all(
        set(c.get("resources", {}).get("limits") or {}) >= {"cpu", "memory"}
        and (c["resources"].get("requests") or {}) == {k: v for k, v in c["resources"]["limits"].items()
                                                      if k in ("cpu", "memory")}
        for c in containers)
    return "Guaranteed" if guaranteed else "Burstable"


def start_pod(pod: dict, now: datetime, host_ip: str, index: int) -> None:
    """What the kubelet reports once every container runs."""
    stamp = rfc3339(now)
    uid = pod["metadata"].get("uid") or str(uuid.uuid4())
    pod["metadata"]["uid"] = uid
    pod_ip = f"10.244.{index // 250 % 250}.{index % 250 + 2}"
    conditions = [{"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": stamp}
                  for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")]
    pod["status"] = {
        "phase": "Running", "conditions": conditions, "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip, "podIPs": [{"ip": pod_ip}], "startTime": stamp, "qosClass": _qos(pod),
        "containerStatuses": [
            {"name": c["name"], "state": {"running": {"startedAt": stamp}}, "lastState": {}, "ready": True,
             "restartCount": 0, "image": _full_image(c.get("image", "")),
             "imageID": f"{_full_image(c.get('image', '')).split(':')[0]}@sha256:"
                        + hashlib.sha256(c.get("image", "").encode()).hexdigest(),
             "containerID": "containerd://" + hashlib.sha256(f"{uid}/{c['name']}".encode()).hexdigest(),
             "started": True}
            for c in pod["spec"].get("containers", [])],
    }


def _full_image(image: str) -> str:
    if "/" not in image.split(":")[0]:
        image = f"docker.io/library/{image}"
    return image if ":" in image.rsplit("/", 1)[-1] else f"{image}:latest"


def _terminate(pod: dict, when: datetime) -> None:
    """Every running container terminated at ``when`` (SIGTERM honoured: exit code 0)."""
    stamp = rfc3339(when)
    for status in pod["status"].get("containerStatuses") or []:
        running = status["state"].get("running")
        if running is not None:
            status["state"] = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": running["startedAt"],
                                              "finishedAt": stamp,
                                              "containerID": status.get("containerID", "")}}
            status["ready"], status["started"] = False, False


def run_strategy(vm: dict) -> str:
    spec = vm["spec"]
    if spec.get("runStrategy"):
        return spec["runStrategy"]
    return "Always" if spec.get("running") else "Halted"


def cpu_topology(domain: dict) -> dict:
    cpu = domain.get("cpu") or {}
    if cpu:
        return {"cores": int(cpu.get("cores", 1)), "sockets": int(cpu.get("sockets", 1)),
                "threads": int(cpu.get("threads", 1))}
    requested = ((domain.get("resources") or {}).get("requests") or {}).get("cpu")
    cores = max(1, int(parse_quantity(requested).to_integral_value(rounding="ROUND_CEILING"))) if requested else 1
    return {"cores": cores, "sockets": 1, "threads": 1}


def guest_memory(domain: dict) -> str | None:
    memory = (domain.get("memory") or {}).get("guest")
    return memory or ((domain.get("resources") or {}).get("requests") or {}).get("memory")


def launcher_pod(vm: dict, vmi: dict, node: str) -> dict:
    """The ``virt-launcher-<vm>-<suffix>`` pod KubeVirt creates for a running VMI."""
    name, namespace = vm["metadata"]["name"], vm["metadata"]["namespace"]
    domain = vmi["spec"]["domain"]
    topology = cpu_topology(domain)
    vcpus = topology["cores"] * topology["sockets"] * topology["threads"]
    guest = parse_quantity(guest_memory(domain) or "1Gi")
    overhead = 230 * 1024 * 1024  # the launcher's own memory overhead, roughly what KubeVirt adds
    suffix = vmi["metadata"]["uid"].replace("-", "")[:5]
    return {
        "metadata": {
            "name": f"virt-launcher-{name}-{suffix}", "namespace": namespace,
            "labels": {"kubevirt.io": "virt-launcher", "kubevirt.io/created-by": vmi["metadata"]["uid"],
                       "vm.kubevirt.io/name": name, "kubevirt.io/nodeName": node,
                       **(vmi["metadata"].get("labels") or {})},
            "annotations": {"kubevirt.io/domain": name, "kubevirt.io/migrationTransportUnix": "true",
                            "kubectl.kubernetes.io/default-container": "compute"},
            "ownerReferences": [{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance", "name": name,
                                 "uid": vmi["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}],
        },
        "spec": {
            "nodeName": node, "restartPolicy": "Never", "terminationGracePeriodSeconds": 210,
            "automountServiceAccountToken": False,
            "containers": [{
                "name": "compute", "image": "quay.io/kubevirt/virt-launcher:v1.4.0",
                "command": ["/usr/bin/virt-launcher-monitor", "--qemu-timeout", "319s", "--name", name,
                            "--uid", vmi["metadata"]["uid"], "--namespace", namespace],
                "resources": {"requests": {"cpu": f"{vcpus * 100}m", "memory": str(int(guest) + overhead),
                                           "devices.kubevirt.io/kvm": "1", "devices.kubevirt.io/tun": "1",
                                           "devices.kubevirt.io/vhost-net": "1", "ephemeral-storage": "50M"},
                              "limits": {"devices.kubevirt.io/kvm": "1", "devices.kubevirt.io/tun": "1",
                                         "devices.kubevirt.io/vhost-net": "1"}},
            }],
        },
    }
