"""Pure mapping of Proxmox VE answers: property strings, sizes, guest configs, tags, volumes."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from providers.base import Kind, ProviderDataError, State
from providers.proxmox import mapping

NOW = datetime(2026, 11, 30, 12, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize("text, expected", [
    ("32G", 32 * 1024 ** 3), ("512M", 512 * 1024 ** 2), ("1.5T", int(1.5 * 1024 ** 4)), ("4096", 4096),
    ("8g", 8 * 1024 ** 3), ("", None), ("big", None), (None, None),
])
def test_sizes_in_pve_spelling(text, expected):
    assert mapping.size_bytes(text) == expected


def test_qemu_config_gives_cores_times_sockets_memory_and_disks_without_cdrom_or_cloudinit():
    config = {"cores": 4, "sockets": 2, "memory": "current=8192", "scsi0": "local-lvm:vm-100-disk-0,size=32G",
              "virtio1": "ceph:vm-100-disk-1,cache=writeback,size=100G", "ide2": "local:iso/d.iso,media=cdrom",
              "ide0": "local-lvm:vm-100-cloudinit,media=cdrom", "efidisk0": "local-lvm:vm-100-disk-2,size=528K",
              "unused0": "local-lvm:vm-100-disk-3", "net0": "virtio=AA:BB:CC:DD:EE:FF,bridge=vmbr0"}
    vcpus, ram, disk, disks = mapping.guest_size("qemu", config, "qemu/100")
    assert vcpus == Decimal(8) and ram == 8192
    assert [d.key for d in disks] == ["efidisk0", "scsi0", "virtio1"]
    assert disk == Decimal("132.001")  # 132 GiB and the 528 KiB EFI vars disk, to three places
    assert mapping.guest_disks("qemu", config)[1][0].volume == "local-lvm:vm-100-disk-3"


def test_qemu_defaults_are_one_core_one_socket_512_mb():
    assert mapping.guest_size("qemu", {}, "qemu/1")[:3] == (Decimal(1), 512, Decimal(0))


def test_lxc_without_cores_is_unlimited_and_bind_mounts_are_not_disks():
    config = {"memory": 2048, "rootfs": "local-lvm:subvol-200-disk-0,size=8G",
              "mp0": "local-lvm:vm-200-disk-1,mp=/srv,size=10G", "mp1": "/mnt/host,mp=/host"}
    vcpus, ram, disk, disks = mapping.guest_size("lxc", config, "lxc/200")
    assert vcpus is None and ram == 2048 and disk == Decimal(18)
    assert [d.key for d in disks] == ["mp0", "rootfs"]


@pytest.mark.parametrize("config", [{"cores": "many"}, {"memory": "-5"}, {"cores": 0}])
def test_nonsense_sizes_are_data_errors(config):
    with pytest.raises(ProviderDataError):
        mapping.guest_size("qemu", config, "qemu/9")


def test_tags_become_labels():
    assert mapping.labels_of("prod;web") == {"prod": "", "web": ""}
    assert mapping.labels_of("a,b c") == {"a": "", "b": "", "c": ""}
    assert mapping.labels_of(None) == {}


def test_a_running_guest_started_uptime_ago_to_the_minute():
    assert mapping.started_at(7200, NOW) == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    assert mapping.started_at(0, NOW) == datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    assert mapping.started_at(-1, NOW) is None
    assert mapping.started_at("x", NOW) is None


def test_guest_resource_nests_under_its_node_with_pool_as_hint():
    record = {"id": "qemu/100", "type": "qemu", "vmid": 100, "node": "pve2", "name": "web", "status": "running",
              "uptime": 60, "pool": "shop", "tags": "prod"}
    found = mapping.guest_resource(record, {"cores": 2, "memory": 4096, "scsi0": "l:vm-100-disk-0,size=10G"}, NOW)
    assert (found.external_id, found.kind, found.state) == ("qemu/100", Kind.VM, State.RUNNING)
    assert found.parent_external_id == "node/pve2" and found.project_hint == "shop"
    assert found.labels == {"prod": ""} and found.disk_gb == Decimal(10)
    assert found.started_at == datetime(2026, 11, 30, 11, 59, tzinfo=UTC)
    ct = mapping.guest_resource({**record, "type": "lxc", "id": "lxc/100", "status": "stopped"}, {}, NOW)
    assert ct.kind == Kind.CONTAINER and ct.state == State.STOPPED and ct.started_at is None


def test_over_long_names_are_cut_and_missing_vmids_refused():
    found = mapping.guest_resource({"type": "qemu", "vmid": 1, "node": "n", "name": "x" * 300}, {}, NOW)
    assert len(found.name) == 255 and found.properties["name_cut_from"] == 300
    with pytest.raises(ProviderDataError, match="vmid"):
        mapping.guest_resource({"type": "qemu", "node": "n"}, {}, NOW)


def test_volume_resource():
    found = mapping.volume_resource({"volid": "local-lvm:vm-5-disk-1", "size": 2 * 1024 ** 3, "vmid": 5,
                                     "content": "images", "format": "raw"}, "qemu/5", "shop", ["pve1"])
    assert (found.kind, found.disk_gb, found.parent_external_id, found.project_hint) == (
        Kind.VOLUME, Decimal(2), "qemu/5", "shop")
    with pytest.raises(ProviderDataError):
        mapping.volume_resource({"volid": "nocolon"}, None, None, [])
