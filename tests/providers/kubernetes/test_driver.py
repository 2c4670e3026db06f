"""The Kubernetes driver against the simulated API server, through the official client over HTTP."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from devsim.kubernetes import seed
from providers.base import (
    Action,
    Kind,
    ProviderAuthError,
    ProviderUnavailable,
    ProvisionSpec,
    SettingsError,
    State,
)
from providers.kubernetes.api import QuotaRefused
from providers.kubernetes.driver import KubernetesDriver

pytestmark = pytest.mark.integration


def by_name(inventory, kind):
    return {r.name: r for r in inventory.resources if r.kind == kind}


def test_demo_cluster_maps_nodes_pods_vms_and_claims(cluster, make_driver):
    inventory = make_driver(cluster).inventory()
    hosts = by_name(inventory, Kind.HOST)
    assert set(hosts) == {"worker-1", "worker-2", "worker-3"}
    assert hosts["worker-1"].vcpus == Decimal("8.000") and hosts["worker-1"].ram_mb == 32112
    assert hosts["worker-1"].state == State.RUNNING
    pods = by_name(inventory, Kind.CONTAINER)
    # the virt-launcher pods behind the two VMs are not containers of their own
    assert set(pods) == {"webshop/frontend", "webshop/nginx", "analytics/report-builder"}
    frontend = pods["webshop/frontend"]
    assert (frontend.vcpus, frontend.ram_mb) == (Decimal("0.500"), 128)  # 2 x 250m, 2 x 64Mi requested
    assert frontend.properties["cpu_limit"] == "1" and frontend.properties["memory_limit_mb"] == 256
    assert pods["webshop/nginx"].vcpus is None and pods["webshop/nginx"].ram_mb is None  # no requests: unlimited
    assert pods["webshop/nginx"].properties["cpu_limit"] == "unlimited"
    assert frontend.state == State.RUNNING and frontend.started_at == cluster.state.clock.now()
    assert frontend.project_hint == "webshop" and pods["analytics/report-builder"].project_hint == "analytics"
    assert frontend.parent_external_id in {h.external_id for h in hosts.values()}
    vms = by_name(inventory, Kind.VM)
    assert set(vms) == {"webshop/testvm", "analytics/fedora"}
    fedora, testvm = vms["analytics/fedora"], vms["webshop/testvm"]
    assert (fedora.vcpus, fedora.ram_mb, fedora.state) == (Decimal(2), 2048, State.RUNNING)
    assert fedora.properties["vcpus_from"] == "cpu topology"
    assert (testvm.vcpus, testvm.ram_mb) == (Decimal(1), 62)  # KubeVirt's default vCPU; 64M = 61.04 MiB
    assert testvm.properties["launcher_pod"].startswith("webshop/virt-launcher-testvm-")
    launcher = next(p for p in cluster.state.items("pods", "webshop") if p["metadata"]["name"].startswith("virt-"))
    assert testvm.properties["launcher_pod_uid"] == launcher["metadata"]["uid"]
    assert testvm.parent_external_id == hosts[launcher["spec"]["nodeName"]].external_id
    assert testvm.image == "quay.io/kubevirt/cirros-container-disk-demo"
    volumes = by_name(inventory, Kind.VOLUME)
    assert volumes["webshop/myclaim"].disk_gb == Decimal("8.000")
    assert {p.external_id: p.name for p in inventory.projects} == {
        "default": "default", "kube-system": "kube-system", "kube-public": "kube-public",
        "webshop": "webshop", "analytics": "analytics"}
    readings = inventory.quotas["analytics"]
    assert (readings["containers"].limit, readings["containers"].used) == (40, 2)
    assert readings["volumes"].limit == 4 and "vcpus" not in readings
    assert inventory.complete and not inventory.issues and inventory.observed_at == cluster.state.clock.now()


def test_kubevirt_absent_is_pods_only_and_healthy(make_cluster, make_driver):
    driver = make_driver(make_cluster(kubevirt=False, metrics=False))
    health = driver.health()
    assert health.ok and "KubeVirt not installed" in health.message
    inventory = driver.inventory()
    assert not by_name(inventory, Kind.VM) and len(by_name(inventory, Kind.CONTAINER)) == 3
    assert inventory.complete and not inventory.issues
    assert any("KubeVirt is not installed" in s for s in inventory.skipped)
    assert driver.samples() == []


def test_missing_permission_is_named_and_the_rest_collected(cluster, make_driver):
    inventory = make_driver(cluster, token=seed.NO_KUBEVIRT_TOKEN).inventory()
    messages = [i.message for i in inventory.issues]
    assert messages[0].startswith("cannot list virtualmachines.kubevirt.io: forbidden")
    assert any(m.startswith("cannot list virtualmachineinstances.kubevirt.io: forbidden") for m in messages)
    assert len(by_name(inventory, Kind.CONTAINER)) == 3 and not by_name(inventory, Kind.VM)
    assert not inventory.complete  # what could not be listed is not taken for deleted


def test_bad_token_and_unreachable_server(cluster, make_driver):
    driver = make_driver(cluster, token="not-a-token")
    assert not driver.health().ok and "401" in driver.health().message
    with pytest.raises(ProviderAuthError, match="refused the credentials"):
        driver.inventory()
    gone = KubernetesDriver({"server": "http://127.0.0.1:9"}, {"token": "x"})
    with pytest.raises(ProviderUnavailable, match="cannot reach the Kubernetes API server"):
        gone.inventory()


def test_lists_page_through_and_relist_when_a_continue_token_expires(make_cluster, make_driver):
    server = make_cluster(lambda state: seed.generate(state, 120, 10, namespaces=3))
    driver = make_driver(server, page_size=25)
    inventory = driver.inventory()
    assert len(by_name(inventory, Kind.CONTAINER)) == 120 and len(by_name(inventory, Kind.VM)) == 10
    assert len([r for r in server.state.requests if r.path == "/api/v1/pods"]) == 6  # 130 pods / 25
    original = server.state.stored_snapshot
    calls = {"n": 0}

    def expire_once(*args):
        calls["n"] += 1
        return None if calls["n"] == 1 else original(*args)

    server.state.stored_snapshot = expire_once
    assert len(by_name(driver.inventory(), Kind.CONTAINER)) == 120


def test_validation_names_every_bad_field():
    with pytest.raises(SettingsError) as caught:
        KubernetesDriver.validate({"server": "k8s.example.org", "page_size": "0"}, {})
    assert set(caught.value.errors) == {"server", "page_size", "token"}
    with pytest.raises(SettingsError) as caught:
        KubernetesDriver.validate({}, {"kubeconfig": "just: [text"})
    assert "kubeconfig" in caught.value.errors
    KubernetesDriver.validate({"server": "https://k8s.example.org:6443"}, {"token": "t"})


def test_kubeconfig_credential_reaches_the_server(cluster):
    kubeconfig = f"""
apiVersion: v1
kind: Config
clusters: [{{name: sim, cluster: {{server: "{cluster.url}"}}}}]
users: [{{name: collector, user: {{token: {seed.READER_TOKEN}}}}}]
contexts: [{{name: sim, context: {{cluster: sim, user: collector}}}}]
current-context: sim
"""
    with KubernetesDriver({}, {"kubeconfig": kubeconfig}) as driver:
        assert driver.health().ok
        assert len(by_name(driver.inventory(), Kind.HOST)) == 3


def test_deletion_between_refreshes_is_dated_by_the_watch(cluster, make_driver):
    driver = make_driver(cluster)
    first = driver.inventory()
    frontend = by_name(first, Kind.CONTAINER)["webshop/frontend"]
    clock = cluster.state.clock
    clock.advance(minutes=2)
    with cluster.state.lock:
        cluster.state.delete_pod("webshop", "frontend")  # 30 s grace period
        deleted_at = clock.now() + timedelta(seconds=30)
        cluster.state.delete_vm("analytics", "fedora")
    clock.advance(minutes=3)
    second = make_driver(cluster).inventory(since=first.observed_at)
    gone = {r.name: r for r in second.deleted}
    assert set(gone) == {"webshop/frontend", "analytics/fedora"}
    assert gone["webshop/frontend"].external_id == frontend.external_id
    assert gone["webshop/frontend"].deleted_at == deleted_at
    assert gone["analytics/fedora"].deleted_at == deleted_at - timedelta(seconds=30)
    assert "webshop/frontend" not in by_name(second, Kind.CONTAINER)
    with cluster.state.lock:
        cluster.state.delete_pod("webshop", "nginx", grace=0)
        cluster.state.compact()  # the history since the second refresh is gone
    third = make_driver(cluster).inventory()
    assert any("410 Gone" in s for s in third.skipped) and third.deleted == []


def test_quota_push_writes_only_our_quota_and_only_keys_given(cluster, make_driver):
    driver = make_driver(cluster)
    assert driver.read_quotas("webshop") == {}
    now = driver.apply_quota("webshop", {"vcpus": 4, "ram_mb": 8192, "containers": 20, "budget": 100})
    assert (now["vcpus"], now["ram_mb"], now["containers"], now["vms"]) == (4, 8192, 20, -1)
    ours = cluster.state.find("resourcequotas", "webshop", "glasspane")
    assert ours["spec"]["hard"] == {"requests.cpu": "4", "requests.memory": "8192Mi", "pods": "20"}
    assert ours["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "glasspane"}
    driver.apply_quota("webshop", {"vms": 3, "vcpus": -1})  # ram_mb and containers are left as they are
    assert cluster.state.find("resourcequotas", "webshop", "glasspane")["spec"]["hard"] == {
        "requests.memory": "8192Mi", "pods": "20", "count/virtualmachines.kubevirt.io": "3"}
    operator = cluster.state.find("resourcequotas", "analytics", "object-counts")
    before = dict(operator["spec"]["hard"])
    now = driver.apply_quota("analytics", {"containers": 100, "volumes": 2})
    assert cluster.state.find("resourcequotas", "analytics", "object-counts")["spec"]["hard"] == before
    assert now["containers"] == 40 and now["volumes"] == 2  # the operator's tighter 40 pods holds
    readings = driver.read_quotas("analytics")
    assert readings["containers"].limit == 40 and readings["volumes"].used == 0


def test_a_quota_named_like_ours_but_not_ours_is_left_alone(cluster, make_driver):
    with cluster.state.lock:
        seed.add_quota(cluster.state, "webshop", {"metadata": {"name": "glasspane"}, "spec": {"hard": {"pods": "5"}}})
    with pytest.raises(ProviderAuthError, match="did not create"):
        make_driver(cluster).apply_quota("webshop", {"containers": 50})
    assert cluster.state.find("resourcequotas", "webshop", "glasspane")["spec"]["hard"] == {"pods": "5"}


def test_vm_start_stop_and_delete_pod_and_vm(cluster, make_driver):
    driver = make_driver(cluster)
    vms = by_name(driver.inventory(), Kind.VM)
    fedora = vms["analytics/fedora"]
    driver.act(fedora.external_id, Action.STOP)
    assert cluster.state.find("virtualmachines", "analytics", "fedora")["spec"]["runStrategy"] == "Halted"
    stopped = by_name(driver.inventory(), Kind.VM)["analytics/fedora"]
    assert stopped.state == State.STOPPED and stopped.parent_external_id is None
    assert stopped.external_id == fedora.external_id and stopped.vcpus == 2
    driver.act(fedora.external_id, Action.START)
    assert by_name(driver.inventory(), Kind.VM)["analytics/fedora"].state == State.RUNNING
    driver.act(vms["webshop/testvm"].external_id, Action.DELETE)
    assert cluster.state.find("virtualmachines", "webshop", "testvm") is None
    nginx = by_name(driver.inventory(), Kind.CONTAINER)["webshop/nginx"]
    with pytest.raises(Exception, match="cannot stop"):
        driver.act(nginx.external_id, Action.STOP)
    driver.act(nginx.external_id, Action.DELETE)
    assert cluster.state.find("pods", "webshop", "nginx")["metadata"]["deletionTimestamp"]


def test_provision_pod_and_vm_and_quota_refusal(cluster, make_driver):
    driver = make_driver(cluster)
    pod = driver.provision(ProvisionSpec(name="worker", kind=Kind.CONTAINER, project="analytics",
                                         vcpus=Decimal("0.5"), ram_mb=256, image="busybox:1.36",
                                         command=["sleep", "3600"]))
    assert (pod.vcpus, pod.ram_mb, pod.state, pod.project_hint) == (Decimal("0.500"), 256, State.RUNNING, "analytics")
    vm = driver.provision(ProvisionSpec(name="db-1", kind=Kind.VM, project="webshop", vcpus=Decimal(4), ram_mb=4096))
    assert (vm.vcpus, vm.ram_mb, vm.state) == (Decimal(4), 4096, State.RUNNING) and vm.parent_external_id
    driver.apply_quota("webshop", {"vms": 2})
    with pytest.raises(QuotaRefused, match="exceeded quota: glasspane"):
        driver.provision(ProvisionSpec(name="db-2", kind=Kind.VM, project="webshop", vcpus=Decimal(1), ram_mb=512))
    with pytest.raises(Exception, match="not a valid Kubernetes name"):
        driver.provision(ProvisionSpec(name="Bad_Name", kind=Kind.CONTAINER, project="webshop", image="busybox"))


def test_samples_report_memory_of_nodes_pods_and_vms(cluster, make_driver):
    driver = make_driver(cluster)
    inventory = driver.inventory()
    samples = {s.external_id: s for s in driver.samples()}
    frontend = by_name(inventory, Kind.CONTAINER)["webshop/frontend"]
    assert samples[frontend.external_id].memory_used_mb == Decimal("32.00")  # a quarter of 128Mi requested
    assert samples[frontend.external_id].cpu_time_ns is None
    fedora = by_name(inventory, Kind.VM)["analytics/fedora"]
    assert samples[fedora.external_id].memory_used_mb > 512  # its launcher pod's working set
    assert all(h.external_id in samples for h in by_name(inventory, Kind.HOST).values())


def test_a_vm_stopped_between_refreshes_is_dated_by_its_instance_ending(cluster, make_driver):
    make_driver(cluster).inventory()
    clock = cluster.state.clock
    clock.advance(minutes=1, seconds=10)
    stopped_at = clock.now()
    with cluster.state.lock:
        vm = cluster.state.find("virtualmachines", "analytics", "fedora")
        vm["spec"]["runStrategy"] = "Halted"
        cluster.state.reconcile_vm(vm)
    clock.advance(minutes=4)
    fedora = by_name(make_driver(cluster).inventory(), Kind.VM)["analytics/fedora"]
    assert fedora.state == State.STOPPED and fedora.finished_at == stopped_at


def test_every_namespace_gets_its_quota_facts_so_a_removed_quota_leaves_none_behind(cluster, make_driver):
    facts = make_driver(cluster).inventory().project_facts
    assert facts["analytics"]["quotas"]["containers"] == {"limit": 40, "used": 2}
    assert facts["webshop"] == {"quotas": {}}
    with cluster.state.lock:
        cluster.state.remove("resourcequotas", "analytics", "object-counts")
    cluster.state.clock.advance(minutes=1)
    assert make_driver(cluster).inventory().project_facts["analytics"] == {"quotas": {}}


def test_events_date_pod_and_vm_changes_as_they_happen(cluster, make_driver):
    import threading
    import time

    from providers.base import EventAction

    driver = make_driver(cluster)
    before = by_name(driver.inventory(), Kind.VM)
    seen, stop = [], threading.Event()
    stream = driver.events(stop=stop, timeout=10)  # subscribed once this returns
    consumer = threading.Thread(target=lambda: seen.extend(stream), daemon=True)
    consumer.start()
    clock, state = cluster.state.clock, cluster.state
    with state.lock:
        clock.advance(seconds=10)
        added = seed.add_pod(state, "analytics", seed.NGINX, name="late")
        clock.advance(seconds=10)
        vm = state.find("virtualmachines", "analytics", "fedora")
        vm["spec"]["runStrategy"] = "Halted"
        state.reconcile_vm(vm)
        stopped_at = clock.now()
        clock.advance(seconds=10)
        nginx = state.delete_pod("webshop", "nginx", grace=0)
        deleted_at = clock.now()
    for _ in range(50):
        if len({e.action for e in seen}) >= 3:
            break
        time.sleep(0.1)
    stop.set()
    consumer.join(timeout=10)
    got = {(e.external_id, e.action): e.at for e in seen}
    assert got[(added["metadata"]["uid"], EventAction.CREATED)] == stopped_at - timedelta(seconds=10)
    assert got[(before["analytics/fedora"].external_id, EventAction.STOPPED)] == stopped_at
    assert got[(nginx["metadata"]["uid"], EventAction.DELETED)] == deleted_at
    assert not consumer.is_alive()


def test_a_rebuilt_cluster_at_the_same_url_does_not_reuse_the_old_resource_version(cluster, make_driver):
    make_driver(cluster).inventory()
    with cluster.state.lock:
        cluster.state.find("namespaces", "", "kube-system")["metadata"]["uid"] = "another-cluster"
        cluster.state.delete_pod("webshop", "nginx", grace=0)
    cluster.state.clock.advance(minutes=1)
    assert make_driver(cluster).inventory().deleted == []  # no cursor of this cluster yet: nothing dated
    with cluster.state.lock:
        cluster.state.delete_pod("webshop", "frontend", grace=0)
    cluster.state.clock.advance(minutes=1)
    assert [r.name for r in make_driver(cluster).inventory().deleted] == ["webshop/frontend"]


def test_an_unreadable_record_is_skipped_by_name_and_the_rest_collected(cluster, make_driver):
    with cluster.state.lock:
        pod = cluster.state.find("pods", "webshop", "nginx")
        pod["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "a lot"}}
        cluster.state.put("pods", pod)
        vm = cluster.state.find("virtualmachines", "analytics", "fedora")
        vm["spec"]["template"]["spec"]["domain"]["memory"]["guest"] = "2 gigs"
        cluster.state.put("virtualmachines", vm)
        cluster.state.remove("virtualmachineinstances", "analytics", "fedora")
    inventory = make_driver(cluster).inventory()
    messages = sorted(i.message for i in inventory.issues)
    assert messages[0].startswith("pod nginx: pod nginx requests.cpu is not a quantity: 'a lot'")
    assert messages[1].startswith("virtual machine fedora: virtual machine analytics/fedora memory is not a quantity")
    assert set(by_name(inventory, Kind.CONTAINER)) == {"webshop/frontend", "analytics/report-builder"}
    assert set(by_name(inventory, Kind.VM)) == {"webshop/testvm"}
    assert not inventory.complete  # the unreadable pod and VM are not taken for deleted
