"""Test connection on Docker: the probe through ``providers.connection_check`` against the real
Docker-API engine (podman's compatible service), and what an unreachable engine or a bad address
says."""

from __future__ import annotations

import socket

import pytest

from providers import connection_check
from providers.configure import ConfigurationError

pytestmark = pytest.mark.integration


def test_the_engine_answers_with_its_version_and_container_count(docker_base_url, docker_client, make_container):
    make_container()
    make_container(start=False)
    running = len(docker_client.containers.list())
    total = len(docker_client.containers.list(all=True))
    result = connection_check.check("docker", {"base_url": docker_base_url}, {})
    assert result.ok, result.message
    probe = result.probe
    assert probe.product in ("Podman Engine", "Docker Engine") and probe.version[0].isdigit()
    assert probe.counts["containers"] == total and probe.counts["running"] == running
    assert probe.counts["images"] >= 1
    assert result.message.startswith(f"Connected to {probe.product} {probe.version} at {docker_base_url}")
    assert f"{total} containers, {running} running" in result.message


def test_a_socket_that_does_not_exist_is_unreachable(tmp_path):
    result = connection_check.check("docker", {"base_url": f"unix://{tmp_path}/none.sock"}, {})
    assert not result.ok and result.problem == "unreachable"
    assert result.message.startswith(f"cannot reach the Docker engine at unix://{tmp_path}/none.sock: "
                                     "the socket does not exist")


def test_a_closed_port_is_connection_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = connection_check.check("docker", {"base_url": f"tcp://127.0.0.1:{port}"}, {})
    assert not result.ok and result.problem == "unreachable"
    assert f"cannot reach the Docker engine at tcp://127.0.0.1:{port}: connection refused" in result.message


@pytest.mark.parametrize("url,message", [
    ("tcp://127.0.0.1:99999", "the port must be a whole number from 1 to 65535"),
    ("tcp://127.0.0.1", "needs a port (tcp://host:port)"),
    ("tcp://no such host:2375", "needs a host name or address"),
    ("ftp://127.0.0.1:21", "must start with one of unix://, tcp://"),
])
def test_a_bad_address_is_a_field_error_before_anything_is_tried(url, message):
    """Before: tcp://127.0.0.1:99999 passed validation and failed at the first refresh with the
    client's ValueError ("Port out of range 0-65535")."""
    with pytest.raises(ConfigurationError) as caught:
        connection_check.check("docker", {"base_url": url}, {})
    assert message in caught.value.settings["base_url"]
