"""Test connection on Proxmox VE: the probe through ``providers.connection_check`` against the fake
cluster (HTTPS, certificate verified), a refused login, a closed port and bad host/port settings."""

from __future__ import annotations

import socket

import pytest

from devsim import proxmox
from providers import connection_check
from providers.configure import ConfigurationError
from tests.providers.proxmox.conftest import ROOT

pytestmark = pytest.mark.integration


def test_release_nodes_vms_and_containers(cluster):
    result = connection_check.check("proxmox", cluster.provider_settings(), ROOT)
    assert result.ok, result.message
    assert result.probe.product == "Proxmox VE" and result.probe.version[0].isdigit()
    assert result.probe.counts == {"nodes": 2, "VMs": 3, "containers": 3}  # the demo's; templates left out
    assert result.message == (f"Connected to Proxmox VE {result.probe.version} at 127.0.0.1:{cluster.port}: "
                              "2 nodes, 3 VMs, 3 containers")


def test_a_generated_cluster_is_counted(make_cluster):
    cluster = make_cluster(seed=proxmox.generated(30, nodes=3))
    result = connection_check.check("proxmox", cluster.provider_settings(), ROOT)
    assert result.ok and result.probe.counts == {"nodes": 3, "VMs": 20, "containers": 10}


def test_a_refused_login_is_a_credentials_problem(cluster):
    result = connection_check.check("proxmox", cluster.provider_settings(), {**ROOT, "password": "nope-pw"})
    assert not result.ok and result.problem == "credentials"
    assert result.message.startswith("Proxmox VE at 127.0.0.1 refused the login") and "nope-pw" not in result.message


def test_a_closed_port_is_connection_refused(cluster):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = connection_check.check("proxmox", {**cluster.provider_settings(), "port": str(port)}, ROOT)
    assert not result.ok and result.problem == "unreachable"
    assert result.message.endswith(f"connection refused at 127.0.0.1:{port}")


@pytest.mark.parametrize("settings,field,message", [
    ({"host": "127.0.0.1", "port": "70000"}, "port", "must be a whole number from 1 to 65535, got 70000"),
    ({"host": "127.0.0.1", "port": "eighty"}, "port", "must be a whole number, got 'eighty'"),
    ({"host": "pve one, pve2"}, "host", "'pve one' is not a host name or address"),
])
def test_bad_host_or_port_is_a_field_error(settings, field, message):
    with pytest.raises(ConfigurationError) as caught:
        connection_check.check("proxmox", settings, ROOT)
    assert message in caught.value.settings[field]
