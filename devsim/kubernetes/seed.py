"""Seed data: tokens, nodes and namespaces (``base``), the ``demo`` cluster, and a generator.

Fixtures follow the references' own examples: the ``frontend`` pod with ``app`` and
``log-aggregator`` containers (requests 250m / 64Mi, limits 500m / 128Mi) from Kubernetes'
"Resource Management for Pods and Containers"; the ``nginx:1.14.2`` pod (no requests) from "Pods";
the ``compute-resources`` and ``object-counts`` ResourceQuotas from "Resource Quotas"; the
``myclaim`` PVC (8Gi) from "Persistent Volumes"; KubeVirt's ``testvm`` (cirros container disk, 64M
memory request) and a ``fedora`` VM with 2 cores and 2Gi guest memory from KubeVirt's user guide.

Tokens: ``ADMIN_TOKEN`` may do everything; ``READER_TOKEN`` may get/list/watch everything;
``NO_KUBEVIRT_TOKEN`` may read everything except the kubevirt.io group.
"""

from __future__ import annotations

import copy
import random

from devsim.kubernetes.state import ClusterState, rule, stable_uid

ADMIN_TOKEN = "glasspane-admin-token"
READER_TOKEN = "glasspane-reader-token"
NO_KUBEVIRT_TOKEN = "glasspane-no-kubevirt-token"
PROJECT_LABEL = "glasspane.project"

FRONTEND = {
    "metadata": {"name": "frontend", "labels": {"app": "frontend"}},
    "spec": {"containers": [
        {"name": "app", "image": "images.my-company.example/app:v4",
         "resources": {"requests": {"memory": "64Mi", "cpu": "250m"}, "limits": {"memory": "128Mi", "cpu": "500m"}}},
        {"name": "log-aggregator", "image": "images.my-company.example/log-aggregator:v6",
         "resources": {"requests": {"memory": "64Mi", "cpu": "250m"}, "limits": {"memory": "128Mi", "cpu": "500m"}}},
    ]},
}
NGINX = {
    "metadata": {"name": "nginx", "labels": {"app": "nginx"}},
    "spec": {"containers": [{"name": "nginx", "image": "nginx:1.14.2",
                             "ports": [{"containerPort": 80, "protocol": "TCP"}]}]},
}
TESTVM = {
    "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
    "metadata": {"name": "testvm", "labels": {"kubevirt.io/os": "cirros"}},
    "spec": {"runStrategy": "Always", "template": {
        "metadata": {"labels": {"kubevirt.io/size": "small", "kubevirt.io/domain": "testvm"}},
        "spec": {"domain": {"devices": {"disks": [{"name": "containerdisk", "disk": {"bus": "virtio"}},
                                                  {"name": "cloudinitdisk", "disk": {"bus": "virtio"}}],
                                        "interfaces": [{"name": "default", "masquerade": {}}]},
                            "resources": {"requests": {"memory": "64M"}}},
                 "networks": [{"name": "default", "pod": {}}],
                 "volumes": [{"name": "containerdisk",
                              "containerDisk": {"image": "quay.io/kubevirt/cirros-container-disk-demo"}},
                             {"name": "cloudinitdisk", "cloudInitNoCloud": {"userDataBase64": "SGkuXG4="}}]}}},
}
FEDORA = {
    "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
    "metadata": {"name": "fedora", "labels": {"kubevirt.io/os": "fedora"}},
    "spec": {"runStrategy": "Always", "template": {
        "metadata": {"labels": {"kubevirt.io/domain": "fedora"}},
        "spec": {"domain": {"cpu": {"cores": 2, "sockets": 1, "threads": 1}, "memory": {"guest": "2Gi"},
                            "devices": {"disks": [{"name": "containerdisk", "disk": {"bus": "virtio"}}],
                                        "interfaces": [{"name": "default", "masquerade": {}}], "rng": {}},
                            "resources": {"requests": {"memory": "2Gi"}}},
                 "networks": [{"name": "default", "pod": {}}],
                 "terminationGracePeriodSeconds": 0,
                 "volumes": [{"name": "containerdisk",
                              "containerDisk": {"image": "quay.io/containerdisks/fedora:40"}}]}}},
}
MYCLAIM = {
    "metadata": {"name": "myclaim"},
    "spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem",
             "resources": {"requests": {"storage": "8Gi"}}, "storageClassName": "slow"},
}
COMPUTE_RESOURCES = {"metadata": {"name": "compute-resources"},
                     "spec": {"hard": {"requests.cpu": "1", "requests.memory": "1Gi", "limits.cpu": "2",
                                       "limits.memory": "2Gi"}}}
OBJECT_COUNTS = {"metadata": {"name": "object-counts"},
                 "spec": {"hard": {"configmaps": "10", "persistentvolumeclaims": "4", "pods": "40",
                                   "replicationcontrollers": "20", "secrets": "10", "services": "10",
                                   "services.loadbalancers": "2"}}}


def base(state: ClusterState, nodes: int = 3) -> None:
    """Tokens, ``nodes`` worker nodes (8 cores, 32 GiB each) and the system namespaces."""
    state.add_token(ADMIN_TOKEN, "system:serviceaccount:glasspane:collector", [rule("*", "*", "*")])
    state.add_token(READER_TOKEN, "system:serviceaccount:glasspane:reader",
                    [rule("get,list,watch", "*", "*")])
    state.add_token(NO_KUBEVIRT_TOKEN, "system:serviceaccount:glasspane:limited",
                    [rule("get,list,watch", "core", "*"), rule("get,list", "metrics.k8s.io", "*")])
    for index in range(1, nodes + 1):
        if state.find("nodes", "", f"worker-{index}") is None:
            state.put("nodes", node(f"worker-{index}", index))
    for name in ("default", "kube-system", "kube-public"):
        add_namespace(state, name)


def node(name: str, index: int, cpu: str = "8", memory: str = "32882124Ki") -> dict:
    """A Ready node as the kubelet registers it (capacity, allocatable, addresses, nodeInfo)."""
    ip = f"192.168.49.{index + 1}"
    return {
        "metadata": {"name": name, "uid": stable_uid("node", name),
                     "labels": {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                                "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": name,
                                "kubernetes.io/os": "linux", "kubevirt.io/schedulable": "true"},
                     "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                     "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
        "spec": {"podCIDR": f"10.244.{index}.0/24", "podCIDRs": [f"10.244.{index}.0/24"]},
        "status": {
            "capacity": {"cpu": cpu, "ephemeral-storage": "102626232Ki", "hugepages-1Gi": "0", "hugepages-2Mi": "0",
                         "memory": memory, "pods": "110", "devices.kubevirt.io/kvm": "1k"},
            "allocatable": {"cpu": cpu, "ephemeral-storage": "94580335255", "hugepages-1Gi": "0",
                            "hugepages-2Mi": "0", "memory": _less(memory), "pods": "110",
                            "devices.kubevirt.io/kvm": "1k"},
            "conditions": [
                {"type": t, "status": "False", "lastHeartbeatTime": "2026-01-01T00:00:00Z",
                 "lastTransitionTime": "2026-01-01T00:00:00Z", "reason": f"KubeletHas{r}", "message": m}
                for t, r, m in (("MemoryPressure", "SufficientMemory", "kubelet has sufficient memory available"),
                                ("DiskPressure", "NoDiskPressure", "kubelet has no disk pressure"),
                                ("PIDPressure", "SufficientPID", "kubelet has sufficient PID available"))
            ] + [{"type": "Ready", "status": "True", "lastHeartbeatTime": "2026-01-01T00:00:00Z",
                  "lastTransitionTime": "2026-01-01T00:00:00Z", "reason": "KubeletReady",
                  "message": "kubelet is posting ready status"}],
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {"machineID": stable_uid("machine", name).replace("-", ""),
                         "systemUUID": stable_uid("system", name), "bootID": stable_uid("boot", name),
                         "kernelVersion": "6.1.0-28-amd64", "osImage": "Debian GNU/Linux 12 (bookworm)",
                         "containerRuntimeVersion": "containerd://1.7.24", "kubeletVersion": "v1.31.4",
                         "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64"},
        },
    }


def _less(memory: str) -> str:
    """Allocatable memory: capacity less the kubelet's 100Mi eviction threshold."""
    return f"{int(memory.removesuffix('Ki')) - 102400}Ki"


def add_namespace(state: ClusterState, name: str, labels: dict | None = None) -> dict:
    existing = state.find("namespaces", "", name)
    if existing is not None:
        return existing
    return state.put("namespaces", {
        "metadata": {"name": name,  # a fresh uid: kube-system's is how clients tell clusters apart
                     "labels": {**(labels or {}), "kubernetes.io/metadata.name": name}},
        "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})


def add_pod(state: ClusterState, namespace: str, template: dict, name: str | None = None,
            labels: dict | None = None) -> dict:
    pod = copy.deepcopy(template)
    pod["metadata"]["namespace"] = namespace
    if name:
        pod["metadata"]["name"] = name
    if labels:
        pod["metadata"].setdefault("labels", {}).update(labels)
    return state.create_pod(pod)


def add_vm(state: ClusterState, namespace: str, template: dict, name: str | None = None,
           run_strategy: str | None = None) -> dict:
    vm = copy.deepcopy(template)
    vm["metadata"]["namespace"] = namespace
    if name:
        vm["metadata"]["name"] = name
        vm["spec"]["template"]["metadata"].setdefault("labels", {})["kubevirt.io/domain"] = name
    if run_strategy:
        vm["spec"]["runStrategy"] = run_strategy
    return state.reconcile_vm(state.put("virtualmachines", vm))


def add_pvc(state: ClusterState, namespace: str, template: dict, name: str | None = None,
            storage: str | None = None) -> dict:
    pvc = copy.deepcopy(template)
    pvc["metadata"]["namespace"] = namespace
    if name:
        pvc["metadata"]["name"] = name
    if storage:
        pvc["spec"]["resources"]["requests"]["storage"] = storage
    pvc["status"] = {"phase": "Bound", "accessModes": pvc["spec"]["accessModes"],
                     "capacity": {"storage": pvc["spec"]["resources"]["requests"]["storage"]}}
    pvc["spec"]["volumeName"] = "pvc-" + stable_uid("pv", namespace, pvc["metadata"]["name"])
    return state.put("persistentvolumeclaims", pvc)


def add_quota(state: ClusterState, namespace: str, template: dict) -> dict:
    quota = copy.deepcopy(template)
    quota["metadata"]["namespace"] = namespace
    return state.put("resourcequotas", quota)


def demo(state: ClusterState) -> None:
    """A small cluster: two projects' namespaces, a few pods, two KubeVirt VMs, a PVC, a quota."""
    with state.lock:
        base(state)
        add_namespace(state, "webshop", {PROJECT_LABEL: "webshop"})
        add_namespace(state, "analytics")
        add_pod(state, "webshop", FRONTEND)
        add_pod(state, "webshop", NGINX)
        add_pod(state, "analytics", FRONTEND, name="report-builder")
        add_pvc(state, "webshop", MYCLAIM)
        add_quota(state, "analytics", OBJECT_COUNTS)
        if state.kubevirt:
            add_vm(state, "webshop", TESTVM)
            add_vm(state, "analytics", FEDORA)


def generate(state: ClusterState, pods: int, vms: int, namespaces: int = 10, seed: int = 7) -> None:
    """``pods`` plain pods and ``vms`` running VMs spread over ``namespaces`` namespaces.

    Every VM also brings its virt-launcher pod, so the cluster then holds ``pods + vms`` pods.
    """
    rng = random.Random(seed)
    with state.lock:
        base(state, nodes=max(3, (pods + vms) // 100))
        names = [f"team-{i:02d}" for i in range(namespaces)]
        for name in names:
            add_namespace(state, name, {PROJECT_LABEL: name} if int(name[-2:]) % 2 == 0 else None)
        for index in range(pods):
            namespace = names[index % namespaces]
            template = copy.deepcopy(FRONTEND if index % 3 else NGINX)
            if index % 3:
                cpu = rng.choice(["100m", "250m", "500m", "1", "2"])
                mem = rng.choice(["64Mi", "128Mi", "512Mi", "1Gi"])
                for container in template["spec"]["containers"]:
                    container["resources"] = {"requests": {"cpu": cpu, "memory": mem},
                                              "limits": {"cpu": cpu, "memory": mem}}
            add_pod(state, namespace, template, name=f"pod-{index:05d}", labels={"tier": rng.choice(["web", "db"])})
        for index in range(vms):
            namespace = names[index % namespaces]
            template = copy.deepcopy(FEDORA)
            template["spec"]["template"]["spec"]["domain"]["cpu"]["cores"] = rng.choice([1, 2, 4])
            memory = rng.choice(["1Gi", "2Gi", "4Gi"])
            template["spec"]["template"]["spec"]["domain"]["memory"]["guest"] = memory
            template["spec"]["template"]["spec"]["domain"]["resources"]["requests"]["memory"] = memory
            add_vm(state, namespace, template, name=f"vm-{index:04d}")
