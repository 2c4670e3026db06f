"""What a launch form may offer on a libvirt host (``launch_options``), and a request the host
cannot build ending ``failed`` with libvirt's reason instead of hanging in ``provisioning``."""

from __future__ import annotations

from decimal import Decimal

import pytest

from devsim.libvirt_nodes import POOL
from metering import quotas
from metering.choices import ChangeSource, RequestState
from metering.models import Project, Reservation
from metering.quotas import provisioning
from providers.base import Kind, ProviderDataError, ProvisionSpec
from providers.models import ProviderAccount

pytestmark = pytest.mark.integration


def test_options_list_the_hosts_kinds_volumes_and_active_networks(node):
    driver = node.driver()
    conn = driver.connection()
    pool = conn.storagePoolLookupByName(POOL)
    pool.createXML("<volume><name>debian-12.qcow2</name><capacity unit='GiB'>3</capacity></volume>", 0)
    conn.networkDefineXML("<network><name>isolated</name></network>")  # defined, not started: not offered
    options = driver.launch_options()
    assert options.kinds == (Kind.VM,)  # the test hypervisor offers hvm guests, no LXC
    assert [(c.label, c.kinds) for c in options.images] == [(f"{POOL}/debian-12.qcow2", (Kind.VM,))]
    assert options.images[0].value == pool.storageVolLookupByName("debian-12.qcow2").path()
    assert [c.value for c in options.networks] == ["default"]
    assert options.flavors == () and not options.image_required
    # what the form offers builds: the image value clones that volume
    created = driver.provision(ProvisionSpec(name="acme-from-image", kind=Kind.VM, project="acme", vcpus=Decimal(1),
                                             ram_mb=256, disk_gb=Decimal(1), image=options.images[0].value,
                                             network=options.networks[0].value))
    assert created.disk_gb == Decimal("3.000")


def test_a_spec_the_host_cannot_build_is_a_provider_error(node):
    taken = node.facts[0]["name"]
    with pytest.raises(ProviderDataError, match=f"cannot provision '{taken}'.*a domain of that name exists"):
        node.driver().provision(ProvisionSpec(name=taken, kind=Kind.VM, project="acme", vcpus=Decimal(1),
                                              ram_mb=256))


@pytest.mark.django_db
def test_a_request_the_host_refuses_ends_failed_with_its_reason(node, monkeypatch):
    monkeypatch.setattr("metering.quotas.admission.enqueue_provision", lambda request_id: None)
    project = Project.objects.create(slug="acme", name="Acme")
    account = ProviderAccount.objects.create(name="lab", kind="libvirt", settings={"uri": node.uri})
    taken = node.facts[0]["name"]
    request = quotas.submit(project, account, {"name": taken, "kind": "vm", "vcpus": "1", "ram_mb": 256},
                            user=None, source=ChangeSource.API)
    done = provisioning.provision(request.pk)
    assert done.state == RequestState.FAILED
    assert "a domain of that name exists" in done.message
    assert not Reservation.objects.get(request=request).active
