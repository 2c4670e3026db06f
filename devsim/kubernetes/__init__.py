"""A wire-level Kubernetes API server simulator (core v1, KubeVirt ``kubevirt.io/v1``, ``metrics.k8s.io``).

It serves the subset Glasspane's driver uses, shaped as the published Kubernetes and KubeVirt API
references define it: discovery (``/version``, ``/api``, ``/apis``; the KubeVirt and metrics groups
can be switched off), lists paged with ``limit``/``continue`` over a consistent snapshot, a global
``resourceVersion``, watch streams with bookmarks and ``410 Gone`` once history is compacted,
``Status`` error objects, bearer tokens with RBAC-style rules (403 naming the verb, resource and
group), ResourceQuota objects with quota admission, graceful pod deletion, and a small KubeVirt
controller (a running VirtualMachine has a VirtualMachineInstance and a ``virt-launcher`` pod).

The official ``kubernetes`` Python client talks to it over HTTP (``server.start_in_thread()``); its
state lives in memory (``state.ClusterState``) with a clock tests control. It imports nothing of
Glasspane's beyond ``devsim``.
"""
