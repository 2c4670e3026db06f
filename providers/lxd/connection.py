"""Open a pylxd client for one LXD server and translate its failures into provider errors.

pylxd reports an unreachable socket, a TLS refusal and an HTTP error through unrelated families
(``pylxd.exceptions.ClientConnectionFailed``, ``requests`` exceptions, ``LXDAPIException`` with
the response); ``lxd_errors`` is the single place that turns them into the ``ProviderError`` a
person should read. Certificates arrive as PEM text (credentials are stored encrypted, not as
files) and are written to a private temporary directory for as long as the client lives.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pylxd
import pylxd.client
import pylxd.exceptions
import requests.exceptions

from providers.base import (
    ProviderAuthError,
    ProviderDataError,
    ProviderError,
    ProviderUnavailable,
    network_reason,
)

#: how LXD words a refusal by a project limit (lxd/project/permissions.go); answered as HTTP 500
LIMIT_REFUSALS = ("Reached maximum aggregate value", "is too low: current total", "Failed checking if instance creation allowed",
                  "has no \"limits.", "config set on the root device")
PEM_FILES = {"client_cert": "client.crt", "client_key": "client.key", "server_cert": "server.crt"}


def socket_path(endpoint: str) -> str | None:
    """The unix socket path of an endpoint (``unix:///p`` or ``/p``), ``None`` for https."""
    if endpoint.startswith("unix://"):
        return endpoint[len("unix://"):]
    if endpoint.startswith("/"):
        return endpoint
    return None


class LXDConnection:
    """A lazily opened ``pylxd.Client`` plus the temporary PEM files it needs."""

    def __init__(self, settings: Mapping[str, Any], credentials: Mapping[str, Any]):
        self.endpoint: str = settings["endpoint"]
        self.timeout = settings.get("timeout", 10)
        self.verify = bool(settings.get("verify", True))
        self.credentials = credentials
        self._client: pylxd.Client | None = None
        self._pem_dir: str | None = None

    @property
    def client(self) -> pylxd.Client:
        if self._client is None:
            self._client = self._open()
        return self._client

    def _open(self) -> pylxd.Client:
        path = socket_path(self.endpoint)
        with lxd_errors(self.endpoint, self.timeout):
            if path is not None:
                if not os.path.exists(path):
                    raise ProviderUnavailable(
                        f"cannot reach LXD at {self.endpoint}: the socket does not exist. Check that the "
                        "LXD daemon is running and that this path (LXD_DIR/unix.socket) is right.")
                client = pylxd.Client(endpoint=path, timeout=self.timeout)
            else:
                paths = self._write_pems()
                cert = (paths["client_cert"], paths["client_key"]) if "client_cert" in paths else None
                # verify: the pinned server certificate when given, else the system CA bundle;
                # verify=false is an explicit, visible choice in the account's settings.
                verify: bool | str = paths.get("server_cert", True) if self.verify else False
                session = pylxd.client.get_session_for_url(self.endpoint, verify=verify, cert=cert)
                # requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override a session's ``verify``,
                # which would silently replace the pinned certificate: take nothing from the environment.
                session.trust_env = False
                client = pylxd.Client(endpoint=self.endpoint, cert=cert, verify=verify, timeout=self.timeout,
                                      session=session)
            if not client.trusted:
                password = self.credentials.get("trust_password")
                if not password:
                    raise ProviderAuthError(
                        f"LXD at {self.endpoint} does not trust this client certificate: add it on the "
                        "server (lxc config trust add) or give the trust_password credential once.")
                client.authenticate(password)
                if not client.trusted:
                    raise ProviderAuthError(f"LXD at {self.endpoint} refused the trust password")
            return client

    def _write_pems(self) -> dict[str, str]:
        self._pem_dir = tempfile.mkdtemp(prefix="glasspane-lxd-tls-")
        paths = {}
        for name, filename in PEM_FILES.items():
            text = self.credentials.get(name)
            if not text:
                continue
            path = os.path.join(self._pem_dir, filename)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(text if text.endswith("\n") else text + "\n")
            paths[name] = path
        return paths

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.api.session.close()
            except Exception:  # noqa: BLE001 - closing must never fail the caller
                pass
            self._client = None
        if self._pem_dir is not None:
            shutil.rmtree(self._pem_dir, ignore_errors=True)
            self._pem_dir = None


def status_of(exc: pylxd.exceptions.LXDAPIException) -> int:
    response = getattr(exc, "response", None)
    return int(getattr(response, "status_code", 0) or 0)


def translate(exc: BaseException, endpoint: str, timeout: float | None = None) -> ProviderError:
    """The ``ProviderError`` a person should see for a pylxd or transport failure."""
    if isinstance(exc, pylxd.exceptions.ClientConnectionFailed) and isinstance(exc.__context__, BaseException):
        exc = exc.__context__  # pylxd re-raises the transport error as text; judge the original
    if isinstance(exc, requests.exceptions.SSLError):
        return ProviderAuthError(
            f"TLS handshake with LXD at {endpoint} failed ({exc}). Check server_cert (the server's "
            "certificate to pin) or the 'verify' setting, and that the client certificate is trusted.")
    if isinstance(exc, requests.exceptions.Timeout):
        return ProviderUnavailable(
            f"LXD at {endpoint} did not answer within {timeout or '?'} s; it may be overloaded or hung "
            "(raise the 'timeout' setting if it is just slow).")
    if isinstance(exc, pylxd.exceptions.ClientConnectionFailed | requests.exceptions.ConnectionError
                  | ConnectionError | FileNotFoundError):
        return ProviderUnavailable(
            f"cannot reach LXD at {endpoint}: {network_reason(exc) if str(exc) else 'no answer'}. Check that the "
            "LXD daemon is running "
            "and that the endpoint is right and reachable from the Glasspane workers.")
    if isinstance(exc, pylxd.exceptions.LXDAPIException):
        status = status_of(exc)
        message = str(exc)
        if status in (401, 403):
            return ProviderAuthError(f"LXD at {endpoint} refused the request: {message}")
        if any(words in message for words in LIMIT_REFUSALS):
            # LXD answers a project limit it will not break with a 500, but retrying cannot help
            return ProviderError(f"LXD at {endpoint} refused the request: {message}")
        if status >= 500:
            return ProviderUnavailable(f"LXD at {endpoint} failed: {message}")
        return ProviderError(f"LXD at {endpoint} refused the request: {message}")
    if isinstance(exc, requests.exceptions.InvalidJSONError | KeyError | ValueError | TypeError):
        return ProviderDataError(f"LXD at {endpoint} answered something unreadable: {exc!r}")
    if isinstance(exc, requests.exceptions.RequestException):
        return ProviderUnavailable(f"talking to LXD at {endpoint} failed: {exc}")
    raise TypeError(f"not an LXD error: {exc!r}")


@contextmanager
def lxd_errors(endpoint: str, timeout: float | None = None) -> Iterator[None]:
    """Re-raise pylxd and transport exceptions as the matching ``ProviderError``."""
    try:
        yield
    except ProviderError:
        raise
    except (pylxd.exceptions.LXDAPIException, pylxd.exceptions.ClientConnectionFailed,
            requests.exceptions.RequestException, ConnectionError, FileNotFoundError) as exc:
        raise translate(exc, endpoint, timeout) from exc
