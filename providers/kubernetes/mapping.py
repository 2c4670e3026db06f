"""Kubernetes and KubeVirt objects (plain JSON dicts) -> ``providers.base`` observations.

Pure functions, no I/O. A record that cannot be read raises ``ProviderDataError`` naming what is
wrong; the driver files it under ``Inventory.issues`` and keeps the rest.

Sizes: a pod is sized by its *requests* (what the scheduler reserves): the sum over its containers,
or the largest init container's if that is more, plus the pod overhead. A pod whose containers
request nothing is unlimited (``None``), never 0. Limits are kept in ``properties``. A KubeVirt VM
has the vCPUs of its domain's CPU topology (cores x sockets x threads), else of its CPU request,
else 1 (KubeVirt's default); memory is the guest memory, else the memory request.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal
from typing import Any

from kubernetes.utils.quantity import parse_quantity

from providers.base import (
    EventAction,
    Kind,
    ObservedEvent,
    ObservedProject,
    ObservedResource,
    ProviderDataError,
    State,
    to_decimal,
)

MIB = Decimal(1024 * 1024)
GIB = Decimal(1024 ** 3)

#: pod phase -> common state (Pod Lifecycle, "Pod phase")
POD_PHASES = {"Pending": State.BUILDING, "Running": State.RUNNING, "Succeeded": State.STOPPED,
              "Failed": State.ERROR, "Unknown": State.UNKNOWN}
#: container waiting reasons that mean the pod is broken rather than starting
BROKEN = {"CrashLoopBackOff": State.CRASHED, "ErrImagePull": State.ERROR, "ImagePullBackOff": State.ERROR,
          "CreateContainerConfigError": State.ERROR, "InvalidImageName": State.ERROR}
#: VirtualMachineInstance phase -> common state (KubeVirt API reference, VirtualMachineInstancePhase)
VMI_PHASES = {"Pending": State.BUILDING, "Scheduling": State.BUILDING, "Scheduled": State.BUILDING,
              "Running": State.RUNNING, "Succeeded": State.STOPPED, "Failed": State.CRASHED,
              "Unknown": State.UNKNOWN}
#: VirtualMachine printableStatus when there is no instance
VM_PRINTABLE = {"Stopped": State.STOPPED, "Halted": State.STOPPED, "Provisioning": State.BUILDING,
                "Starting": State.BUILDING, "WaitingForVolumeBinding": State.BUILDING, "Paused": State.PAUSED,
                "Stopping": State.STOPPED, "Terminating": State.STOPPED, "CrashLoopBackOff": State.CRASHED,
                "ErrorUnschedulable": State.ERROR, "ErrImagePull": State.ERROR, "ImagePullBackOff": State.ERROR,
                "ErrorPvcNotFound": State.ERROR, "DataVolumeError": State.ERROR, "Migrating": State.RUNNING,
                "Running": State.RUNNING}
PVC_PHASES = {"Bound": State.AVAILABLE, "Pending": State.BUILDING, "Lost": State.ERROR}
LAUNCHER_LABEL = ("kubevirt.io", "virt-launcher")


#: parsed quantities and timestamps by their text: a cluster repeats the same few quantities
#: ('500m', '2Gi') and timestamps (pods started together) thousands of times. Values are immutable,
#: so sharing one is safe; a cache that fills up is emptied (unique metrics values must not grow it).
_QUANTITIES: dict[str, Decimal] = {}
_TIMES: dict[str, datetime] = {}
CACHE_LIMIT = 4096


def parse_time(value: Any, what: str) -> datetime | None:
    """RFC 3339 ``metav1.Time`` (``2024-01-02T03:04:05Z``, maybe with fraction/offset) -> aware UTC."""
    if value in (None, ""):
        return None
    if value.__class__ is str:
        parsed = _TIMES.get(value)
        if parsed is not None:
            return parsed
    elif not isinstance(value, str):
        raise ProviderDataError(f"{what} is not a timestamp: {value!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ProviderDataError(f"{what} is not a timestamp: {value!r}") from None
    parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    if value.__class__ is str:
        if len(_TIMES) >= CACHE_LIMIT:
            _TIMES.clear()
        _TIMES[value] = parsed
    return parsed


def quantity(value: Any, what: str) -> Decimal:
    if value.__class__ is str:
        parsed = _QUANTITIES.get(value)
        if parsed is not None:
            return parsed
    try:
        parsed = parse_quantity(value)
    except (ValueError, TypeError):
        raise ProviderDataError(f"{what} is not a quantity: {value!r}") from None
    if value.__class__ is str:
        if len(_QUANTITIES) >= CACHE_LIMIT:
            _QUANTITIES.clear()
        _QUANTITIES[value] = parsed
    return parsed


def mebibytes(value: Decimal) -> int:
    """Bytes as whole MiB, rounded up (a 64M request is 61.04 MiB: 62)."""
    return int((value / MIB).to_integral_value(rounding=ROUND_CEILING))


def gibibytes(value: Decimal) -> Decimal:
    return to_decimal(value / GIB)


def is_mapping(value: Any) -> bool:
    """``isinstance(value, Mapping)``, without the ABC check for the plain dicts JSON gives."""
    return value.__class__ is dict or isinstance(value, Mapping)


def _meta(obj: Mapping[str, Any], what: str) -> Mapping[str, Any]:
    meta = obj.get("metadata") if is_mapping(obj) else None
    if not is_mapping(meta) or not meta.get("uid") or not meta.get("name"):
        raise ProviderDataError(f"{what} without metadata.name and metadata.uid")
    return meta


def _labels(meta: Mapping[str, Any]) -> dict[str, str]:
    labels = meta.get("labels") or {}
    return {str(k): str(v) for k, v in labels.items()} if is_mapping(labels) else {}


# -- namespaces -> projects ---------------------------------------------------------------------------


def namespace_project(namespace: Mapping[str, Any], project_label: str) -> ObservedProject:
    """A namespace as a tenant; its name is the project label's value when it has one, so that
    ``auto_create_projects`` links it to that project."""
    meta = namespace.get("metadata") or {}
    name = str(meta.get("name") or "")
    if not name:
        raise ProviderDataError("namespace without a name")
    label = _labels(meta).get(project_label)
    return ObservedProject(external_id=name, name=label or name,
                           description=f"namespace {name}" + (f" ({project_label}={label})" if label else ""))


def project_hints(namespaces: list[Mapping[str, Any]], project_label: str) -> dict[str, str]:
    """namespace -> project hint: its ``glasspane.project`` label, else its own name."""
    hints = {}
    for namespace in namespaces:
        meta = namespace.get("metadata") or {}
        if meta.get("name"):
            hints[str(meta["name"])] = _labels(meta).get(project_label) or str(meta["name"])
    return hints


# -- nodes -> hosts -----------------------------------------------------------------------------------


def node_resource(node: Mapping[str, Any]) -> ObservedResource:
    meta = _meta(node, "node")
    status = node.get("status") or {}
    capacity, allocatable = status.get("capacity") or {}, status.get("allocatable") or {}
    name = str(meta["name"])
    ready = [c for c in status.get("conditions") or [] if isinstance(c, Mapping) and c.get("type") == "Ready"]
    state = State.UNKNOWN
    if ready:
        state = {"True": State.RUNNING, "False": State.ERROR}.get(ready[0].get("status"), State.UNKNOWN)
    info = status.get("nodeInfo") or {}
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or [] if isinstance(a, Mapping)}
    return ObservedResource(
        external_id=str(meta["uid"]), kind=Kind.HOST, name=name, state=state,
        vcpus=to_decimal(quantity(capacity["cpu"], f"node {name} cpu")) if capacity.get("cpu") else None,
        ram_mb=mebibytes(quantity(capacity["memory"], f"node {name} memory")) if capacity.get("memory") else None,
        disk_gb=(gibibytes(quantity(capacity["ephemeral-storage"], f"node {name} ephemeral-storage"))
                 if capacity.get("ephemeral-storage") else None),
        labels=_labels(meta),
        properties={
            "allocatable_cpu": allocatable.get("cpu"), "allocatable_memory": allocatable.get("memory"),
            "allocatable_pods": allocatable.get("pods"), "unschedulable": bool((node.get("spec") or {}).get("unschedulable")),
            "internal_ip": addresses.get("InternalIP"), "kubelet_version": info.get("kubeletVersion"),
            "container_runtime": info.get("containerRuntimeVersion"), "os_image": info.get("osImage"),
            "kernel": info.get("kernelVersion"), "architecture": info.get("architecture"),
        },
        created_at=parse_time(meta.get("creationTimestamp"), f"node {name} creationTimestamp"),
    )


# -- pods -> containers -------------------------------------------------------------------------------


def is_launcher(pod: Mapping[str, Any]) -> bool:
    """A ``virt-launcher`` pod: it runs a KubeVirt VM, which is counted as the VM, not again here."""
    meta = pod.get("metadata") or {}
    key, value = LAUNCHER_LABEL
    labels = meta.get("labels") or {}
    label = labels.get(key) if is_mapping(labels) else None  # JSON keys are strings: as _labels(meta)
    owners = meta.get("ownerReferences") or []
    return (label is not None and str(label) == value) or any(
        is_mapping(o) and o.get("kind") == "VirtualMachineInstance" for o in owners)


def pod_sizes(spec: Mapping[str, Any], scope: str, name: str) -> dict[str, Decimal]:
    """Effective ``requests`` or ``limits`` of a pod: {"cpu": cores, "memory": bytes}, only those set."""
    result = {}
    # each container's requests (or limits) once for both resources; values are parsed in the order
    # the sum then the init containers' maximum then the overhead need them (so errors are the same)
    app_scoped = [(c.get("resources") or {}).get(scope) or {} for c in spec.get("containers") or []]
    init_scoped = [(c.get("resources") or {}).get(scope) or {} for c in spec.get("initContainers") or []]
    for resource in ("cpu", "memory"):
        total = what = None
        for scoped in app_scoped:
            value = scoped.get(resource)
            if value is not None:
                if total is None:
                    total, what = Decimal(0), f"pod {name} {scope}.{resource}"
                total += quantity(value, what)
        for scoped in init_scoped:
            value = scoped.get(resource)
            if value is not None:
                if total is None:
                    total, what = Decimal(0), f"pod {name} {scope}.{resource}"
                total = max(total, quantity(value, what))
        if total is None:
            continue
        overhead = (spec.get("overhead") or {}).get(resource)
        result[resource] = total + (quantity(overhead, f"pod {name} overhead") if overhead else 0)
    return result


def _container_times(status: Mapping[str, Any], name: str) -> tuple[datetime | None, datetime | None, bool]:
    """(latest startedAt of a running container, latest finishedAt, all terminated?)."""
    started, finished, terminated = [], [], []
    for entry in status.get("containerStatuses") or []:
        state = (entry or {}).get("state") or {}
        if "running" in state:
            started.append(parse_time((state["running"] or {}).get("startedAt"), f"pod {name} startedAt"))
            terminated.append(False)
        elif "terminated" in state:
            finished.append(parse_time((state["terminated"] or {}).get("finishedAt"), f"pod {name} finishedAt"))
            terminated.append(True)
        else:
            terminated.append(False)
    started = [s for s in started if s]
    finished = [f for f in finished if f]
    return (max(started) if started else None, max(finished) if finished else None,
            bool(terminated) and all(terminated))


def pod_state(pod: Mapping[str, Any]) -> str:
    status = pod.get("status") or {}
    state = POD_PHASES.get(status.get("phase"), State.UNKNOWN)
    if state in (State.RUNNING, State.BUILDING):
        for entry in status.get("containerStatuses") or []:
            waiting = ((entry or {}).get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in BROKEN:
                return BROKEN[waiting["reason"]]
    return state


def pod_resource(pod: Mapping[str, Any], hints: Mapping[str, str], nodes: Mapping[str, str]) -> ObservedResource:
    """One pod as a container resource nested under its node (``nodes``: node name -> uid)."""
    return placed_pod(pod_fields(pod), hints, nodes)


def placed_pod(fields: dict[str, Any], hints: Mapping[str, str], nodes: Mapping[str, str]) -> ObservedResource:
    """The resource of ``pod_fields`` once namespaces (project hints) and nodes (parents) are known."""
    properties = fields["properties"]
    namespace = properties["namespace"]
    return ObservedResource(**fields, project_hint=hints.get(namespace, namespace),
                            parent_external_id=nodes.get(str(properties["node"] or "")))


def pod_fields(pod: Mapping[str, Any]) -> dict[str, Any]:
    """Everything ``pod_resource`` reports but where the pod sits (project hint, parent node), as
    ``ObservedResource`` keywords: a page of pods is read as it arrives and then let go, before the
    namespaces and nodes are listed (2,000 raw pods kept alive cost the garbage collector dearly)."""
    meta = _meta(pod, "pod")
    name, namespace = str(meta["name"]), str(meta.get("namespace") or "")
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    requests = pod_sizes(spec, "requests", name)
    limits = pod_sizes(spec, "limits", name)
    running_since, finished, all_done = _container_times(status, name)
    containers = [c for c in spec.get("containers") or [] if is_mapping(c)]
    owners = [o for o in meta.get("ownerReferences") or [] if is_mapping(o)]
    restarts = sum(int((c or {}).get("restartCount") or 0) for c in status.get("containerStatuses") or [])
    deletion = parse_time(meta.get("deletionTimestamp"), f"pod {name} deletionTimestamp")
    state = pod_state(pod)
    return dict(
        external_id=str(meta["uid"]), kind=Kind.CONTAINER, name=f"{namespace}/{name}", state=state,
        vcpus=to_decimal(requests["cpu"]) if "cpu" in requests else None,
        ram_mb=mebibytes(requests["memory"]) if "memory" in requests else None,
        image=str(containers[0].get("image") or "") if containers else "",
        labels=_labels(meta),
        properties={
            "namespace": namespace, "pod": name, "node": spec.get("nodeName"), "phase": status.get("phase"),
            "qos_class": status.get("qosClass"), "pod_ip": status.get("podIP"), "restarts": restarts,
            "containers": [str(c.get("name")) for c in containers],
            "cpu_request": _cpu_text(requests.get("cpu")), "memory_request_mb": _mb(requests.get("memory")),
            "cpu_limit": _cpu_text(limits.get("cpu")) or "unlimited",
            "memory_limit_mb": _mb(limits.get("memory")) or "unlimited",
            "owner": f"{owners[0].get('kind')}/{owners[0].get('name')}" if owners else None,
            "terminating_at": deletion.isoformat() if deletion else None,
        },
        created_at=parse_time(meta.get("creationTimestamp"), f"pod {name} creationTimestamp"),
        started_at=parse_time(status.get("startTime"), f"pod {name} startTime") if state == State.RUNNING
        else running_since,
        finished_at=finished if all_done or state != State.RUNNING else None,
    )


def deleted_pod(pod: Mapping[str, Any], hints: Mapping[str, str], nodes: Mapping[str, str],
                fallback: datetime) -> ObservedResource:
    """A pod from a watch's DELETED event, dated by its containers' finishedAt or its deletionTimestamp."""
    found = pod_resource(pod, hints, nodes)
    meta = pod.get("metadata") or {}
    _, finished, all_done = _container_times(pod.get("status") or {}, str(meta.get("name")))
    stamp = parse_time(meta.get("deletionTimestamp"), "pod deletionTimestamp")
    when = finished if all_done and finished else stamp or fallback
    return _deleted(found, when)


def _deleted(found: ObservedResource, when: datetime) -> ObservedResource:
    from dataclasses import replace

    return replace(found, state=State.STOPPED, deleted_at=when, finished_at=found.finished_at or when)


def _cpu_text(value: Decimal | None) -> str | None:
    return None if value is None else f"{value.normalize():f}"


def _mb(value: Decimal | None) -> int | None:
    return None if value is None else mebibytes(value)


# -- KubeVirt VMs -------------------------------------------------------------------------------------


def vm_size(domain: Mapping[str, Any], what: str) -> tuple[Decimal, int | None, str]:
    """(vCPUs, memory MiB, where the vCPUs came from) of a KubeVirt domain spec."""
    cpu = domain.get("cpu") or {}
    resources = domain.get("resources") or {}
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    if any(k in cpu for k in ("cores", "sockets", "threads")):
        vcpus = Decimal(int(cpu.get("cores") or 1) * int(cpu.get("sockets") or 1) * int(cpu.get("threads") or 1))
        source = "cpu topology"
    elif requests.get("cpu") or limits.get("cpu"):
        raw = requests.get("cpu") or limits.get("cpu")
        vcpus = quantity(raw, f"{what} cpu request").to_integral_value(rounding=ROUND_CEILING)
        source = "cpu request"
    else:
        vcpus, source = Decimal(1), "default (1)"
    memory = (domain.get("memory") or {}).get("guest") or requests.get("memory") or limits.get("memory")
    return vcpus, mebibytes(quantity(memory, f"{what} memory")) if memory else None, source


def vm_resource(vm: Mapping[str, Any] | None, vmi: Mapping[str, Any] | None, hints: Mapping[str, str],
                nodes: Mapping[str, str], launcher: Mapping[str, Any] | None) -> ObservedResource:
    """A VirtualMachine (with its running instance, if any) or a standalone instance, as a VM.

    Sizes come from the instance when it runs (what the guest got), else from the VM's template;
    the external id is the VM's uid, stable across restarts (each start makes a new instance).
    """
    main = vm or vmi
    meta = _meta(main, "virtual machine")
    name, namespace = str(meta["name"]), str(meta.get("namespace") or "")
    what = f"virtual machine {namespace}/{name}"
    instance = vmi or {}
    domain = ((instance.get("spec") or {}).get("domain")
              or (((vm or {}).get("spec") or {}).get("template") or {}).get("spec", {}).get("domain") or {})
    vcpus, ram_mb, cpu_source = vm_size(domain, what)
    istatus = instance.get("status") or {}
    guest_now = ((istatus.get("memory") or {}).get("guestCurrent"))
    if guest_now:
        ram_mb = mebibytes(quantity(guest_now, f"{what} guestCurrent"))
    vm_status = (vm or {}).get("status") or {}
    if vmi:
        state = VMI_PHASES.get(istatus.get("phase"), State.UNKNOWN)
        if state == State.RUNNING and any(isinstance(c, Mapping) and c.get("type") == "Paused"
                                          and c.get("status") == "True" for c in istatus.get("conditions") or []):
            state = State.PAUSED
    else:
        state = VM_PRINTABLE.get(vm_status.get("printableStatus"), State.STOPPED)
    transitions = {t.get("phase"): t.get("phaseTransitionTimestamp")
                   for t in istatus.get("phaseTransitionTimestamps") or [] if isinstance(t, Mapping)}
    spec = (vm or {}).get("spec") or {}
    volumes = ((spec.get("template") or {}).get("spec") or {}).get("volumes") or (
        (instance.get("spec") or {}).get("volumes") or [])
    images = [((v.get("containerDisk") or {}).get("image")) for v in volumes if isinstance(v, Mapping)]
    launcher_meta = (launcher or {}).get("metadata") or {}
    return ObservedResource(
        external_id=str(meta["uid"]), kind=Kind.VM, name=f"{namespace}/{name}", state=state,
        vcpus=vcpus, ram_mb=ram_mb,
        project_hint=hints.get(namespace, namespace),
        parent_external_id=nodes.get(str(istatus.get("nodeName") or "")),
        image=next((i for i in images if i), ""),
        labels=_labels(meta),
        properties={
            "namespace": namespace, "virtual_machine": name, "node": istatus.get("nodeName"),
            "run_strategy": spec.get("runStrategy") or ("Always" if spec.get("running") else
                                                        "Halted" if "running" in spec else None),
            "printable_status": vm_status.get("printableStatus"), "instance_phase": istatus.get("phase"),
            "instance_uid": (instance.get("metadata") or {}).get("uid"), "vcpus_from": cpu_source,
            "cpu_topology": {k: domain.get("cpu", {}).get(k) for k in ("cores", "sockets", "threads")}
            if domain.get("cpu") else None,
            "launcher_pod": f"{namespace}/{launcher_meta.get('name')}" if launcher_meta.get("name") else None,
            "launcher_pod_uid": launcher_meta.get("uid"),
            "ip": next((i.get("ipAddress") for i in istatus.get("interfaces") or [] if isinstance(i, Mapping)), None),
            "standalone_instance": vm is None,
        },
        created_at=parse_time(meta.get("creationTimestamp"), f"{what} creationTimestamp"),
        started_at=parse_time(transitions.get("Running"), f"{what} Running transition") if vmi else None,
        finished_at=parse_time(transitions.get("Succeeded") or transitions.get("Failed"), f"{what} end")
        if vmi and state != State.RUNNING else None,
    )


def deleted_vm(vm: Mapping[str, Any], hints: Mapping[str, str], fallback: datetime) -> ObservedResource:
    found = vm_resource(vm, None, hints, {}, None)
    stamp = parse_time((vm.get("metadata") or {}).get("deletionTimestamp"), "virtual machine deletionTimestamp")
    return _deleted(found, stamp or fallback)


def vm_claims(vm: Mapping[str, Any]) -> list[str]:
    """PVC names a VM's template mounts (``persistentVolumeClaim`` or ``dataVolume`` volumes)."""
    volumes = ((((vm.get("spec") or {}).get("template") or {}).get("spec") or {}).get("volumes")) or []
    names = []
    for volume in volumes:
        if not isinstance(volume, Mapping):
            continue
        claim = (volume.get("persistentVolumeClaim") or {}).get("claimName") or (volume.get("dataVolume") or {}).get("name")
        if claim:
            names.append(str(claim))
    return names


def pod_claims(pod: Mapping[str, Any]) -> list[str]:
    volumes = (pod.get("spec") or {}).get("volumes") or []
    return [str(v["persistentVolumeClaim"]["claimName"]) for v in volumes
            if isinstance(v, Mapping) and (v.get("persistentVolumeClaim") or {}).get("claimName")]


# -- PVCs -> volumes ----------------------------------------------------------------------------------


def pvc_resource(pvc: Mapping[str, Any], hints: Mapping[str, str], users: Mapping[tuple[str, str], str]) -> ObservedResource:
    """A PersistentVolumeClaim as a volume of its requested storage; ``users``: (ns, claim) -> the
    external id of the VM or pod that mounts it (its parent)."""
    meta = _meta(pvc, "persistentvolumeclaim")
    name, namespace = str(meta["name"]), str(meta.get("namespace") or "")
    spec, status = pvc.get("spec") or {}, pvc.get("status") or {}
    requested = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    if not requested:
        raise ProviderDataError(f"persistentvolumeclaim {namespace}/{name} requests no storage")
    parent = users.get((namespace, name))
    state = PVC_PHASES.get(status.get("phase"), State.UNKNOWN)
    if state == State.AVAILABLE and parent:
        state = State.IN_USE
    return ObservedResource(
        external_id=str(meta["uid"]), kind=Kind.VOLUME, name=f"{namespace}/{name}", state=state,
        disk_gb=gibibytes(quantity(requested, f"persistentvolumeclaim {namespace}/{name} storage")),
        project_hint=hints.get(namespace, namespace), parent_external_id=parent, labels=_labels(meta),
        properties={"namespace": namespace, "claim": name, "phase": status.get("phase"),
                    "storage_class": spec.get("storageClassName"), "access_modes": spec.get("accessModes"),
                    "volume_name": spec.get("volumeName"), "capacity": (status.get("capacity") or {}).get("storage"),
                    "volume_mode": spec.get("volumeMode")},
        created_at=parse_time(meta.get("creationTimestamp"), f"persistentvolumeclaim {name} creationTimestamp"),
    )


# -- watch events -> lifecycle events -----------------------------------------------------------------


def change_events(plural: str, kind: str | None, obj: Mapping[str, Any], started: set[str]) -> list[ObservedEvent]:
    """The lifecycle changes one watch event dates, as ``ObservedEvent`` of the resource we report.

    A pod: created, stopped (every container terminated: the last ``finishedAt``), deleted (its
    ``deletionTimestamp``). A VM: deleted. A VM instance stands for its VM (the owner's uid): started
    at its Running transition (once per instance, tracked in ``started``), stopped when deleted.
    Launcher pods date nothing of their own.
    """
    meta = obj.get("metadata") or {}
    uid = str(meta.get("uid") or "")
    if not uid or kind not in ("ADDED", "MODIFIED", "DELETED"):
        return []
    when = parse_time(meta.get("deletionTimestamp"), "deletionTimestamp")
    if plural == "pods":
        if is_launcher(obj):
            return []
        if kind == "DELETED":
            _, finished, done = _container_times(obj.get("status") or {}, str(meta.get("name")))
            return [ObservedEvent(uid, EventAction.DELETED, (finished if done and finished else when) or _now())]
        if kind == "ADDED":
            created = parse_time(meta.get("creationTimestamp"), "creationTimestamp")
            return [ObservedEvent(uid, EventAction.CREATED, created)] if created else []
        _, finished, done = _container_times(obj.get("status") or {}, str(meta.get("name")))
        if done and finished and uid + ":stopped" not in started:
            started.add(uid + ":stopped")
            return [ObservedEvent(uid, EventAction.STOPPED, finished)]
        return []
    if plural == "virtualmachines":
        return [ObservedEvent(uid, EventAction.DELETED, when or _now())] if kind == "DELETED" else []
    owners = [o for o in meta.get("ownerReferences") or [] if isinstance(o, Mapping) and o.get("kind") == "VirtualMachine"]
    vm = str(owners[0].get("uid")) if owners else uid
    if kind == "DELETED":
        return [ObservedEvent(vm, EventAction.STOPPED, when or _now(), {"instance": uid})]
    transitions = {t.get("phase"): t.get("phaseTransitionTimestamp")
                   for t in (obj.get("status") or {}).get("phaseTransitionTimestamps") or [] if isinstance(t, Mapping)}
    running = parse_time(transitions.get("Running"), "Running transition")
    if running and uid not in started:
        started.add(uid)
        return [ObservedEvent(vm, EventAction.STARTED, running, {"instance": uid})]
    return []


def _now() -> datetime:
    return datetime.now(UTC)
