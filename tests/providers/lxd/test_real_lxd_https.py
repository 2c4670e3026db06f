"""The LXD driver over https against the real daemon: client certificate and key as secrets, the
server's certificate pinned, the trust password used once, and the refusals a person must read."""

from __future__ import annotations

import datetime as dt
import socket

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from providers.base import ProviderAuthError
from providers.lxd.driver import LXDDriver

pytestmark = pytest.mark.real_lxd
PASSWORD = "glasspane-test-trust"


def client_pair(name: str) -> dict[str, str]:
    """A self-signed client certificate and its key, as PEM text (how credentials are stored)."""
    key = ec.generate_private_key(ec.SECP384R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA384()))
    return {"client_cert": cert.public_bytes(serialization.Encoding.PEM).decode(),
            "client_key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()).decode()}


def free_port() -> int:
    """A free loopback port in this suite's range (8400-8499)."""
    for port in range(8443, 8500):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    pytest.fail("no free port in 8443-8499 for LXD's https listener")


@pytest.fixture
def https_lxd(lxd_client):
    """LXD listening on loopback https with a trust password, for this test only."""
    port = free_port()
    lxd_client.api.patch(json={"config": {"core.https_address": f"127.0.0.1:{port}",
                                          "core.trust_password": PASSWORD}})
    before = {c["fingerprint"] for c in lxd_client.api.certificates.get(params={"recursion": 1}).json()["metadata"]}
    server_cert = lxd_client.api.get().json()["metadata"]["environment"]["certificate"]
    yield f"https://127.0.0.1:{port}", server_cert
    for cert in lxd_client.api.certificates.get(params={"recursion": 1}).json()["metadata"]:
        if cert["fingerprint"] not in before:
            lxd_client.api.certificates[cert["fingerprint"]].delete()
    lxd_client.api.patch(json={"config": {"core.https_address": "", "core.trust_password": ""}})


def test_a_client_certificate_is_trusted_once_with_the_password_then_without_it(https_lxd):
    url, server_cert = https_lxd
    pair = client_pair("glasspane-test")
    settings, credentials = LXDDriver.validate({"endpoint": url},
                                               {**pair, "server_cert": server_cert, "trust_password": PASSWORD})
    with LXDDriver(settings, credentials) as driver:
        assert driver.health().ok
        assert any(r.kind == "host" for r in driver.inventory().resources)
    with LXDDriver(settings, {**pair, "server_cert": server_cert}) as driver:  # now trusted: no password
        assert driver.health().ok


def test_an_untrusted_certificate_without_a_password_is_told_what_to_do(https_lxd):
    url, server_cert = https_lxd
    with LXDDriver({"endpoint": url}, {**client_pair("stranger"), "server_cert": server_cert}) as driver:
        health = driver.health()
    assert not health.ok and "does not trust this client certificate" in health.message


def test_a_wrong_password_is_refused(https_lxd):
    url, server_cert = https_lxd
    credentials = {**client_pair("guesser"), "server_cert": server_cert, "trust_password": "wrong"}
    with LXDDriver({"endpoint": url}, credentials) as driver, pytest.raises(ProviderAuthError):
        driver.inventory()


def test_a_server_that_is_not_the_pinned_one_fails_the_handshake(https_lxd):
    url, _ = https_lxd
    other = client_pair("impostor")["client_cert"]
    with LXDDriver({"endpoint": url}, {**client_pair("careful"), "server_cert": other}) as driver:
        health = driver.health()
    assert not health.ok and "TLS handshake with LXD" in health.message
