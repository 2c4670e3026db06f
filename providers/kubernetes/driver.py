"""The Kubernetes driver: nodes, namespaces, pods, KubeVirt VMs, PVCs and ResourceQuotas.

What an inventory holds: nodes (``Kind.HOST``), every pod as a ``Kind.CONTAINER`` under its node
except KubeVirt's ``virt-launcher`` pods, every KubeVirt VirtualMachine (or standalone instance) as a
``Kind.VM`` under the node running it, with its launcher pod named in its properties and not counted
again, every PersistentVolumeClaim as a ``Kind.VOLUME`` under the VM or pod mounting it, the
namespaces as tenants (``Inventory.projects``) and each namespace's ResourceQuotas in our quota keys
(``Inventory.quotas``). Every list is paged with ``limit``/``continue``; ``observed_at`` is the API
server's ``Date`` of the pod list.

Optional parts: a cluster without KubeVirt (``kubevirt.io`` not in ``/apis``) or without the metrics
API is normal, said once in ``Inventory.skipped``. A list RBAC forbids is reported by name ("cannot
list virtualmachines.kubevirt.io: forbidden") in ``Inventory.issues``, as is a record that cannot be
read; the rest is collected, and the inventory is marked incomplete so nothing is taken for deleted
because it could not be seen.

Changes between two refreshes are dated by watches from the previous refresh's resourceVersions
(kept per API server and credential in this process): a pod's or VM's DELETED event carries its
``deletionTimestamp`` (and a pod's containers their ``finishedAt``); a VirtualMachineInstance's
DELETED event dates the stop of its VM. Without that cursor (first refresh in a worker process) or
when the server answers 410 Gone, the collector's own rules apply instead (a resource that
disappears ends at its last observation; a stop is dated by the observation that shows it).
"""

from __future__ import annotations

import hashlib
import json
import math
import queue
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import yaml
from kubernetes import client
from kubernetes.watch.watch import iter_resp_lines

from providers.base import (
    Action,
    Capability,
    DataIssue,
    Driver,
    Health,
    Inventory,
    Kind,
    LaunchOptions,
    ObservedEvent,
    ObservedResource,
    Probe,
    ProviderAuthError,
    ProviderDataError,
    ProviderError,
    ProvisionSpec,
    QuotaReading,
    Setting,
    SettingsError,
    State,
    UnsupportedCapability,
    UtilizationSample,
    url_problem,
    utcnow,
)
from providers.heap import gc_paused
from providers.kubernetes import api, mapping, quotas
from providers.kubernetes.api import Expired, Forbidden

KUBEVIRT, KUBEVIRT_VERSION = "kubevirt.io", "v1"
METRICS, METRICS_VERSION = "metrics.k8s.io", "v1beta1"
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DEFAULT_VM_IMAGE = "quay.io/containerdisks/fedora:latest"

#: (api server, credential digest) -> (observed_at, {"pods": rv, "virtualmachines": rv})
_CURSORS: dict[str, tuple[datetime, dict[str, str]]] = {}
_CURSORS_LOCK = threading.Lock()


class KubernetesDriver(Driver):
    kind = "kubernetes"
    label = "Kubernetes (pods, KubeVirt VMs, ResourceQuotas)"
    settings_schema = (
        Setting("server", label="API server URL", endpoint=True, help="API server URL, e.g. https://k8s.example.org:6443 (optional with a kubeconfig)"),
        Setting("verify", label="Verify TLS certificate", type="bool", default=True, help="verify the API server's TLS certificate"),
        Setting("ca_bundle", help="path to the CA bundle that signed the API server's certificate"),
        Setting("context", label="Kubeconfig context", help="kubeconfig context to use (default: its current-context)"),
        Setting("project_label", default="glasspane.project",
                help="namespace label whose value names the Glasspane project"),
        Setting("auto_create_projects", label="Create projects automatically", type="bool", default=False,
                help="create a Glasspane project for each namespace found"),
        Setting("page_size", type="int", default=500, help="objects per list request"),
        Setting("watch_seconds", label="Watch window (seconds)", type="float", default=2.0,
                help="how long a refresh may wait on watches that date deletions (0: no watch)"),
    )
    credentials_schema = (
        Setting("token", label="Bearer token", secret=True, help="bearer token (a service account token)"),
        Setting("kubeconfig", secret=True, help="a whole kubeconfig file, YAML (instead of a token)"),
    )
    capabilities = frozenset({Capability.SAMPLES, Capability.PROVISION, Capability.ACTIONS, Capability.APPLY_QUOTA,
                              Capability.EVENTS})
    quota_keys = frozenset(quotas.KEYS)

    def __init__(self, settings: Mapping[str, Any], credentials: Mapping[str, Any] | None = None):
        defaults = {s.name: s.default for s in self.settings_schema if s.default is not None}
        super().__init__({**defaults, **dict(settings)}, credentials)
        self._client: client.ApiClient | None = None
        self._groups: set[str] | None = None
        self._pod_uids: dict[tuple[str, str], str] = {}  # (namespace, pod) -> external id of what it counts as
        self._node_uids: dict[str, str] = {}

    @classmethod
    def validate(cls, settings, credentials=None):
        errors: dict[str, str] = {}
        try:
            cleaned, creds = super().validate(settings, credentials)
        except SettingsError as exc:
            errors.update(exc.errors)
            cleaned, creds = dict(settings), dict(credentials or {})
        if bool(creds.get("token")) == bool(creds.get("kubeconfig")):
            errors["token"] = "give either a bearer token or a kubeconfig (exactly one)"
        if creds.get("kubeconfig"):
            try:
                parsed = yaml.safe_load(creds["kubeconfig"])
                if not isinstance(parsed, dict) or not parsed.get("clusters"):
                    raise ValueError("it has no clusters")
            except (yaml.YAMLError, ValueError) as exc:
                errors["kubeconfig"] = f"is not a usable kubeconfig: {str(exc).splitlines()[0]}"
        elif not cleaned.get("server"):
            errors["server"] = "is required (or give a kubeconfig)"
        server = cleaned.get("server") or ""
        problem = url_problem(server, ("https", "http")) if server and "server" not in errors else None
        if problem:
            errors["server"] = problem
        if "page_size" not in errors and not 1 <= int(cleaned.get("page_size", 500)) <= 5000:
            errors["page_size"] = "must be between 1 and 5000"
        if "watch_seconds" not in errors and not 0 <= float(cleaned.get("watch_seconds", 2.0)) <= 60:
            errors["watch_seconds"] = "must be between 0 and 60"
        if errors:
            raise SettingsError(errors)
        return cleaned, creds

    # -- plumbing ---------------------------------------------------------------------------------

    @property
    def client(self) -> client.ApiClient:
        if self._client is None:
            self._client = client.ApiClient(api.configuration(self.settings, self.credentials))
        return self._client

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.client)

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.client)

    @property
    def page_size(self) -> int:
        return int(self.settings.get("page_size") or 500)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _cursor_key(self, cluster: str) -> str:
        """Server, cluster identity (kube-system's uid: a rebuilt cluster at the same URL is another
        one) and credential: resourceVersions mean nothing outside the cluster that issued them."""
        secret = self.credentials.get("token") or self.credentials.get("kubeconfig") or ""
        return f"{self.client.configuration.host}|{cluster}|{hashlib.sha256(secret.encode()).hexdigest()[:16]}"

    def groups(self) -> set[str]:
        """The API groups the server serves (``/apis``)."""
        if self._groups is None:
            body, _ = api.call(client.ApisApi(self.client).get_api_versions, "discover the API groups")
            self._groups = {str(g.get("name")) for g in body.get("groups") or [] if isinstance(g, Mapping)}
        return self._groups

    # -- health -----------------------------------------------------------------------------------

    def health(self) -> Health:
        try:
            version, response = api.call(client.VersionApi(self.client).get_code, "read the server version")
            groups = self.groups()
            api.call(self.core.list_namespace, "list namespaces", limit=1)
        except ProviderError as exc:
            return Health(False, str(exc), details={"server": self.client.configuration.host})
        kubevirt = KUBEVIRT in groups
        text = (f"Kubernetes {version.get('gitVersion', '?')} at {self.client.configuration.host}; "
                f"KubeVirt {'served' if kubevirt else 'not installed (pods only)'}; "
                f"metrics API {'served' if METRICS in groups else 'not served'}")
        return Health(True, text, checked_at=api.response_time(response) or utcnow(),
                      details={"version": version.get("gitVersion"), "kubevirt": kubevirt,
                               "metrics": METRICS in groups})

    def probe(self) -> Probe:
        """The server's gitVersion and how many nodes, pods (all namespaces, one page at most) and
        KubeVirt VMs it holds. Pods in every namespace are what the inventory is made of, so RBAC
        that forbids listing them fails the check; nodes or VMs it may not list are said in a note,
        as the inventory reports them as issues."""
        version, _ = api.call(client.VersionApi(self.client).get_code, "read the server version")
        kubevirt = KUBEVIRT in self.groups()
        counts, capped, notes = {}, set(), []
        listings = [("nodes", self.core.list_node, "list nodes", ()),
                    ("pods", self.core.list_pod_for_all_namespaces, "list pods in all namespaces", ())]
        if kubevirt:
            listings.append(("virtual machines", self.custom.list_cluster_custom_object,
                             "list virtualmachines.kubevirt.io", (KUBEVIRT, KUBEVIRT_VERSION, "virtualmachines")))
        else:
            notes.append("KubeVirt not installed: pods only")
        for noun, function, doing, args in listings:
            try:
                counts[noun], more = self._count(function, doing, *args)
            except Forbidden as exc:
                if noun == "pods":
                    raise
                notes.append(str(exc))
                continue
            if more:
                capped.add(noun)
        return Probe(product="Kubernetes", version=str(version.get("gitVersion") or "?"),
                     where=self.client.configuration.host, counts=counts, capped=frozenset(capped),
                     note="; ".join(notes), details={"platform": version.get("platform"), "kubevirt": kubevirt})

    def _count(self, function, doing: str, *args) -> tuple[int, bool]:
        """How many objects one page holds, and whether there are more (a count that is a floor)."""
        body, _ = api.call(function, doing, *args, limit=self.page_size)
        items = body.get("items")
        if not isinstance(items, list):
            raise ProviderDataError(f"the API server answered {doing} without an items list")
        meta = body.get("metadata") if isinstance(body.get("metadata"), Mapping) else {}
        remaining = meta.get("remainingItemCount")
        if isinstance(remaining, int) and remaining >= 0:
            return len(items) + remaining, False
        return len(items), bool(meta.get("continue"))

    # -- inventory --------------------------------------------------------------------------------

    def _list(self, function, doing: str, *args, issues: list[DataIssue], **kwargs):
        """A whole list, or ``None`` (with the refusal in ``issues``) when RBAC forbids it."""
        try:
            return api.list_all(function, doing, *args, page_size=self.page_size, **kwargs)
        except Forbidden as exc:
            issues.append(DataIssue(doing.split(" ", 1)[-1], str(exc)))
            return None

    def inventory(self, since: datetime | None = None) -> Inventory:
        issues: list[DataIssue] = []
        skipped: list[str] = []
        groups = self.groups()
        listed = self._list(self.core.list_pod_for_all_namespaces, "list pods", issues=issues, keep=_read_pods)
        pods, pods_rv, first = listed or ([], "", None)
        observed_at = api.response_time(first) or utcnow()
        nodes = (self._list(self.core.list_node, "list nodes", issues=issues) or ([], "", None))[0]
        namespaces = (self._list(self.core.list_namespace, "list namespaces", issues=issues) or ([], "", None))[0]
        claims = (self._list(self.core.list_persistent_volume_claim_for_all_namespaces,
                             "list persistentvolumeclaims", issues=issues) or ([], "", None))[0]
        resource_quotas = self._list(self.core.list_resource_quota_for_all_namespaces, "list resourcequotas",
                                     issues=issues)
        vms, vms_rv, vmis, vmis_rv = [], "", [], ""
        if KUBEVIRT in groups:
            listed_vms = self._list(self.custom.list_cluster_custom_object, "list virtualmachines.kubevirt.io",
                                    KUBEVIRT, KUBEVIRT_VERSION, "virtualmachines", issues=issues)
            vms, vms_rv = (listed_vms or ([], ""))[:2]
            vmis, vmis_rv = (self._list(self.custom.list_cluster_custom_object,
                                        "list virtualmachineinstances.kubevirt.io", KUBEVIRT, KUBEVIRT_VERSION,
                                        "virtualmachineinstances", issues=issues) or ([], ""))[:2]
        else:
            skipped.append("KubeVirt is not installed (no kubevirt.io API group): pods only, no VMs")
        with gc_paused():  # plain data in, plain data out: nothing for the cyclic collector
            projects, hints, node_uids, resources, quota_readings = self._read(
                pods, nodes, namespaces, claims, resource_quotas, vms, vmis, issues)
        deleted: list[ObservedResource] = []
        if listed is not None:
            targets = {"pods": pods_rv, "virtualmachines": vms_rv, "virtualmachineinstances": vmis_rv}
            cluster = next((_uid(n) for n in namespaces if _name(n) == "kube-system"), "")
            deleted, stops = self._changes_since(cluster, targets, hints, node_uids, observed_at,
                                                 {r.external_id for r in resources}, skipped)
            resources = [_dated_stop(r, stops) for r in resources]
        if METRICS not in groups:
            skipped.append("the metrics API (metrics.k8s.io) is not served: no utilization samples")
        return Inventory(
            resources=resources, observed_at=observed_at, deleted=deleted, issues=issues, projects=projects,
            # every namespace gets its facts, so a quota removed on the cluster leaves no stale reading
            project_facts={p.external_id: {"quotas": {k: {"limit": r.limit, "used": _plain(r.used)}
                                                      for k, r in quota_readings.get(p.external_id, {}).items()}}
                           for p in projects} if resource_quotas is not None else {},
            # a list refused or a record unreadable is not a deletion: then say the answer is partial
            complete=not issues, quotas=quota_readings, skipped=skipped,
        )

    def _read(self, pods, nodes, namespaces, claims, resource_quotas, vms, vmis, issues):
        """Everything listed, as ``(projects, project hints, node uids, resources, quota readings)``."""
        project_label = self.settings.get("project_label") or "glasspane.project"
        hints = mapping.project_hints(namespaces, project_label)
        projects = []
        for namespace in namespaces:
            try:
                projects.append(mapping.namespace_project(namespace, project_label))
            except ProviderDataError as exc:
                issues.append(DataIssue("namespace", str(exc)))
        hosts, node_uids = self._nodes(nodes, issues)
        resources = list(hosts)
        vm_found, claim_users = self._vms(vms, vmis, [pod for pod, _ in pods if pod is not None], hints, node_uids,
                                          issues)
        resources += vm_found
        for launcher, read in pods:
            if launcher is not None:
                continue
            if isinstance(read, DataIssue):
                issues.append(read)
                continue
            fields, mounted = read
            found = mapping.placed_pod(fields, hints, node_uids)
            resources.append(found)
            self._pod_uids[(found.properties["namespace"], found.properties["pod"])] = found.external_id
            for claim in mounted:
                claim_users.setdefault((found.properties["namespace"], claim), found.external_id)
        for pvc in claims:
            try:
                resources.append(mapping.pvc_resource(pvc, hints, claim_users))
            except (ProviderDataError, TypeError, AttributeError) as exc:
                issues.append(DataIssue(_uid(pvc), f"persistentvolumeclaim {_name(pvc)}: {exc}"))
        return projects, hints, node_uids, resources, self._quota_readings(resource_quotas, issues)

    def _nodes(self, nodes: list, issues: list[DataIssue]) -> tuple[list[ObservedResource], dict[str, str]]:
        hosts, uids = [], {}
        for node in nodes:
            try:
                host = mapping.node_resource(node)
            except (ProviderDataError, TypeError, AttributeError, KeyError) as exc:
                issues.append(DataIssue(_uid(node), f"node {_name(node)}: {exc}"))
                continue
            hosts.append(host)
            uids[host.name] = host.external_id
        self._node_uids = uids
        return hosts, uids

    def _vms(self, vms, vmis, launcher_pods, hints, node_uids, issues):
        """VMs (with their instance and launcher pod) and which VM mounts which claim."""
        instances = {(_ns(i), _name(i)): i for i in vmis}
        launchers: dict[str, Mapping] = {}
        for pod in launcher_pods:
            for owner in (pod.get("metadata") or {}).get("ownerReferences") or []:
                if isinstance(owner, Mapping) and owner.get("kind") == "VirtualMachineInstance":
                    launchers[str(owner.get("uid"))] = pod
            created_by = ((pod.get("metadata") or {}).get("labels") or {}).get("kubevirt.io/created-by")
            if created_by:
                launchers.setdefault(str(created_by), pod)
        found, users, used_instances = [], {}, set()
        pairs = [(vm, instances.get((_ns(vm), _name(vm)))) for vm in vms]
        owned = {(_ns(vm), _name(vm)) for vm in vms}
        pairs += [(None, vmi) for key, vmi in instances.items() if key not in owned]
        for vm, vmi in pairs:
            launcher = launchers.get(_uid(vmi)) if vmi else None
            try:
                resource = mapping.vm_resource(vm, vmi, hints, node_uids, launcher)
            except (ProviderDataError, TypeError, AttributeError, ValueError) as exc:
                issues.append(DataIssue(_uid(vm or vmi), f"virtual machine {_name(vm or vmi)}: {exc}"))
                continue
            found.append(resource)
            if vmi:
                used_instances.add(_uid(vmi))
            if launcher is not None:
                self._pod_uids[(_ns(launcher), _name(launcher))] = resource.external_id
            for claim in mapping.vm_claims(vm or {}):
                users[(_ns(vm), claim)] = resource.external_id
        return found, users

    def _quota_readings(self, listed, issues) -> dict[str, dict[str, QuotaReading]]:
        if listed is None:
            return {}
        by_namespace: dict[str, list] = {}
        for quota in listed[0]:
            by_namespace.setdefault(_ns(quota), []).append(quota)
        result = {}
        for namespace, items in by_namespace.items():
            try:
                result[namespace] = quotas.readings(items)
            except ProviderDataError as exc:
                issues.append(DataIssue(namespace, f"resource quotas of namespace {namespace}: {exc}"))
        return result

    # -- deletions between refreshes (watch) ------------------------------------------------------

    def _changes_since(self, cluster: str, targets: dict[str, str], hints, node_uids, observed_at, present,
                       skipped):
        """What the watches say happened since the previous refresh's lists: pods and VMs deleted (with
        their deletion time) and VM instances that ended (``{(namespace, vm): when}``, dating a stop)."""
        key = self._cursor_key(cluster)
        with _CURSORS_LOCK:
            previous = _CURSORS.get(key)
            _CURSORS[key] = (observed_at, dict(targets))
        wait = float(self.settings.get("watch_seconds") or 0)
        deleted: list[ObservedResource] = []
        stops: dict[tuple[str, str], datetime] = {}
        if previous is None or wait <= 0:
            return deleted, stops
        _, cursor = previous
        functions = {"pods": (self.core.list_pod_for_all_namespaces, ()),
                     "virtualmachines": (self.custom.list_cluster_custom_object,
                                         (KUBEVIRT, KUBEVIRT_VERSION, "virtualmachines")),
                     "virtualmachineinstances": (self.custom.list_cluster_custom_object,
                                                 (KUBEVIRT, KUBEVIRT_VERSION, "virtualmachineinstances"))}
        wanted = {plural: (function, args, cursor[plural], int(targets[plural]))
                  for plural, (function, args) in functions.items() if cursor.get(plural) and targets.get(plural)}

        def collect(plural: str):
            function, args, start, target = wanted[plural]
            try:
                return list(self._watch_deletions(function, args, start, target, wait, plural)), None
            except Expired:
                return [], (f"changes to {plural} since the last refresh are not dated exactly: the API server "
                            f"no longer keeps that history (410 Gone)")
            except ProviderError as exc:
                return [], f"changes to {plural} since the last refresh are not dated exactly: {exc}"

        # concurrently: a watch with nothing new waits for a bookmark or its timeout
        with ThreadPoolExecutor(max_workers=max(1, len(wanted)), thread_name_prefix="k8s-watch") as pool:
            outcomes = dict(zip(wanted, pool.map(collect, wanted), strict=True))
        for plural, (objects, problem) in outcomes.items():
            if problem:
                skipped.append(problem)
            for obj in objects:
                try:
                    if plural == "virtualmachineinstances":
                        when = mapping.parse_time((obj.get("metadata") or {}).get("deletionTimestamp"), "")
                        stops[(_ns(obj), _name(obj))] = when or observed_at
                        continue
                    if plural == "pods":
                        if mapping.is_launcher(obj):
                            continue
                        gone = mapping.deleted_pod(obj, hints, node_uids, observed_at)
                    else:
                        gone = mapping.deleted_vm(obj, hints, observed_at)
                except (ProviderDataError, TypeError, AttributeError, ValueError):
                    continue  # an unreadable event: the collector's own rule dates that change
                if gone.external_id not in present:
                    deleted.append(gone)
        return deleted, stops

    def _watch_deletions(self, function, args, start: str, target: int, wait: float, plural: str):
        """DELETED objects from a watch from ``start`` up to resourceVersion ``target``.

        The stream is read line by line here rather than through ``watch.Watch().stream``: with
        ``deserialize=False`` that helper fails on the ERROR event a 410 arrives in (client 35.0.0).
        """
        doing = f"watch {plural} since the last refresh"
        with api.translated(doing):
            response = function(*args, watch=True, resource_version=start, allow_watch_bookmarks=True,
                                timeout_seconds=max(1, math.ceil(wait)), _preload_content=False,
                                _request_timeout=(10, wait + 5))
            try:
                for line in iter_resp_lines(response):
                    try:
                        event = json.loads(line)
                    except ValueError:
                        raise ProviderDataError(f"cannot {doing}: the stream sent a line that is not JSON") from None
                    obj = event.get("object") or {}
                    if event.get("type") == "ERROR":
                        if obj.get("code") == 410:
                            raise Expired(f"cannot {doing}: {obj.get('message')} (410 Gone)")
                        raise ProviderDataError(f"cannot {doing}: {obj.get('message') or obj}")
                    version = int(((obj.get("metadata") or {}).get("resourceVersion")) or 0)
                    if event.get("type") == "DELETED" and version <= target:
                        yield obj
                    if version >= target:
                        break
            finally:
                response.close()
                response.release_conn()

    # -- lifecycle events (Capability.EVENTS) -----------------------------------------------------

    def events(self, stop: threading.Event | None = None, timeout: float | None = None) -> Iterator[ObservedEvent]:
        """Pod, VM and VM-instance changes from watches, dated by the cluster's own timestamps.

        Subscribed before this returns (each watch starts at the resourceVersion of a list made
        now); a watch the server ends is resumed from the last resourceVersion seen (bookmarks
        included), and one answered 410 Gone restarts from a fresh list (what happened in between is
        left to the next poll). Runs until ``stop`` is set or ``timeout`` seconds pass.
        """
        deadline = time.monotonic() + timeout if timeout is not None else None
        stop = stop or threading.Event()
        functions = [("pods", self.core.list_pod_for_all_namespaces, ())]
        if KUBEVIRT in self.groups():
            functions += [(plural, self.custom.list_cluster_custom_object, (KUBEVIRT, KUBEVIRT_VERSION, plural))
                          for plural in ("virtualmachines", "virtualmachineinstances")]
        cursors = {plural: self._current_version(function, args, plural) for plural, function, args in functions}
        found: queue.Queue = queue.Queue()
        running = [threading.Thread(target=self._follow, name=f"k8s-events-{plural}", daemon=True,
                                    args=(plural, function, args, cursors[plural], stop, deadline, found))
                   for plural, function, args in functions]
        for thread in running:
            thread.start()
        return self._drain(found, running, stop)

    @staticmethod
    def _drain(found: queue.Queue, running: list[threading.Thread], stop: threading.Event) -> Iterator[ObservedEvent]:
        try:
            while any(t.is_alive() for t in running) or not found.empty():
                try:
                    item = found.get(timeout=0.1)
                except queue.Empty:
                    continue
                if isinstance(item, ProviderError):
                    raise item
                yield item
        finally:
            stop.set()

    def _current_version(self, function, args, plural: str) -> str:
        body, _ = api.call(function, f"list {plural}", *args, limit=1)
        return str((body.get("metadata") or {}).get("resourceVersion") or "")

    def _follow(self, plural, function, args, version, stop, deadline, found: queue.Queue) -> None:
        """One watch, resumed until stopped; every change worth dating goes into ``found``."""
        started: set[str] = set()
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            window = 5 if deadline is None else max(1, min(5, math.ceil(deadline - time.monotonic())))
            try:
                with api.translated(f"watch {plural}"):
                    response = function(*args, watch=True, resource_version=version, allow_watch_bookmarks=True,
                                        timeout_seconds=window, _preload_content=False,
                                        _request_timeout=(10, window + 5))
                    try:
                        for line in iter_resp_lines(response):
                            event = json.loads(line)
                            obj = event.get("object") or {}
                            if event.get("type") == "ERROR":
                                if obj.get("code") == 410:
                                    version = self._current_version(function, args, plural)
                                    break
                                raise ProviderDataError(f"cannot watch {plural}: {obj.get('message') or obj}")
                            version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                            for observed in mapping.change_events(plural, event.get("type"), obj, started):
                                found.put(observed)
                            if stop.is_set():
                                break
                    finally:
                        response.close()
                        response.release_conn()
            except (ProviderError, ValueError) as exc:
                found.put(exc if isinstance(exc, ProviderError) else ProviderDataError(f"cannot watch {plural}: {exc}"))
                return

    # -- samples ----------------------------------------------------------------------------------

    def samples(self, external_ids: Iterable[str] | None = None) -> list[UtilizationSample]:
        """Memory working set of nodes and pods (a VM's is its launcher pod's) from the metrics API.

        metrics-server reports CPU as a rate over a short window, not a cumulative counter, so CPU
        time is left out rather than invented.
        """
        if METRICS not in self.groups():
            return []
        if not self._pod_uids:
            self.inventory()
        wanted = set(external_ids) if external_ids is not None else None
        result = []
        for plural, lookup in (("nodes", lambda m: self._node_uids.get(str(m.get("name")))),
                               ("pods", lambda m: self._pod_uids.get((str(m.get("namespace")), str(m.get("name")))))):
            doing = f"read {plural} metrics"
            data, _ = api.fetch(self.custom.list_cluster_custom_object, doing, METRICS, METRICS_VERSION, plural)
            with gc_paused():  # as in inventory(): plain data, no cycles, let go inside
                body = api.decode(data, doing)
                result.extend(_usage(body.get("items") or [], plural, lookup, wanted))
                del data, body
        return result

    # -- lifecycle --------------------------------------------------------------------------------

    def _find(self, external_id: str) -> tuple[str, Mapping]:
        """("pod" | "vm", object) with that uid."""
        pods, _, _ = api.list_all(self.core.list_pod_for_all_namespaces, "list pods", page_size=self.page_size)
        for pod in pods:
            if _uid(pod) == external_id:
                return "pod", pod
        if KUBEVIRT in self.groups():
            vms, _, _ = api.list_all(self.custom.list_cluster_custom_object, "list virtualmachines.kubevirt.io",
                                     KUBEVIRT, KUBEVIRT_VERSION, "virtualmachines", page_size=self.page_size)
            for vm in vms:
                if _uid(vm) == external_id:
                    return "vm", vm
        raise ProviderDataError(f"no pod or virtual machine with uid {external_id} in the cluster")

    def act(self, external_id: str, action: str) -> None:
        if action not in Action.ALL:
            raise UnsupportedCapability(f"unknown action {action!r} (known: {', '.join(Action.ALL)})")
        what, obj = self._find(external_id)
        namespace, name = _ns(obj), _name(obj)
        if what == "pod":
            if action != Action.DELETE:
                raise UnsupportedCapability(f"a pod cannot {action}; delete it (its controller, if any, "
                                            f"replaces it)")
            api.call(self.core.delete_namespaced_pod, f"delete pod {namespace}/{name}", name, namespace,
                     body={"preconditions": {"uid": external_id}})
            return
        doing = f"{action} virtual machine {namespace}/{name}"
        if action == Action.DELETE:
            api.call(self.custom.delete_namespaced_custom_object, doing, KUBEVIRT, KUBEVIRT_VERSION, namespace,
                     "virtualmachines", name, body={"preconditions": {"uid": external_id}})
            return
        strategy = {Action.START: "Always", Action.STOP: "Halted"}.get(action)
        if strategy is None:
            raise UnsupportedCapability("restart a KubeVirt VM by stopping and starting it")
        patch: dict[str, Any] = {"spec": {"runStrategy": strategy}}
        if "running" in (obj.get("spec") or {}):
            patch["spec"]["running"] = None  # runStrategy and the deprecated running exclude each other
        api.call(self.custom.patch_namespaced_custom_object, doing, KUBEVIRT, KUBEVIRT_VERSION, namespace,
                 "virtualmachines", name, patch)

    def launch_options(self, project_ref: str | None = None) -> LaunchOptions:
        """Pods (containers), and KubeVirt VMs where KubeVirt is installed, in the project's
        namespace. The cluster pulls images from its registries, so there is no list to offer."""
        kinds = (Kind.CONTAINER, Kind.VM) if KUBEVIRT in self.groups() else (Kind.CONTAINER,)
        return LaunchOptions(kinds=kinds,
                             notes=("type an image reference the cluster can pull (a VM defaults to "
                                    f"{DEFAULT_VM_IMAGE})",))

    def provision(self, spec: ProvisionSpec) -> ObservedResource:
        namespace = spec.project
        if not DNS_LABEL.match(spec.name or ""):
            raise ProviderDataError(f"{spec.name!r} is not a valid Kubernetes name (lower-case letters, digits "
                                    f"and '-', at most 63, starting and ending with a letter or digit)")
        labels = {**{str(k): str(v) for k, v in spec.labels.items()}, "app.kubernetes.io/managed-by": "glasspane"}
        if spec.kind == Kind.CONTAINER:
            return self._provision_pod(spec, namespace, labels)
        if spec.kind == Kind.VM:
            return self._provision_vm(spec, namespace, labels)
        raise UnsupportedCapability(f"kubernetes provisions pods (container) and KubeVirt VMs (vm), not {spec.kind}")

    def _provision_pod(self, spec, namespace, labels) -> ObservedResource:
        if not spec.image:
            raise ProviderError("a pod needs an image; the request named none")
        resources: dict[str, dict[str, str]] = {}
        if spec.vcpus:
            resources.setdefault("requests", {})["cpu"] = _cpu(spec.vcpus)
        if spec.ram_mb:
            resources.setdefault("requests", {})["memory"] = f"{int(spec.ram_mb)}Mi"
        if resources:
            resources["limits"] = dict(resources["requests"])
        container: dict[str, Any] = {"name": "main", "image": spec.image, "resources": resources}
        if spec.command:
            container["command"] = list(spec.command)
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": spec.name, "labels": labels},
                "spec": {"containers": [container]}}
        created, _ = api.call(self.core.create_namespaced_pod, f"create pod {namespace}/{spec.name}", namespace, body)
        hints = self._hints()
        _, node_uids = self._nodes(api.list_all(self.core.list_node, "list nodes", page_size=self.page_size)[0], [])
        return mapping.pod_resource(created, hints, node_uids)

    def _provision_vm(self, spec, namespace, labels) -> ObservedResource:
        if KUBEVIRT not in self.groups():
            raise UnsupportedCapability("KubeVirt is not installed in this cluster: it cannot run VMs")
        memory = f"{int(spec.ram_mb or 1024)}Mi"
        body = {
            "apiVersion": f"{KUBEVIRT}/{KUBEVIRT_VERSION}", "kind": "VirtualMachine",
            "metadata": {"name": spec.name, "labels": labels},
            "spec": {"runStrategy": "Always", "template": {
                "metadata": {"labels": {"kubevirt.io/domain": spec.name}},
                "spec": {"domain": {"cpu": {"cores": int(math.ceil(spec.vcpus or 1)), "sockets": 1, "threads": 1},
                                    "memory": {"guest": memory},
                                    "resources": {"requests": {"memory": memory}},
                                    "devices": {"disks": [{"name": "containerdisk", "disk": {"bus": "virtio"}}],
                                                "interfaces": [{"name": "default", "masquerade": {}}]}},
                         "networks": [{"name": "default", "pod": {}}],
                         "volumes": [{"name": "containerdisk",
                                      "containerDisk": {"image": spec.image or DEFAULT_VM_IMAGE}}]}}},
        }
        doing = f"create virtual machine {namespace}/{spec.name}"
        created, _ = api.call(self.custom.create_namespaced_custom_object, doing, KUBEVIRT, KUBEVIRT_VERSION,
                              namespace, "virtualmachines", body)
        instance = None
        try:
            instance, _ = api.call(self.custom.get_namespaced_custom_object, f"read the instance of {spec.name}",
                                   KUBEVIRT, KUBEVIRT_VERSION, namespace, "virtualmachineinstances", spec.name)
        except ProviderDataError:
            pass  # not scheduled yet: the VM is reported as it stands
        _, node_uids = self._nodes(api.list_all(self.core.list_node, "list nodes", page_size=self.page_size)[0], [])
        return mapping.vm_resource(created, instance, self._hints(), node_uids, None)

    def _hints(self) -> dict[str, str]:
        namespaces, _, _ = api.list_all(self.core.list_namespace, "list namespaces", page_size=self.page_size)
        return mapping.project_hints(namespaces, self.settings.get("project_label") or "glasspane.project")

    # -- quotas -----------------------------------------------------------------------------------

    def read_quotas(self, project_ref: str) -> dict[str, QuotaReading]:
        """The namespace's ResourceQuotas (every one, ours and the operator's) in our keys."""
        items, _, _ = api.list_all(self.core.list_namespaced_resource_quota,
                                   f"list resourcequotas in namespace {project_ref}", project_ref,
                                   page_size=self.page_size)
        return quotas.readings(items)

    def apply_quota(self, project_ref: str, limits: Mapping[str, int]) -> dict[str, int]:
        """Write the keys given into the ResourceQuota ``glasspane`` we own in namespace ``project_ref``.

        Only our quota is written, never one the operator made; a key absent from ``limits`` keeps
        its value; -1 removes it from our quota. Returns the limit that now holds per key (the
        smallest over every quota of the namespace; -1 where none limits it).
        """
        namespace = project_ref
        wanted = {k: v for k, v in limits.items() if k in quotas.KEYS}
        doing = f"read resourcequota {quotas.OURS} in namespace {namespace}"
        for attempt in (1, 2):
            try:
                current, _ = api.call(self.core.read_namespaced_resource_quota, doing, quotas.OURS, namespace)
            except ProviderDataError as exc:
                if "(404" not in str(exc):
                    raise
                current = None
            if current is not None and not quotas.is_ours(current):
                raise ProviderAuthError(f"namespace {namespace} has a ResourceQuota named {quotas.OURS!r} that "
                                        f"Glasspane did not create (no {quotas.MANAGED_BY[0]} label); not touching it")
            hard = quotas.merged_hard(((current or {}).get("spec") or {}).get("hard") or {}, wanted)
            body = quotas.owned_quota(namespace, hard)
            try:
                if current is None:
                    if hard:
                        api.call(self.core.create_namespaced_resource_quota,
                                 f"create resourcequota {quotas.OURS} in namespace {namespace}", namespace, body)
                elif hard != ((current.get("spec") or {}).get("hard") or {}):
                    body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
                    api.call(self.core.replace_namespaced_resource_quota,
                             f"update resourcequota {quotas.OURS} in namespace {namespace}", quotas.OURS, namespace,
                             body)
                break
            except ProviderDataError as exc:
                if attempt == 2 or "(409" not in str(exc):
                    raise
        now = self.read_quotas(namespace)
        return {key: (now[key].limit if key in now and now[key].limit is not None else -1) for key in quotas.KEYS}


def _usage(items: list, plural: str, lookup, wanted: set[str] | None) -> list[UtilizationSample]:
    """Samples of one metrics list (``lookup``: an item's metadata -> the external id it counts for)."""
    result = []
    for item in items:
        if not mapping.is_mapping(item):
            continue
        external_id = lookup(item.get("metadata") or {})
        if external_id is None or (wanted is not None and external_id not in wanted):
            continue
        try:
            usage = [item.get("usage") or {}] if plural == "nodes" else [
                c.get("usage") or {} for c in item.get("containers") or []]
            memory = sum((mapping.quantity(u.get("memory", 0), "memory usage") for u in usage), Decimal(0))
            at = mapping.parse_time(item.get("timestamp"), "metrics timestamp")
        except ProviderDataError:
            continue
        result.append(UtilizationSample(external_id=external_id, at=at or utcnow(),
                                        memory_used_mb=(memory / mapping.MIB).quantize(Decimal("0.01"))))
    return result


def _read_pods(page: list) -> list[tuple[Mapping | None, Any]]:
    """One page of pods as kept until the namespaces and nodes are listed: ``(launcher pod, None)``
    for a virt-launcher (its VM needs it whole), else ``(None, (pod_fields, claim names))`` or
    ``(None, DataIssue)`` for a pod that cannot be read."""
    kept: list[tuple[Mapping | None, Any]] = []
    for pod in page:
        if mapping.is_launcher(pod):
            kept.append((pod, None))
            continue
        try:
            fields = mapping.pod_fields(pod)
        except (ProviderDataError, TypeError, AttributeError, ValueError) as exc:
            kept.append((None, DataIssue(_uid(pod), f"pod {_name(pod)}: {exc}")))
            continue
        kept.append((None, (fields, mapping.pod_claims(pod))))
    return kept


def _dated_stop(found: ObservedResource, stops: Mapping[tuple[str, str], datetime]) -> ObservedResource:
    """A VM seen stopped whose instance the watch saw end: it stopped then (not at this observation)."""
    if found.kind != Kind.VM or found.state == State.RUNNING or found.finished_at is not None or not stops:
        return found
    when = stops.get((str(found.properties.get("namespace")), str(found.properties.get("virtual_machine"))))
    return replace(found, finished_at=when) if when else found


def _cpu(vcpus: Decimal) -> str:
    millis = int(Decimal(vcpus) * 1000)
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def _plain(value):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _meta(obj) -> Mapping:
    meta = obj.get("metadata") if mapping.is_mapping(obj) else None
    return meta if mapping.is_mapping(meta) else {}


def _uid(obj) -> str:
    return str(_meta(obj).get("uid") or "?")


def _name(obj) -> str:
    return str(_meta(obj).get("name") or "?")


def _ns(obj) -> str:
    return str(_meta(obj).get("namespace") or "")
