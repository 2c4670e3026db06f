"""Failures a person must act on: no engine, refused connection, a TLS engine we do not trust."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from providers.base import ProviderAuthError, ProviderUnavailable
from providers.docker.driver import DockerDriver


def test_missing_socket_makes_health_not_ok_and_inventory_unavailable(tmp_path):
    url = f"unix://{tmp_path}/nothing.sock"
    driver = DockerDriver({"base_url": url})
    health = driver.health()
    assert not health.ok
    assert url in health.message and "socket does not exist" in health.message
    with pytest.raises(ProviderUnavailable, match="cannot reach the Docker engine"):
        driver.inventory()
    with pytest.raises(ProviderUnavailable):
        driver.samples()


def test_refused_tcp_port_is_unavailable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    driver = DockerDriver({"base_url": f"tcp://127.0.0.1:{port}", "timeout": 3})
    health = driver.health()
    assert not health.ok and "connection refused" in health.message
    with pytest.raises(ProviderUnavailable):
        driver.inventory()


def _self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "server.pem", tmp_path / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def test_tls_engine_with_an_untrusted_certificate_is_an_auth_error(tmp_path):
    cert_path, key_path = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    port = listener.getsockname()[1]
    done = threading.Event()

    def serve():
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass  # the client refuses our certificate, as it should

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        settings, credentials = DockerDriver.validate(
            {"base_url": f"tcp://127.0.0.1:{port}", "tls": True, "timeout": 5}
        )
        driver = DockerDriver(settings, credentials)
        health = driver.health()
        assert not health.ok and "TLS handshake" in health.message and "tls_ca_cert" in health.message
        with pytest.raises(ProviderAuthError, match="TLS handshake"):
            driver.inventory()
        driver.close()
    finally:
        done.set()
        thread.join(timeout=5)
        listener.close()
