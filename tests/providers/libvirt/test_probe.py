"""Test connection on libvirt: the probe through ``providers.connection_check`` against the built-in
test driver (``test:///default`` and a generated node), and the errors a person sees."""

from __future__ import annotations

from providers import connection_check


def test_default_test_driver_answers_with_version_host_and_domains():
    result = connection_check.check("libvirt", {"uri": "test:///default"}, {})
    assert result.ok, result.message
    probe = result.probe
    assert probe.product == "libvirt" and probe.version.count(".") == 2 and probe.where == "test:///default"
    assert probe.counts == {"domains": 1, "active": 1} and probe.details["hypervisor"] == "TEST"
    assert result.message == f"Connected to libvirt {probe.version} at test:///default (host {probe.host}): " \
                             "1 domain, 1 active"


def test_a_generated_node_counts_its_domains(node):
    result = connection_check.check("libvirt", {"uri": node.uri}, {})
    active = sum(1 for f in node.facts if f["runstate"] != 5)  # VIR_DOMAIN_SHUTOFF
    assert result.ok and result.probe.counts == {"domains": 40, "active": active}
    assert "40 domains" in result.message


def test_a_missing_node_file_is_unreachable_in_words(tmp_path):
    uri = f"test://{tmp_path}/absent.xml"
    result = connection_check.check("libvirt", {"uri": uri}, {})
    assert not result.ok and result.problem == "unreachable" and result.problem_label == "Cannot reach the provider"
    assert result.message == f"cannot connect to libvirt at {uri}: the node file {tmp_path}/absent.xml does not exist"


def test_a_closed_port_is_connection_refused():
    result = connection_check.check("libvirt", {"uri": "qemu+tcp://127.0.0.1:1/system"}, {})
    assert not result.ok and result.problem == "unreachable"
    assert "Connection refused" in result.message and "127.0.0.1:1" in result.message
