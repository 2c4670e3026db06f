"""The Proxmox VE driver through the real path: ``provider add``, ``refresh``, ``inventory``, the REST
API's provisioning with quota admission, against a fake cluster (fakepve over HTTPS).

300 guests appear exactly (kind, sizes, pool -> project, node nesting); a guest stopped and one
deleted behind Glasspane's back are reflected; a request over a pool's limit is refused with the
quota wording and one within it creates the guest by cloning a template into the pool.
"""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.test import APIClient

from devsim import proxmox
from metering import collector
from metering.choices import ChangeSource, RequestState, Role
from metering.models import Membership, Project, ProvisionRequest, Resource
from metering.quotas import set_limits
from metering.quotas.provisioning import provision
from providers.base import Action, ProviderUnavailable, State
from providers.models import ProviderAccount

pytestmark = [pytest.mark.integration, pytest.mark.django_db]
GIB = 1024 ** 3


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def add_cluster(cluster, name="pve") -> ProviderAccount:
    run("provider", "add", name, "--kind", "proxmox", "--setting", "host=127.0.0.1",
        "--setting", f"port={cluster.port}", "--setting", f"ca_bundle={cluster.cafile}",
        "--setting", "auto_create_projects=true", "--credential", "username=root@pam",
        "--credential", "password=secret")
    return ProviderAccount.objects.get(name=name)


def expected(guest) -> dict:
    """What Glasspane must show for a fakepve guest, from the guest's own config."""
    config = guest.config
    is_vm = guest.guest.startswith("qemu/")
    if is_vm:
        vcpus = f"{int(config.get('cores', 1)) * int(config.get('sockets', 1))}.000"
        keys = [k for k in config if k[:4] in ("scsi", "virt") and k[-1].isdigit()]
    else:
        vcpus = f"{int(config['cores'])}.000" if config.get("cores") else None
        keys = [k for k in config if k == "rootfs" or (k.startswith("mp") and k[2:].isdigit())]
    disk = sum(int(config[k].split("size=")[1].rstrip("G")) for k in keys)
    return {"kind": "vm" if is_vm else "container", "vcpus": vcpus, "ram_mb": int(config["memory"]),
            "disk_gb": f"{disk}.000", "project": guest.pool, "parent": guest.node,
            "state": "running" if guest.status == "running" else "stopped"}


def test_300_guests_appear_exactly_then_a_stop_and_a_deletion_are_reflected(make_cluster):
    cluster = make_cluster(proxmox.generated(300))
    pve = cluster.pve
    early = pve.guest(1001)
    early.started_at = datetime.now(UTC).timestamp() - 7200  # running two hours before the first refresh
    account = add_cluster(cluster)
    assert "ok" in run("refresh", "--provider", "pve", "--wait")
    rows = json.loads(run("inventory", "--provider", "pve", "--format", "json"))
    guests = {r["external_id"]: r for r in rows if r["kind"] in ("vm", "container")}
    live = [g for g in pve.vms + pve.cts if not g.template]
    assert len(live) == 300 and set(guests) == {g.guest for g in live}
    for guest in live:
        row = guests[guest.guest]
        shown = {key: row[key] for key in ("kind", "vcpus", "ram_mb", "disk_gb", "project", "parent", "state")}
        assert shown == expected(guest), guest.guest
    hosts = {r["name"] for r in rows if r["kind"] == "host"}
    assert hosts == {"pve1", "pve2", "pve3"}
    assert {"webshop", "analytics", "ci"} <= set(Project.objects.values_list("slug", flat=True))
    first = Resource.objects.get(account=account, external_id="qemu/1001")
    assert abs(first.started_at - (datetime.now(UTC) - timedelta(hours=2))) <= timedelta(minutes=1)

    with account.driver() as driver:
        driver.act("qemu/1003", Action.STOP)
    doomed = pve.guest(1004)
    pve.vms.remove(doomed)  # deleted behind Glasspane's back
    pve.pools[doomed.pool].discard(doomed.vmid)
    collector.refresh(account)
    assert Resource.objects.get(account=account, external_id="qemu/1003").state == State.STOPPED
    gone = Resource.objects.get(account=account, external_id="qemu/1004")
    assert gone.state == State.DELETED and gone.deleted_at is not None
    assert Resource.objects.live().filter(account=account, kind__in=["vm", "container"]).count() == 299


def test_a_pools_limit_refuses_over_it_and_provisions_within_it(make_cluster, queued,
                                                                django_capture_on_commit_callbacks):
    cluster = make_cluster()
    account = add_cluster(cluster)
    collector.refresh(account)
    webshop = Project.objects.get(slug="webshop")
    # webshop: VMs of 2 and 4 vCPUs, containers of 1 -> 7 vCPUs in use
    set_limits(webshop, {"vcpus": 9}, user=None, source=ChangeSource.CLI)
    member = get_user_model().objects.create_user("mia", password="pw-mia")
    Membership.objects.create(user=member, project=webshop, role=Role.MEMBER)
    client = APIClient()
    client.force_authenticate(member)
    body = {"project": "webshop", "provider": "pve", "name": "shop-web-2", "kind": "vm", "vcpus": 4,
            "ram_mb": 2048, "disk_gb": 10, "image": "debian-12-vm"}
    refused = client.post("/api/v1/provision-requests/", body, format="json")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Quota exceeded for vcpus: Requested 4, but already used 7 of 9 vcpus"
    assert len(cluster.pve.vms) == 4 and not queued  # three VMs and the template: nothing was cloned

    with django_capture_on_commit_callbacks(execute=True):
        admitted = client.post("/api/v1/provision-requests/", {**body, "vcpus": 2}, format="json")
    assert admitted.status_code == 202 and queued == [admitted.json()["id"]]
    done = provision(queued[0])
    assert done.state == RequestState.DONE, done.message
    created = Resource.objects.get(pk=done.resource_id)
    assert (created.kind, created.name, created.project, created.state) == ("vm", "shop-web-2", webshop, "running")
    assert (created.vcpus, created.ram_mb, created.disk_gb) == (Decimal(2), 2048, Decimal(10))
    assert created.parent.name == "pve1"
    clone = cluster.pve.guest(int(created.external_id.split("/")[1]))
    assert clone.pool == "webshop" and clone.config["cores"] in (2, "2")
    again = client.post("/api/v1/provision-requests/", {**body, "vcpus": 1, "name": "third"}, format="json")
    assert again.status_code == 403 and "already used 9 of 9 vcpus" in again.json()["detail"]
    assert ProvisionRequest.objects.filter(state=RequestState.REFUSED).count() == 2


def test_an_unreachable_cluster_marks_the_account_unhealthy_and_keeps_its_inventory(make_cluster):
    cluster = make_cluster()
    account = add_cluster(cluster)
    collector.refresh(account)
    cluster.stop()
    with pytest.raises(ProviderUnavailable):
        collector.refresh(account)
    account.refresh_from_db()
    assert account.health == "unhealthy" and "cannot reach Proxmox VE" in account.health_message
    assert Resource.objects.live().filter(account=account, kind="vm").count() == 3  # nothing taken for deleted
