"""The LXD mapping on recorded API documents: sizes, unlimited, VMs, projects, state, samples."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from providers.base import Kind, ProviderDataError, State
from providers.lxd import mapping
from tests.providers.lxd import shapes

HOST_MEMORY = shapes.RESOURCES["memory"]["total"]


def observe(document, project_key="user.glasspane.project"):
    return mapping.instance_resource(document, host_external_id="lxd-host", project_key=project_key,
                                     host_memory_bytes=HOST_MEMORY)


def test_a_limited_container_has_its_sizes_project_times_and_labels():
    found = observe(shapes.container())
    assert (found.external_id, found.kind, found.name, found.state) == ("team-a/a1", Kind.CONTAINER, "a1",
                                                                        State.RUNNING)
    assert (found.vcpus, found.ram_mb, found.disk_gb) == (Decimal("1.000"), 64, Decimal("1.000"))
    assert found.project_hint == "web"  # user.glasspane.project wins over the LXD project
    assert found.labels == {"glasspane.project": "web", "team": "blue"}
    assert found.parent_external_id == "lxd-host"
    assert found.created_at == datetime(2026, 11, 30, 7, 38, 12, 334458, tzinfo=UTC)
    assert found.started_at == datetime(2026, 11, 30, 7, 38, 12, 727024, tzinfo=UTC)
    assert found.properties["lxd_project"] == "team-a" and found.properties["root_disk_size"] == "1GiB"


def test_no_limits_means_unlimited_never_zero():
    document = shapes.container(config={"limits.cpu": None, "limits.memory": None}, devices={
        "root": {"path": "/", "pool": "default", "type": "disk"}})
    found = observe(document)
    assert (found.vcpus, found.ram_mb, found.disk_gb) == (None, None, None)
    assert found.properties["cpu_limit"] == "unlimited" and found.properties["root_disk_size"] == "unlimited"


def test_without_the_project_key_the_lxd_project_is_the_hint():
    document = shapes.container(config={"user.glasspane.project": None})
    assert observe(document).project_hint == "team-a"
    assert observe(shapes.container(), project_key="user.owner").project_hint == "team-a"


@pytest.mark.parametrize(("config", "vcpus", "source"), [
    ({"limits.cpu": "4"}, "4.000", "limits.cpu"),
    ({"limits.cpu": "0-3"}, "4.000", "limits.cpu (pinned)"),
    ({"limits.cpu": "1,3,5-6"}, "4.000", "limits.cpu (pinned)"),
    ({"limits.cpu": "2", "limits.cpu.allowance": "50ms/100ms"}, "0.500", "limits.cpu.allowance"),
    ({"limits.cpu": None, "limits.cpu.allowance": "150ms/100ms"}, "1.500", "limits.cpu.allowance"),
    ({"limits.cpu": "2", "limits.cpu.allowance": "50%"}, "2.000", "limits.cpu"),  # a share, not a cap
])
def test_cpu_size_is_the_tighter_of_count_pinning_and_hard_allowance(config, vcpus, source):
    found = observe(shapes.container(config=config))
    assert found.vcpus == Decimal(vcpus) and found.properties["cpu_limit"] == source


@pytest.mark.parametrize(("raw", "mib"), [("512MiB", 512), ("1GiB", 1024), ("1GB", 954), ("268435456", 256),
                                          ("25%", 6144)])
def test_memory_limits_in_every_unit_and_as_a_share_of_the_host(raw, mib):
    assert observe(shapes.container(config={"limits.memory": raw})).ram_mb == mib


def test_a_percentage_without_the_host_memory_is_unlimited_and_says_why():
    document = shapes.container(config={"limits.memory": "50%"})
    found = mapping.instance_resource(document, host_external_id="h", project_key="user.x", host_memory_bytes=None)
    assert found.ram_mb is None and "host memory unknown" in found.properties["memory_limit"]


def test_a_vm_without_limits_gets_lxds_vm_defaults():
    document = shapes.container(type="virtual-machine", config={"limits.cpu": None, "limits.memory": None},
                                state=shapes.VM_STATE)
    found = observe(document)
    assert found.kind == Kind.VM and (found.vcpus, found.ram_mb) == (Decimal(1), 1024)


@pytest.mark.parametrize("config", [{"limits.cpu": "two"}, {"limits.cpu": "0"}, {"limits.memory": "lots"},
                                    {"limits.memory": "0MiB"}, {"limits.cpu": "3-1"}])
def test_nonsense_limits_are_data_errors_naming_the_key(config):
    with pytest.raises(ProviderDataError, match="limits"):
        observe(shapes.container(config=config))


def test_an_unknown_instance_type_or_a_missing_name_is_a_data_error():
    with pytest.raises(ProviderDataError, match="unknown instance type"):
        observe(shapes.container(type="oci"))
    with pytest.raises(ProviderDataError, match="without a name"):
        observe({"project": "x"})


def test_a_never_started_instance_has_no_start_time_and_a_stopped_state():
    document = shapes.container(status="Stopped", status_code=102, last_used_at="1970-01-01T00:00:00Z",
                                state=shapes.STOPPED_STATE)
    found = observe(document)
    assert found.state == State.STOPPED and found.started_at is None


@pytest.mark.parametrize(("code", "status", "state"), [(110, "Frozen", State.PAUSED), (112, "Error", State.ERROR),
                                                       (106, "Starting", State.RUNNING), (None, "Stopped",
                                                                                         State.STOPPED),
                                                       (999, "Weird", State.UNKNOWN)])
def test_status_codes_map_to_the_common_states(code, status, state):
    assert mapping.map_state({"status_code": code, "status": status}) == state


def test_the_host_carries_its_size_and_a_stable_id():
    host = mapping.host_resource(shapes.SERVER, shapes.RESOURCES, endpoint="unix:///s", host_name=None)
    assert host.external_id == "lxd-807b7390db45ab52bcade1462ff56371"
    assert (host.kind, host.name, host.vcpus, host.ram_mb) == (Kind.HOST, "lxdhost", Decimal("2.000"), 24576)
    assert host.properties["instance_types"] == ["container"]


def test_a_sample_from_the_state_api_skips_the_loopback():
    at = datetime(2026, 11, 30, 8, tzinfo=UTC)
    sample = mapping.sample_from_state("p/vm1", shapes.VM_STATE, at)
    assert sample.cpu_time_ns == 4986019722 and sample.at == at
    assert sample.memory_used_mb == Decimal("69.855") and sample.memory_total_mb == Decimal("1024.000")
    assert (sample.net_rx_bytes, sample.net_tx_bytes) == (10000, 2000)
    assert sample.disk_read_bytes is None  # LXD reports no block I/O counters


def test_a_container_sample_without_a_nic_has_no_network_and_its_limit_as_total():
    sample = mapping.sample_from_state("team-a/a1", shapes.CONTAINER["state"], datetime.now(UTC), ram_mb=64)
    assert (sample.net_rx_bytes, sample.net_tx_bytes) == (None, None)
    assert sample.memory_total_mb == Decimal(64) and sample.cpu_time_ns == 9891853


def test_a_stopped_instance_gives_no_sample():
    assert mapping.sample_from_state("a", shapes.STOPPED_STATE, datetime.now(UTC)) is None


def test_sizes_and_times_parse_strictly():
    assert mapping.parse_size("2GiB") == 2 * 1024**3 and mapping.parse_size("1.5kB") == 1500
    with pytest.raises(ProviderDataError, match="unreadable limits.disk"):
        mapping.parse_size("2 parsecs", "limits.disk")
    with pytest.raises(ProviderDataError, match="unreadable time"):
        mapping.parse_time("yesterday")
    assert mapping.split_external_id("team-a/a1") == ("team-a", "a1")
    with pytest.raises(ProviderDataError, match="project/name"):
        mapping.split_external_id("a1")
