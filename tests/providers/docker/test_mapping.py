"""The pure mapping rules: engine JSON documents in, observations out (no engine needed)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from providers.base import ProviderDataError, SettingsError, State
from providers.docker.containers import (
    container_resource,
    count_cpuset,
    cpu_limit,
    engine_id,
    format_ports,
    map_state,
    memory_limit_mb,
    parse_time,
)
from providers.docker.driver import DockerDriver
from providers.docker.parallel import Skip, fan_out
from providers.docker.stats import block_io_totals, memory_used_bytes, sample_from_stats, supports_one_shot


def test_parse_time_keeps_nanosecond_times_and_treats_zero_time_as_none():
    assert parse_time("2026-11-23T09:03:45.640591437Z") == datetime(
        2026, 11, 23, 9, 3, 45, 640591, tzinfo=UTC
    )
    assert parse_time("2026-11-23T10:03:45+01:00") == datetime(2026, 11, 23, 9, 3, 45, tzinfo=UTC)
    assert parse_time("0001-01-01T00:00:00Z") is None
    assert parse_time(None) is None
    with pytest.raises(ProviderDataError):
        parse_time("yesterday")


@pytest.mark.parametrize(
    "host_config, expected, source",
    [
        ({}, None, "unlimited"),
        ({"NanoCpus": 500_000_000, "CpuQuota": 50_000, "CpuPeriod": 100_000}, Decimal("0.500"), "NanoCpus"),
        ({"CpuQuota": 150_000, "CpuPeriod": 100_000}, Decimal("1.500"), "CpuQuota/CpuPeriod"),
        ({"CpuQuota": 25_000, "CpuPeriod": 0}, Decimal("0.250"), "CpuQuota/CpuPeriod"),
        ({"CpusetCpus": "0-2,5"}, Decimal("4.000"), "CpusetCpus"),
        ({"CpusetCpus": "0", "NanoCpus": 2_000_000_000}, Decimal("1.000"), "CpusetCpus"),
    ],
)
def test_cpu_limit_is_the_smallest_of_the_limits_set(host_config, expected, source):
    assert cpu_limit(host_config) == (expected, source)


def test_cpuset_and_memory_limits():
    assert count_cpuset("0-3,8,10-11") == 7
    with pytest.raises(ProviderDataError):
        count_cpuset("0-x")
    assert memory_limit_mb({"Memory": 0}) is None
    assert memory_limit_mb({"Memory": 64 * 1024 * 1024}) == 64


def test_states_map_onto_the_common_set():
    assert [map_state(s) for s in ("running", "restarting", "paused", "exited", "created", "dead")] == [
        State.RUNNING,
        State.RUNNING,
        State.PAUSED,
        State.STOPPED,
        State.STOPPED,
        State.STOPPED,
    ]
    assert map_state("weird") == State.UNKNOWN


def test_ports_are_formatted_like_docker_ps():
    ports = {"80/tcp": [{"HostIp": "", "HostPort": "8080"}], "53/udp": None}
    assert format_ports(ports) == ["53/udp", "0.0.0.0:8080->80/tcp"]


def test_podman_engine_id_is_stable_although_its_info_id_is_random():
    first = engine_id({"ID": "a-random-uuid", "Name": "vm", "DockerRootDir": "/x"}, is_podman=True)
    second = engine_id({"ID": "another-uuid", "Name": "vm", "DockerRootDir": "/x"}, is_podman=True)
    assert first == second and first.startswith("podman-")
    assert engine_id({"ID": "ABCD:EFGH", "Name": "vm"}, is_podman=False) == "ABCD:EFGH"


def test_a_container_document_without_limits_is_unlimited_not_zero():
    resource = container_resource(
        {
            "Id": "c" * 64,
            "Name": "/web",
            "Created": "2026-01-01T00:00:00Z",
            "State": {
                "Status": "exited",
                "StartedAt": "0001-01-01T00:00:00Z",
                "FinishedAt": "0001-01-01T00:00:00Z",
            },
            "Config": {
                "Image": "nginx:1",
                "Labels": {"glasspane.project": "alpha", "com.docker.compose.project": "x"},
            },
            "HostConfig": {"NanoCpus": 0, "Memory": 0},
        },
        engine_external_id="engine",
        project_label="glasspane.project",
    )
    assert (resource.vcpus, resource.ram_mb) == (None, None)
    assert resource.properties["cpu_limit"] == "unlimited"
    assert resource.properties["memory_limit"] == "unlimited"
    assert resource.project_hint == "alpha" and resource.labels["com.docker.compose.project"] == "x"
    assert resource.started_at is None and resource.finished_at is None
    assert resource.name == "web" and resource.parent_external_id == "engine"


def test_memory_used_subtracts_inactive_file_cache_under_cgroup_v1_and_v2():
    assert memory_used_bytes({"usage": 1000, "stats": {"total_inactive_file": 300}}) == 700
    assert memory_used_bytes({"usage": 1000, "stats": {"inactive_file": 400}}) == 600
    assert memory_used_bytes({"usage": 1000}) == 1000  # podman: already net of cache
    assert memory_used_bytes({}) is None


def test_block_io_sums_read_and_write_over_devices_in_either_case():
    entries = [
        {"op": "Read", "value": 10},
        {"op": "read", "value": 5},
        {"op": "Write", "value": 7},
        {"op": "Total", "value": 22},
    ]
    assert block_io_totals({"io_service_bytes_recursive": entries}) == (15, 7)
    assert block_io_totals({"io_service_bytes_recursive": None}) == (0, 0)
    assert block_io_totals(None) == (None, None)


def test_stats_of_a_stopped_container_give_no_sample():
    empty = {"read": "0001-01-01T00:00:00Z", "cpu_stats": {}, "memory_stats": {}}
    assert sample_from_stats("c1", empty) is None


def test_one_shot_needs_api_1_41():
    assert supports_one_shot("1.41") and supports_one_shot("1.47")
    assert not supports_one_shot("1.40") and not supports_one_shot("garbage")


def test_fan_out_keeps_order_and_reports_skips_per_item():
    def work(item):
        if item == "b":
            raise Skip("gone", vanished=True)
        return item.upper()

    outcomes = fan_out(work, ["a", "b", "c"], workers=2)
    assert [item for item, _ in outcomes] == ["a", "b", "c"]
    assert outcomes[0][1] == "A" and outcomes[2][1] == "C"
    assert isinstance(outcomes[1][1], Skip) and outcomes[1][1].vanished


def test_validate_names_every_bad_field():
    with pytest.raises(SettingsError) as caught:
        DockerDriver.validate(
            {"base_url": "ftp://engine", "stats_workers": 0, "timeout": 0}, {"tls_client_cert": "PEM"}
        )
    assert set(caught.value.errors) == {"base_url", "stats_workers", "timeout", "tls_client_key"}
    with pytest.raises(SettingsError) as caught:
        DockerDriver.validate({"base_url": "unix:///var/run/docker.sock", "tls": "true"})
    assert "tls" in caught.value.errors
    settings, _ = DockerDriver.validate({"base_url": "unix:///var/run/docker.sock"})
    assert settings["project_label"] == "glasspane.project" and settings["stats_workers"] == 8
