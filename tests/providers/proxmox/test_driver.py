"""The Proxmox VE driver against a fake cluster served by fakepve over HTTPS, through proxmoxer."""

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from devsim import proxmox
from providers.base import (
    Action,
    Kind,
    ProviderAuthError,
    ProviderDataError,
    ProviderUnavailable,
    ProvisionSpec,
    SettingsError,
    State,
)
from providers.proxmox.api import TaskFailed, TaskTimeout
from providers.proxmox.driver import ProxmoxDriver

pytestmark = pytest.mark.integration


def by_id(inventory):
    return {r.external_id: r for r in inventory.resources}


def test_demo_cluster_maps_nodes_guests_pools_and_tags(cluster, make_driver):
    inventory = make_driver(cluster).inventory()
    found = by_id(inventory)
    assert {r.external_id for r in inventory.resources if r.kind == Kind.HOST} == {"node/pve1", "node/pve2"}
    assert {e for e, r in found.items() if r.kind == Kind.VM} == {"qemu/101", "qemu/102", "qemu/103"}
    assert {e for e, r in found.items() if r.kind == Kind.CONTAINER} == {"lxc/201", "lxc/202", "lxc/203"}
    db = found["qemu/102"]
    assert (db.vcpus, db.ram_mb, db.disk_gb) == (Decimal(4), 8192, Decimal(164))
    assert db.parent_external_id == "node/pve2" and db.project_hint == "webshop"
    assert db.labels == {"prod": "", "db": ""} and db.state == State.RUNNING
    assert found["lxc/203"].vcpus is None and found["lxc/203"].state == State.STOPPED
    assert found["lxc/202"].disk_gb == Decimal(66)  # rootfs 16G + mp0 50G
    started = found["qemu/101"].started_at
    assert abs(started - (datetime.now(UTC) - timedelta(hours=3))) < timedelta(minutes=2)
    assert sorted(p.external_id for p in inventory.projects) == ["analytics", "webshop"]
    assert "qemu/9000" not in found and "lxc/9001" not in found  # templates are not guests
    assert inventory.complete and not inventory.issues


def test_volumes_are_the_ones_no_live_guest_uses(cluster, make_driver):
    pve = cluster.pve
    pve.guest(101).config["unused0"] = "local-lvm:vm-101-disk-9"
    volumes = pve.storages["local-lvm"].setdefault("volumes", {})
    volumes["vm-101-disk-9"] = {"content": "images", "format": "raw", "size": 5 * 1024 ** 3, "vmid": 101, "ctime": 0}
    volumes["vm-777-disk-0"] = {"content": "images", "format": "raw", "size": 3 * 1024 ** 3, "vmid": 777, "ctime": 0}
    found = by_id(make_driver(cluster).inventory())
    vols = {e: r for e, r in found.items() if r.kind == Kind.VOLUME}
    assert set(vols) == {"local-lvm:vm-101-disk-9", "local-lvm:vm-777-disk-0", "local-lvm:base-9000-disk-0",
                         "local-lvm:base-9001-disk-0"}
    unused = vols["local-lvm:vm-101-disk-9"]
    assert unused.parent_external_id == "qemu/101" and unused.project_hint == "webshop"
    assert unused.disk_gb == Decimal(5) and unused.state == State.AVAILABLE
    assert vols["local-lvm:vm-777-disk-0"].parent_external_id is None
    assert "local-lvm:vm-101-disk-0" not in found  # the guest's own disk counts in the guest


def test_api_token_and_failover_to_the_next_host(cluster, make_driver):
    cluster.pve.apitokens["root@pam!glasspane"] = "0f7c6b9e-1111-2222-3333-444455556666"
    token = {"token_id": "root@pam!glasspane", "token_secret": "0f7c6b9e-1111-2222-3333-444455556666"}
    driver = make_driver(cluster, token, host="127.0.0.1")
    assert driver.health().ok
    assert len(driver.inventory().resources) > 6
    # the first host refuses connections: the next one answers
    failover = make_driver(cluster, None, host="127.0.0.1:1,127.0.0.1")
    assert failover.health().ok and failover.client.host == "127.0.0.1"


def test_wrong_password_and_unreachable_cluster(cluster, make_driver):
    bad = make_driver(cluster, {"username": "root@pam", "password": "nope"})
    health = bad.health()
    assert not health.ok and "refused the login" in health.message
    with pytest.raises(ProviderAuthError):
        bad.inventory()
    wrong_token = make_driver(cluster, {"token_id": "root@pam!nope", "token_secret": "x"})
    with pytest.raises(ProviderAuthError, match="refused the credentials .*401"):
        wrong_token.inventory()
    gone = ProxmoxDriver({"host": "127.0.0.1", "port": 1, "verify": False, "timeout": 2},
                         {"username": "root@pam", "password": "secret"})
    with pytest.raises(ProviderUnavailable, match="cannot reach"):
        gone.inventory()


def test_untrusted_certificate_is_refused_unless_told(cluster, make_driver):
    strict = make_driver(cluster, ca_bundle=None)
    assert not strict.health().ok and "TLS verification" in strict.health().message


def test_missing_privileges_are_named_and_the_rest_collected(cluster, make_driver):
    pve = cluster.pve
    pve.users["audit@pve"] = "pw"
    pve.grant("audit@pve", "/vms", "VM.Audit")
    pve.grant("audit@pve", "/nodes", "Sys.Audit")
    inventory = make_driver(cluster, {"username": "audit@pve", "password": "pw"}).inventory()
    text = " | ".join(i.message for i in inventory.issues)
    assert "Datastore.Audit on /storage" in text and "Pool.Audit on /pool" in text
    assert len([r for r in inventory.resources if r.kind in (Kind.VM, Kind.CONTAINER)]) == 6
    assert inventory.complete


def test_an_action_without_the_privilege_names_it(cluster, make_driver):
    cluster.pve.users["audit@pve"] = "pw"
    cluster.pve.grant("audit@pve", "/vms", "VM.Audit")
    with pytest.raises(ProviderAuthError, match=r"missing privilege VM.PowerMgmt on /vms/101 to shut down qemu/101"):
        make_driver(cluster, {"username": "audit@pve", "password": "pw"}).act("qemu/101", Action.STOP)
    assert cluster.pve.guest(101).status == "running"


def test_audit_on_one_pool_only_is_partial_and_incomplete(cluster, make_driver):
    pve = cluster.pve
    pve.users["shop@pve"] = "pw"
    pve.grant("shop@pve", "/pool/webshop", "VM.Audit")
    inventory = make_driver(cluster, {"username": "shop@pve", "password": "pw"}).inventory()
    guests = {r.external_id for r in inventory.resources if r.kind in (Kind.VM, Kind.CONTAINER)}
    assert guests == {"qemu/101", "qemu/102", "lxc/201"}
    assert not inventory.complete  # what it cannot see must not be taken for deleted
    assert any("VM.Audit on /vms (held only on /pool/webshop)" in i.message for i in inventory.issues)


def test_a_bad_record_is_an_issue_and_the_others_are_collected(cluster, make_driver):
    cluster.pve.guest(103).config["memory"] = "-5"  # the listing's maxmem is nonsense too
    cluster.pve.guest(102).config["sockets"] = 0  # the listing still has sizes
    inventory = make_driver(cluster).inventory()
    issues = {i.external_id: i.message for i in inventory.issues}
    assert set(issues) == {"qemu/102", "qemu/103"}
    assert "memory is out of range" in issues["qemu/103"] and "skipped" in issues["qemu/103"]
    assert "cores x sockets is zero" in issues["qemu/102"] and "from the cluster listing" in issues["qemu/102"]
    found = by_id(inventory)
    assert "qemu/103" not in found and found["qemu/102"].properties["config_unreadable"]
    assert {"qemu/101", "lxc/201", "lxc/202", "lxc/203"} <= set(found)


def test_an_offline_node_keeps_its_guests_from_the_listing(cluster, make_driver):
    cluster.pve.set_node_offline("pve2")
    found = by_id(make_driver(cluster).inventory())
    assert found["qemu/102"].state == State.UNKNOWN and found["qemu/102"].properties["config_unreadable"]
    assert found["node/pve2"].state == State.UNKNOWN
    assert found["qemu/101"].state == State.RUNNING


def test_samples_from_the_status_listing(cluster, make_driver):
    driver = make_driver(cluster)
    driver.inventory()
    samples = {s.external_id: s for s in driver.samples()}
    assert set(samples) == {"qemu/101", "qemu/102", "lxc/201", "lxc/202"}
    assert samples["qemu/101"].memory_total_mb == Decimal(4096) and samples["qemu/101"].memory_used_mb > 0
    assert samples["qemu/101"].net_rx_bytes == 0 and samples["qemu/101"].cpu_time_ns is None  # fakepve: no RRD rows


def test_stop_start_reboot_delete_through_tasks(cluster, make_driver):
    driver = make_driver(cluster)
    pve = cluster.pve
    driver.act("qemu/101", Action.STOP)
    assert pve.guest(101).status == "stopped"
    assert [t["type"] for t in pve.tasklog][-1] == "qmshutdown"
    driver.act("qemu/101", Action.START)
    assert pve.guest(101).status == "running"
    driver.act("lxc/201", Action.REBOOT)
    assert pve.guest(201).status == "running"
    driver.act("lxc/202", Action.DELETE)
    assert pve.guest(202) is None
    assert "lxc/202" not in by_id(driver.inventory())


def test_a_guest_that_ignores_shutdown_is_stopped(cluster, make_driver):
    cluster.pve.guest(102).acpi = False
    make_driver(cluster, shutdown_timeout=5).act("qemu/102", Action.STOP)
    assert cluster.pve.guest(102).status == "stopped"
    assert [t["type"] for t in cluster.pve.tasklog][-2:] == ["qmshutdown", "qmstop"]
    assert cluster.pve.tasklog[-2]["exitstatus"] != "OK"


def test_a_failed_task_says_why_and_a_slow_one_times_out(make_cluster, make_driver):
    cluster = make_cluster(time_scale=0.01)
    cluster.pve.guest(103).start_error = "unable to find disk 'local-lvm:vm-103-disk-0'"
    with pytest.raises(TaskFailed, match="unable to find disk"):
        make_driver(cluster).act("qemu/103", Action.START)
    cluster.pve.guest(103).start_error = None
    cluster.pve.guest(103).start_secs = 300  # 3 s of real time
    began = time.monotonic()
    with pytest.raises(TaskTimeout, match="still running after 1 s"):
        make_driver(cluster, task_timeout=1).act("qemu/103", Action.START)
    assert time.monotonic() - began < 2.5


@pytest.mark.parametrize("kind, template, expected", [(Kind.VM, "debian-12-vm", "qemu"),
                                                      (Kind.CONTAINER, "9001", "lxc")])
def test_provision_clones_a_template_into_a_pool_sized_as_asked(cluster, make_driver, kind, template, expected):
    spec = ProvisionSpec(name="new-one", kind=kind, project="research", vcpus=Decimal(2), ram_mb=2048,
                         image=template)
    found = make_driver(cluster).provision(spec)
    assert found.external_id.startswith(f"{expected}/") and found.kind == kind
    assert (found.vcpus, found.ram_mb, found.state) == (Decimal(2), 2048, State.RUNNING)
    assert found.project_hint == "research" and found.name == "new-one"
    vmid = int(found.external_id.split("/")[1])
    assert vmid in cluster.pve.pools["research"]  # the pool was created on the way


def test_provision_of_an_unknown_template_is_refused_by_name(cluster, make_driver):
    with pytest.raises(Exception, match="no VM template named 'nope'"):
        make_driver(cluster).provision(ProvisionSpec(name="x", kind=Kind.VM, project="p", image="nope"))


def test_settings_are_validated_field_by_field():
    with pytest.raises(SettingsError) as caught:
        ProxmoxDriver.validate({"host": " ", "port": "0"}, {"token_id": "nobang"})
    assert set(caught.value.errors) == {"host", "port", "token_id", "token_secret"}
    with pytest.raises(SettingsError, match="user@realm"):
        ProxmoxDriver.validate({"host": "pve"}, {"username": "root", "password": "x"})
    settings, _ = ProxmoxDriver.validate({"host": "pve.example.org"}, {"username": "root@pam", "password": "x"})
    assert settings["port"] == 8006 and settings["verify"] is True
    assert ProxmoxDriver.quota_keys == frozenset()


def test_generated_seed_is_served_exactly(make_cluster, make_driver):
    cluster = make_cluster(proxmox.generated(30))
    found = by_id(make_driver(cluster).inventory())
    assert len([r for r in found.values() if r.kind in (Kind.VM, Kind.CONTAINER)]) == 30


def test_garbage_records_in_the_listing_are_skipped_one_by_one(cluster, make_driver):
    driver = make_driver(cluster)
    real_get = driver.client.get

    def get(doing, path, **params):
        answer = real_get(doing, path, **params)
        if path == "cluster/resources":
            answer += ["not a record", {"type": "qemu", "node": "pve1"}, {"type": "node"},
                       {"type": "lxc", "vmid": 999, "node": "pve1", "name": "x" * 400, "maxmem": "lots"}]
        return answer

    driver.client.get = get
    cluster.pve.guest(203).config["hostname"] = "x" * 400
    inventory = driver.inventory()
    found = by_id(inventory)
    guests = {e for e, r in found.items() if r.kind in (Kind.VM, Kind.CONTAINER)}
    assert guests == {"qemu/101", "qemu/102", "qemu/103", "lxc/201", "lxc/202", "lxc/203"}
    assert len(found["lxc/203"].name) == 255  # cut, kept, and said
    assert {"node/pve1", "node/pve2"} <= set(found)
    issues = {i.external_id: i.message for i in inventory.issues}
    assert {"qemu/None", "lxc/203", "?"} <= set(issues) and "cut to 255" in issues["lxc/203"]
    assert "lxc/999" not in issues  # no config: destroyed since the listing, not an error


def test_a_listing_that_is_not_a_list_fails_the_whole_inventory(cluster, make_driver):
    driver = make_driver(cluster)
    driver.client.get = lambda doing, path, **params: {"oops": 1}
    with pytest.raises(ProviderDataError, match="not a list"):
        driver.inventory()
