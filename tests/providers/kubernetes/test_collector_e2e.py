"""The Kubernetes driver through the real path (command, collector, ledger, quota push-down)
against the simulated API server: a 2,000-pod, 200-VM cluster appears exactly, a deleted pod ends
at its deletion time, a pushed quota becomes a ResourceQuota and shows in the drift view, and a
cluster without KubeVirt leaves the account healthy."""

import json
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from kubernetes.utils.quantity import parse_quantity

from devsim.kubernetes import seed
from devsim.kubernetes.state import cpu_topology, guest_memory
from metering import collector
from metering.models import ExternalProject, Project, Resource, UsageSegment
from providers.models import Health, ProviderAccount

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def add_cluster(server, token=seed.ADMIN_TOKEN, interval=300):
    run("provider", "add", "k8s", "--kind", "kubernetes", "--setting", f"server={server.url}",
        "--setting", "auto_create_projects=true", "--credential", f"token={token}", "--interval", str(interval))
    return ProviderAccount.objects.get(name="k8s")


def test_2000_pods_and_200_vms_appear_exactly(make_cluster):
    server = make_cluster(lambda state: seed.generate(state, 2000, 200))
    add_cluster(server)
    assert "ok" in run("refresh", "--provider", "k8s", "--wait")
    rows = json.loads(run("inventory", "--provider", "k8s", "--format", "json"))
    by_kind = {}
    for row in rows:
        by_kind.setdefault(row["kind"], {})[row["external_id"]] = row
    state = server.state
    pods = [p for p in state.items("pods") if p["metadata"].get("labels", {}).get("kubevirt.io") != "virt-launcher"]
    assert len(state.items("pods")) == 2200 and len(pods) == 2000
    assert set(by_kind["container"]) == {p["metadata"]["uid"] for p in pods}  # no launcher pod counted twice
    assert set(by_kind["vm"]) == {v["metadata"]["uid"] for v in state.items("virtualmachines")}
    assert len(by_kind["host"]) == len(state.items("nodes")) == 22
    for pod in pods:
        row = by_kind["container"][pod["metadata"]["uid"]]
        requests = [c.get("resources", {}).get("requests") for c in pod["spec"]["containers"]]
        if not any(requests):
            assert row["vcpus"] is None and row["ram_mb"] is None
        else:
            assert Decimal(row["vcpus"]) == sum(parse_quantity(r["cpu"]) for r in requests)
            assert row["ram_mb"] == sum(parse_quantity(r["memory"]) for r in requests) / 2**20
        assert row["parent"] == pod["spec"]["nodeName"]
        namespace = state.find("namespaces", "", pod["metadata"]["namespace"])
        assert row["project"] == namespace["metadata"]["labels"].get("glasspane.project", namespace["metadata"]["name"])
    for vm in state.items("virtualmachines"):
        row = by_kind["vm"][vm["metadata"]["uid"]]
        domain = vm["spec"]["template"]["spec"]["domain"]
        topology = cpu_topology(domain)
        assert Decimal(row["vcpus"]) == topology["cores"] * topology["sockets"] * topology["threads"]
        assert row["ram_mb"] == parse_quantity(guest_memory(domain)) / 2**20
        vmi = state.find("virtualmachineinstances", vm["metadata"]["namespace"], vm["metadata"]["name"])
        assert row["parent"] == vmi["status"]["nodeName"] and row["state"] == "running"
    assert Project.objects.filter(slug__startswith="team-").count() == 10
    assert ExternalProject.objects.filter(account__name="k8s", project__slug="team-03").exists()


def test_a_deleted_pod_ends_at_its_deletion_time(cluster):
    account = add_cluster(cluster)
    clock = cluster.state.clock
    collector.refresh(account)
    victim = cluster.state.find("pods", "webshop", "frontend")
    clock.advance(minutes=2)
    with cluster.state.lock:
        cluster.state.delete_pod("webshop", "frontend")  # graceful: 30 s
    deletion = clock.now() + timedelta(seconds=30)
    clock.advance(minutes=3)
    collector.refresh(account)
    gone = Resource.objects.get(external_id=victim["metadata"]["uid"])
    assert gone.deleted_at == deletion and gone.state == "deleted"
    last = UsageSegment.objects.filter(resource=gone).order_by("-end").first()
    assert last.end == deletion and not last.open
    kept = Resource.objects.get(account=account, name="webshop/nginx")
    assert kept.deleted_at is None and kept.last_seen == clock.now()


@pytest.mark.django_db(transaction=True)
def test_a_limit_set_in_glasspane_becomes_our_resource_quota_and_shows_in_drift(cluster, eager):
    from metering.choices import ChangeSource
    from metering.quotas import drift, set_limits

    account = add_cluster(cluster)
    collector.refresh(account)
    webshop = Project.objects.get(slug="webshop")
    assert ExternalProject.objects.get(account=account, project=webshop).external_id == "webshop"
    set_limits(webshop, {"vcpus": 12, "vms": 3, "disk_gb": 100}, user=None, source=ChangeSource.CLI)
    ours = cluster.state.find("resourcequotas", "webshop", "glasspane")
    assert ours["spec"]["hard"] == {"requests.cpu": "12", "count/virtualmachines.kubevirt.io": "3",
                                    "requests.storage": "100Gi"}  # only the keys set in Glasspane
    assert cluster.state.find("resourcequotas", "analytics", "glasspane") is None
    cluster.state.clock.advance(minutes=1)
    collector.refresh(account)
    rows = {d.key: d for d in drift(webshop) if d.account == "k8s"}
    assert (rows["vcpus"].limit, rows["vcpus"].openstack_limit, rows["vcpus"].limit_differs) == (12, 12, False)
    assert rows["vms"].openstack_limit == 3 and rows["vms"].openstack_used == 1
    assert rows["disk_gb"].openstack_limit == 100 and rows["disk_gb"].openstack_used == 8
    assert rows["ram_mb"].openstack_limit is None  # not set in Glasspane: not pushed, not limited there


def test_a_cluster_without_kubevirt_leaves_the_account_healthy(make_cluster):
    account = add_cluster(make_cluster(kubevirt=False))
    result = collector.refresh(account)
    account.refresh_from_db()
    assert result.status == "ok" and account.health == Health.OK
    assert Resource.objects.filter(account=account, kind="container").count() == 3
    assert not Resource.objects.filter(account=account, kind="vm").exists()


@pytest.mark.django_db(transaction=True)
def test_provisioning_through_quota_admission_creates_a_vm_and_a_pod(cluster, eager):
    from metering.choices import ChangeSource, RequestState
    from metering.quotas import QuotaExceeded, set_limits, submit

    account = add_cluster(cluster)
    collector.refresh(account)
    webshop = Project.objects.get(slug="webshop")
    set_limits(webshop, {"vms": 2, "vcpus": 6}, user=None, source=ChangeSource.CLI)
    clock = cluster.state.clock  # frozen: each refresh after provisioning must see a newer cluster time
    clock.advance(minutes=1)
    vm = submit(webshop, account, {"name": "db-1", "kind": "vm", "vcpus": 2, "ram_mb": 2048},
                user=None, source=ChangeSource.API)
    vm.refresh_from_db()
    assert vm.state == RequestState.DONE, vm.message
    created = Resource.objects.get(account=account, external_id=vm.spec["external_id"])
    assert (created.name, created.kind, created.project, created.vcpus) == ("webshop/db-1", "vm", webshop, 2)
    assert cluster.state.find("virtualmachines", "webshop", "db-1")["spec"]["runStrategy"] == "Always"
    clock.advance(minutes=1)
    pod = submit(webshop, account, {"name": "worker", "kind": "container", "vcpus": "0.5", "ram_mb": 256,
                                    "image": "busybox:1.36"}, user=None, source=ChangeSource.API)
    pod.refresh_from_db()
    assert pod.state == RequestState.DONE, pod.message
    assert Resource.objects.get(external_id=pod.spec["external_id"]).ram_mb == 256
    with pytest.raises(QuotaExceeded, match="Quota exceeded for vms"):  # testvm and db-1 use both
        submit(webshop, account, {"name": "db-2", "kind": "vm", "vcpus": 1, "ram_mb": 512},
               user=None, source=ChangeSource.API)
    assert cluster.state.find("virtualmachines", "webshop", "db-2") is None
    # the namespace's own quota (pushed from Glasspane: 2 VMs) refuses what slips past ours
    set_limits(webshop, {"vms": 5}, user=None, source=ChangeSource.CLI)
    with cluster.state.lock:
        cluster.state.find("resourcequotas", "webshop", "glasspane")["spec"]["hard"][
            "count/virtualmachines.kubevirt.io"] = "2"
    refused = submit(webshop, account, {"name": "db-3", "kind": "vm", "vcpus": 1, "ram_mb": 512},
                     user=None, source=ChangeSource.API)
    refused.refresh_from_db()
    assert refused.state == RequestState.FAILED and "exceeded quota: glasspane" in refused.message


def test_a_vm_stopped_between_refreshes_stops_counting_when_it_stopped(cluster):
    account = add_cluster(cluster)
    clock = cluster.state.clock
    collector.refresh(account)
    clock.advance(minutes=2)
    stopped_at = clock.now()
    with cluster.state.lock:
        vm = cluster.state.find("virtualmachines", "analytics", "fedora")
        vm["spec"]["runStrategy"] = "Halted"
        cluster.state.reconcile_vm(vm)
    clock.advance(minutes=3)
    collector.refresh(account)
    fedora = Resource.objects.get(account=account, name="analytics/fedora")
    running, stopped = UsageSegment.objects.filter(resource=fedora).order_by("start")
    assert (running.state, running.end, running.open) == ("running", stopped_at, False)
    assert (stopped.state, stopped.start, stopped.open) == ("stopped", stopped_at, True)
