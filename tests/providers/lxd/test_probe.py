"""Test connection on LXD: the probe through ``providers.connection_check`` against a real LXD daemon
(``scripts/lxd-host.sh``; skipped without one, failed under GLASSPANE_CI=1), an absent socket, and
bad endpoints refused before anything is tried."""

from __future__ import annotations

import pytest

from providers import connection_check
from providers.configure import ConfigurationError


@pytest.mark.real_lxd
def test_version_server_name_instances_and_projects(lxd_socket, lxd_client, lxd_project, launch):
    project = lxd_project("probe")
    launch(project, "one", start=False)
    environment = lxd_client.host_info["environment"]
    instances = len(lxd_client.api.instances.get(params={"all-projects": "true"}).json()["metadata"])
    projects = len(lxd_client.api.projects.get().json()["metadata"])
    result = connection_check.check("lxd", {"endpoint": f"unix://{lxd_socket}"}, {})
    assert result.ok, result.message
    assert result.probe.version == environment["server_version"] and result.probe.host == environment["server_name"]
    assert result.probe.counts == {"instances": instances, "projects": projects} and instances >= 1
    assert result.message.startswith(f"Connected to LXD {environment['server_version']} at unix://{lxd_socket}")


def test_an_absent_socket_is_unreachable(tmp_path):
    endpoint = f"unix://{tmp_path}/unix.socket"
    result = connection_check.check("lxd", {"endpoint": endpoint}, {})
    assert not result.ok and result.problem == "unreachable", result
    assert endpoint in result.message


@pytest.mark.parametrize("endpoint,message", [
    ("https://lxd.example.org:99999", "the port must be a whole number from 1 to 65535"),
    ("https://", "needs a host name or address after https://"),
    ("lxd.example.org:8443", "must be unix:///path/unix.socket, /path/unix.socket or https://host:port"),
])
def test_a_bad_endpoint_is_a_field_error(endpoint, message):
    with pytest.raises(ConfigurationError) as caught:
        connection_check.check("lxd", {"endpoint": endpoint}, {"client_cert": "c", "client_key": "k"})
    assert message in caught.value.settings["endpoint"]

