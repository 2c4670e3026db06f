"""The simulated API server answers the official ``kubernetes`` client as the API reference says:
discovery, paging with ``continue``, watch with bookmarks and 410 Gone, Status errors, RBAC,
ResourceQuota admission, graceful deletion and the KubeVirt controller."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from kubernetes import client, watch

from devsim.kubernetes import seed

pytestmark = pytest.mark.integration


def status_of(exc: client.ApiException) -> dict:
    return json.loads(exc.body)


def test_discovery_lists_optional_groups_only_when_served(make_cluster, api_client):
    with_kubevirt = api_client(make_cluster())
    assert client.VersionApi(with_kubevirt).get_code().git_version == "v1.31.4"
    assert client.CoreApi(with_kubevirt).get_api_versions().versions == ["v1"]
    groups = {g.name: g.preferred_version.group_version for g in client.ApisApi(with_kubevirt).get_api_versions().groups}
    assert groups == {"kubevirt.io": "kubevirt.io/v1", "metrics.k8s.io": "metrics.k8s.io/v1beta1"}
    core = client.CoreV1Api(with_kubevirt).get_api_resources()
    assert {"pods", "nodes", "namespaces", "persistentvolumeclaims", "resourcequotas"} <= {r.name for r in core.resources}
    plain = api_client(make_cluster(kubevirt=False, metrics=False))
    assert client.ApisApi(plain).get_api_versions().groups == []
    with pytest.raises(client.ApiException) as caught:
        client.CustomObjectsApi(plain).list_cluster_custom_object("kubevirt.io", "v1", "virtualmachines")
    assert caught.value.status == 404
    assert status_of(caught.value)["message"] == "the server could not find the requested resource"


def test_list_pages_with_continue_over_one_snapshot_then_expires(make_cluster, api_client):
    server = make_cluster(lambda state: seed.generate(state, 25, 0, namespaces=2))
    core = client.CoreV1Api(api_client(server))
    first = core.list_pod_for_all_namespaces(limit=10)
    assert len(first.items) == 10 and first.metadata.remaining_item_count == 15
    with server.state.lock:  # a change after the first page is not in the continued list
        server.state.delete_pod("team-00", "pod-00000", grace=0)
    names = [p.metadata.name for p in first.items]
    token = first.metadata._continue
    while token:
        page = core.list_pod_for_all_namespaces(limit=10, _continue=token)
        assert page.metadata.resource_version == first.metadata.resource_version
        names += [p.metadata.name for p in page.items]
        token = page.metadata._continue
    assert len(names) == 25 and len(set(names)) == 25 and "pod-00000" in names
    with server.state.lock:
        server.state.compact()
    with pytest.raises(client.ApiException) as caught:
        core.list_pod_for_all_namespaces(limit=10, _continue=first.metadata._continue)
    assert caught.value.status == 410 and status_of(caught.value)["reason"] == "Expired"
    assert len(core.list_pod_for_all_namespaces().items) == 24


def test_watch_streams_changes_and_bookmarks_then_410_after_compaction(cluster, api_client):
    core = client.CoreV1Api(api_client(cluster))
    listed = core.list_namespaced_pod("webshop")
    version = listed.metadata.resource_version
    with cluster.state.lock:
        cluster.state.delete_pod("webshop", "nginx", grace=0)
    seen = []
    for event in watch.Watch().stream(core.list_namespaced_pod, "webshop", resource_version=version,
                                      allow_watch_bookmarks=True, timeout_seconds=1):
        seen.append((event["type"], event["raw_object"]["metadata"].get("name"),
                     event["raw_object"]["metadata"]["resourceVersion"]))
    assert seen[0][:2] == ("DELETED", "nginx")
    deleted = [e for e in seen if e[0] == "DELETED"]
    assert len(deleted) == 1
    bookmarks = [e for e in seen if e[0] == "BOOKMARK"]
    assert bookmarks and int(bookmarks[-1][2]) >= int(seen[0][2])
    with cluster.state.lock:
        cluster.state.compact()
    with pytest.raises(client.ApiException) as caught:
        for _ in watch.Watch().stream(core.list_namespaced_pod, "webshop", resource_version=version,
                                      timeout_seconds=1):
            pass
    assert caught.value.status == 410 and "too old resource version" in caught.value.reason


def test_status_errors_for_bad_token_rbac_missing_and_conflict(cluster, api_client):
    with pytest.raises(client.ApiException) as caught:
        client.CoreV1Api(api_client(cluster, "wrong")).list_node()
    assert caught.value.status == 401 and status_of(caught.value)["reason"] == "Unauthorized"
    reader = client.CoreV1Api(api_client(cluster, seed.READER_TOKEN))
    assert reader.list_node().items
    with pytest.raises(client.ApiException) as caught:
        reader.delete_namespaced_pod("nginx", "webshop")
    body = status_of(caught.value)
    assert caught.value.status == 403 and body["kind"] == "Status" and body["reason"] == "Forbidden"
    assert body["message"] == ('pods "nginx" is forbidden: User "system:serviceaccount:glasspane:reader" cannot '
                               'delete resource "pods" in API group "" in the namespace "webshop"')
    limited = client.CustomObjectsApi(api_client(cluster, seed.NO_KUBEVIRT_TOKEN))
    with pytest.raises(client.ApiException) as caught:
        limited.list_cluster_custom_object("kubevirt.io", "v1", "virtualmachines")
    assert status_of(caught.value)["message"].startswith("virtualmachines.kubevirt.io is forbidden")
    admin = client.CoreV1Api(api_client(cluster))
    with pytest.raises(client.ApiException) as caught:
        admin.read_namespaced_pod("absent", "webshop")
    assert caught.value.status == 404 and status_of(caught.value)["message"] == 'pods "absent" not found'
    quota = admin.create_namespaced_resource_quota("webshop", {"metadata": {"name": "q"}, "spec": {"hard": {"pods": "9"}}})
    stale = quota.metadata.resource_version
    admin.patch_namespaced_resource_quota("q", "webshop", {"spec": {"hard": {"pods": "8"}}})
    with pytest.raises(client.ApiException) as caught:
        admin.replace_namespaced_resource_quota("q", "webshop", {"metadata": {"name": "q", "resourceVersion": stale},
                                                                 "spec": {"hard": {"pods": "7"}}})
    assert caught.value.status == 409 and status_of(caught.value)["reason"] == "Conflict"


def test_resource_quota_status_and_admission(cluster, api_client):
    core = client.CoreV1Api(api_client(cluster))
    core.create_namespaced_resource_quota("webshop", {
        "metadata": {"name": "compute-resources"},
        "spec": {"hard": {"pods": "3", "requests.cpu": "1", "requests.memory": "1Gi"}}})
    quota = core.read_namespaced_resource_quota("compute-resources", "webshop")
    assert quota.status.hard == {"pods": "3", "requests.cpu": "1", "requests.memory": "1Gi"}
    # the demo's frontend (2 x 250m, 2 x 64Mi), nginx (no requests) and testvm's virt-launcher pod
    assert quota.status.used["pods"] == "3" and quota.status.used["requests.cpu"] == "600m"
    pod = {"metadata": {"name": "extra"}, "spec": {"containers": [
        {"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "100m", "memory": "16Mi"}}}]}}
    with pytest.raises(client.ApiException) as caught:
        core.create_namespaced_pod("webshop", pod)
    assert caught.value.status == 403
    assert status_of(caught.value)["message"] == ('pods "extra" is forbidden: exceeded quota: compute-resources, '
                                                  'requested: pods=1, used: pods=3, limited: pods=3')
    core.patch_namespaced_resource_quota("compute-resources", "webshop", {"spec": {"hard": {"pods": "10"}}})
    no_requests = {"metadata": {"name": "bare"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    with pytest.raises(client.ApiException) as caught:
        core.create_namespaced_pod("webshop", no_requests)
    assert "must specify requests.cpu,requests.memory" in status_of(caught.value)["message"]
    created = core.create_namespaced_pod("webshop", pod)
    assert created.status.phase == "Running" and created.spec.node_name.startswith("worker-")
    assert [q.metadata.name for q in core.list_namespaced_resource_quota("webshop").items] == ["compute-resources"]


def test_graceful_pod_deletion_ends_at_deletion_timestamp(cluster, api_client):
    core = client.CoreV1Api(api_client(cluster))
    clock = cluster.state.clock
    pod = core.delete_namespaced_pod("frontend", "webshop")
    assert pod.metadata.deletion_timestamp == clock.now() + timedelta(seconds=30)
    assert core.read_namespaced_pod("frontend", "webshop").metadata.deletion_grace_period_seconds == 30
    clock.advance(seconds=31)
    with pytest.raises(client.ApiException) as caught:
        core.read_namespaced_pod("frontend", "webshop")
    assert caught.value.status == 404
    gone = [e for e in cluster.state.history if e.type == "DELETED" and '"frontend"' in e.data][-1]
    finished = json.loads(gone.data)["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"]
    assert finished == json.loads(gone.data)["metadata"]["deletionTimestamp"]


def test_kubevirt_controller_follows_run_strategy(cluster, api_client):
    api = api_client(cluster)
    custom, core = client.CustomObjectsApi(api), client.CoreV1Api(api)
    vm = custom.get_namespaced_custom_object("kubevirt.io", "v1", "analytics", "virtualmachines", "fedora")
    assert vm["status"]["printableStatus"] == "Running" and vm["spec"]["runStrategy"] == "Always"
    vmi = custom.get_namespaced_custom_object("kubevirt.io", "v1", "analytics", "virtualmachineinstances", "fedora")
    assert vmi["status"]["phase"] == "Running" and vmi["spec"]["domain"]["cpu"]["cores"] == 2
    launchers = core.list_namespaced_pod("analytics", label_selector="kubevirt.io=virt-launcher").items
    assert len(launchers) == 1 and launchers[0].metadata.owner_references[0].uid == vmi["metadata"]["uid"]
    custom.patch_namespaced_custom_object("kubevirt.io", "v1", "analytics", "virtualmachines", "fedora",
                                          {"spec": {"runStrategy": "Halted"}})
    vm = custom.get_namespaced_custom_object("kubevirt.io", "v1", "analytics", "virtualmachines", "fedora")
    assert vm["status"]["printableStatus"] == "Stopped" and vm["metadata"]["generation"] == 2
    assert not core.list_namespaced_pod("analytics", label_selector="kubevirt.io=virt-launcher").items
    listed = custom.list_namespaced_custom_object("kubevirt.io", "v1", "analytics", "virtualmachineinstances")
    assert listed["items"] == [] and listed["kind"] == "VirtualMachineInstanceList"
    custom.delete_namespaced_custom_object("kubevirt.io", "v1", "webshop", "virtualmachines", "testvm")
    assert not core.list_namespaced_pod("webshop", label_selector="kubevirt.io=virt-launcher").items


def test_metrics_api_reports_node_and_pod_usage(cluster, api_client):
    custom = client.CustomObjectsApi(api_client(cluster))
    nodes = custom.list_cluster_custom_object("metrics.k8s.io", "v1beta1", "nodes")
    assert nodes["kind"] == "NodeMetricsList" and {n["metadata"]["name"] for n in nodes["items"]} == {
        "worker-1", "worker-2", "worker-3"}
    pods = custom.list_namespaced_custom_object("metrics.k8s.io", "v1beta1", "webshop", "pods")
    frontend = [p for p in pods["items"] if p["metadata"]["name"] == "frontend"][0]
    assert {c["name"] for c in frontend["containers"]} == {"app", "log-aggregator"}
    assert frontend["containers"][0]["usage"]["cpu"].endswith("n")
    assert frontend["containers"][0]["usage"]["memory"].endswith("Ki")
