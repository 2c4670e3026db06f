"""Unreachable hosts, refused credentials, garbage node files and settings validation."""

from __future__ import annotations

import socket
import threading

import pytest

from providers import registry
from providers.base import ProviderAuthError, ProviderDataError, ProviderUnavailable, SettingsError
from providers.libvirt import connection
from providers.libvirt.driver import LibvirtDriver

from .conftest import make_node


@pytest.mark.integration
def test_a_missing_node_file_is_unavailable_with_a_clear_message(tmp_path):
    uri = f"test://{tmp_path}/absent.xml"
    driver = LibvirtDriver({"uri": uri})
    health = driver.health()
    assert health.ok is False
    assert (
        health.message
        == f"cannot connect to libvirt at {uri}: the node file {tmp_path}/absent.xml does not exist"
    )
    with pytest.raises(ProviderUnavailable, match="cannot connect to libvirt at test://"):
        driver.inventory()


@pytest.mark.integration
def test_a_refused_tcp_connection_is_unavailable():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    uri = f"qemu+tcp://127.0.0.1:{port}/system"
    driver = LibvirtDriver({"uri": uri})
    health = driver.health()
    assert not health.ok
    assert health.message.startswith(f"cannot connect to libvirt at {uri}: ")
    assert "refused" in health.message.lower()
    with pytest.raises(ProviderUnavailable):
        driver.inventory()


@pytest.mark.integration
def test_a_server_that_never_answers_times_out():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])  # accept, then say nothing
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    uri = f"qemu+tcp://127.0.0.1:{server.getsockname()[1]}/system"
    try:
        health = LibvirtDriver({"uri": uri, "connect_timeout": 1}).health()
        assert not health.ok
        assert health.message == f"cannot connect to libvirt at {uri}: no answer within 1 s"
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()  # lets the abandoned libvirt open fail and its thread end
        server.close()


@pytest.fixture
def auth_node(tmp_path):
    node = make_node(tmp_path / "auth.xml", 5, seed=1, auth={"admin": "s3cret"})
    yield node
    connection.forget(node.uri)


@pytest.mark.integration
def test_wrong_password_is_an_auth_error(auth_node):
    driver = auth_node.driver(credentials={"username": "admin", "password": "wrong"})
    with pytest.raises(ProviderAuthError, match=r"refused the credentials of user 'admin'"):
        driver.inventory()
    health = driver.health()
    assert not health.ok and "refused the credentials of user 'admin'" in health.message


@pytest.mark.integration
def test_missing_credentials_are_an_auth_error(auth_node):
    with pytest.raises(ProviderAuthError, match="set the username and password credentials"):
        auth_node.driver().inventory()


@pytest.mark.integration
def test_right_credentials_connect(auth_node):
    driver = auth_node.driver(credentials={"username": "admin", "password": "s3cret"})
    assert driver.health().ok
    assert len(driver.inventory().resources) == 6


@pytest.mark.integration
def test_a_garbage_node_file_is_a_data_error(tmp_path):
    path = tmp_path / "garbage.xml"
    path.write_text("<node><domain>this is not a domain</domain></node>")
    with pytest.raises(ProviderDataError, match=f"libvirt at test://{path} could not read its configuration"):
        LibvirtDriver({"uri": f"test://{path}"}).inventory()


def test_validate_names_every_bad_field():
    with pytest.raises(SettingsError) as caught:
        LibvirtDriver.validate(
            {"uri": "not a uri", "connect_timeout": "0", "shutdown_timeout": "x"}, {"username": "admin"}
        )
    assert set(caught.value.errors) == {"uri", "connect_timeout", "shutdown_timeout", "password"}
    assert caught.value.errors["connect_timeout"] == "must be at least 1 second"
    assert caught.value.errors["password"] == "give both username and password, or neither"


def test_validate_accepts_the_documented_uris_and_fills_defaults():
    for uri in ("qemu:///system", "qemu+ssh://root@kvm1/system", "qemu+tls://kvm1/system", "test:///default"):
        settings, credentials = LibvirtDriver.validate({"uri": uri})
        assert settings == {"uri": uri, "connect_timeout": 10, "shutdown_timeout": 60, "network": "default"}
        assert credentials == {}


def test_validate_rejects_a_timeout_below_one_second():
    with pytest.raises(SettingsError) as caught:
        LibvirtDriver.validate({"uri": "test:///default", "connect_timeout": 0})
    assert caught.value.errors == {"connect_timeout": "must be at least 1 second"}


def test_the_registry_finds_the_driver():
    assert registry.driver_class("libvirt") is LibvirtDriver
