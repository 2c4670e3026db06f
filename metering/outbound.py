"""Outbound HTTP to addresses people type in (breach webhooks): safe by construction.

* Redirects are never followed: a receiver could bounce the call to an internal address.
* Every call times out after ``GLASSPANE_WEBHOOK_TIMEOUT`` seconds (connect and read each).
* With ``GLASSPANE_WEBHOOK_DENY_PRIVATE`` (on in production) a host that resolves to a private,
  loopback, link-local (cloud metadata), multicast or reserved address is refused, unless it lies
  in ``GLASSPANE_WEBHOOK_ALLOWED_NETWORKS``. Checked when the URL is set and again before each call.
* A failure says what happened and to which host (``HTTP 500 from hooks.example.net``), never the
  receiver's body or the URL's path, which often carries a token.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from urllib.parse import urlsplit

import requests
from django.conf import settings


class Refused(ValueError):
    """The URL may not be called (a denied address, a bad scheme): retrying will not help."""


class Failed(Exception):
    """The call failed; ``retry`` says whether trying again later may succeed."""

    def __init__(self, message: str, retry: bool):
        super().__init__(message)
        self.retry = retry


def _denied(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    for network in settings.GLASSPANE_WEBHOOK_ALLOWED_NETWORKS:
        try:
            if ip in ipaddress.ip_network(network, strict=False):
                return False
        except ValueError:
            continue
    return (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
            or ip.is_unspecified)


def check_url(url: str, *, resolve_failures_ok: bool = False) -> str:
    """The URL's host name if it may be called; ``Refused`` says why not."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("expected an http:// or https:// URL with a host")
    host = parts.hostname
    if not settings.GLASSPANE_WEBHOOK_DENY_PRIVATE:
        return host
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError, UnicodeError):
        if resolve_failures_ok:
            return host
        raise Refused(f"{host}: the name does not resolve") from None
    for *_, sockaddr in infos:
        if _denied(sockaddr[0]):
            raise Refused(f"{host} resolves to {sockaddr[0]}, a private or link-local address; "
                          "GLASSPANE_WEBHOOK_ALLOWED_NETWORKS can allow it")
    return host


def post_json(url: str, body: dict, headers: dict | None = None) -> int:
    """POST ``body`` as JSON; the HTTP status of a 2xx answer, else ``Refused`` or ``Failed``."""
    return post(url, json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})})


def post(url: str, data: bytes, headers: dict) -> int:
    """POST ``data`` with ``headers`` (a signed body must be sent byte for byte as signed)."""
    host = check_url(url)
    timeout = settings.GLASSPANE_WEBHOOK_TIMEOUT
    try:
        response = requests.post(url, data=data, headers=headers, timeout=(timeout, timeout), allow_redirects=False)
    except requests.Timeout:
        raise Failed(f"{host} timed out after {timeout} s", retry=True) from None
    except requests.RequestException as exc:
        raise Failed(f"could not reach {host} ({type(exc).__name__})", retry=True) from None
    response.close()
    if 300 <= response.status_code < 400:
        raise Failed(f"HTTP {response.status_code} from {host}: a redirect, not followed", retry=False)
    if response.status_code >= 400:
        raise Failed(f"HTTP {response.status_code} from {host}", retry=response.status_code >= 500
                     or response.status_code == 429)
    return response.status_code
