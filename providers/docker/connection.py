"""Open a Docker SDK client for one engine and translate its failures into provider errors.

The SDK reports an unreachable socket, a TLS refusal and an HTTP 500 through three unrelated
exception families (``requests``, ``ssl`` via ``requests``, ``docker.errors``); the rest of the
driver only wants to know which ``ProviderError`` to raise, with a message that tells the person
reading it what to check. ``engine_errors`` is that single translation point.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import docker
import docker.constants
import docker.errors
import docker.tls
import requests.exceptions

from providers.base import ProviderAuthError, ProviderDataError, ProviderError, ProviderUnavailable

SCHEMES = ("unix://", "tcp://", "http://", "https://")
#: the oldest API the SDK speaks; only used for the first ``/version`` request
MINIMUM_API_VERSION = docker.constants.MINIMUM_DOCKER_API_VERSION
PEM_FILES = {"tls_client_cert": "cert.pem", "tls_client_key": "key.pem", "tls_ca_cert": "ca.pem"}


class EngineConnection:
    """A lazily opened ``docker.APIClient`` plus the temporary PEM files it needs."""

    def __init__(self, settings: Mapping[str, Any], credentials: Mapping[str, Any], pool_size: int):
        self.base_url = settings["base_url"]
        self.timeout = settings.get("timeout", 10)
        self.tls = bool(settings.get("tls", False))
        self.credentials = credentials
        self.pool_size = max(pool_size, 1)
        self._api: docker.APIClient | None = None
        #: the engine's ``/version`` answer, fetched once when the client is opened
        self.version_info: dict[str, Any] = {}
        self._pem_dir: str | None = None

    @property
    def api(self) -> docker.APIClient:
        if self._api is None:
            self._api = self._open()
        return self._api

    def _open(self) -> docker.APIClient:
        """Negotiate the API version ourselves, keeping the ``/version`` document.

        ``version="auto"`` would do the same request and throw the answer away; podman takes
        over half a second to build it, and the driver needs it for the engine's name and version.
        """
        options = {
            "base_url": self.base_url,
            "timeout": self.timeout,
            "tls": self._tls_config(),
            "max_pool_size": self.pool_size,
        }
        with engine_errors(self.base_url, self.timeout):
            probe = docker.APIClient(version=MINIMUM_API_VERSION, **options)
            try:
                self.version_info = probe.version(api_version=False)
            finally:
                probe.close()
            negotiated = self.version_info.get("ApiVersion")
            if not negotiated:
                raise ProviderDataError(
                    f"the engine at {self.base_url} did not say which API version it speaks"
                )
            return docker.APIClient(version=str(negotiated), **options)

    def _tls_config(self) -> docker.tls.TLSConfig | bool:
        if not self.tls:
            return False
        paths = self._write_pems()
        client_cert = None
        if "tls_client_cert" in paths:
            client_cert = (paths["tls_client_cert"], paths["tls_client_key"])
        try:
            # verify=True: without tls_ca_cert the engine's certificate is checked against the
            # system's CA bundle, never skipped.
            return docker.tls.TLSConfig(
                client_cert=client_cert, ca_cert=paths.get("tls_ca_cert"), verify=True
            )
        except docker.errors.TLSParameterError as exc:
            raise ProviderAuthError(f"TLS settings for {self.base_url} are unusable: {exc}") from None

    def _write_pems(self) -> dict[str, str]:
        """The SDK reads certificates from files: write the PEM credentials to a private dir."""
        self._pem_dir = tempfile.mkdtemp(prefix="glasspane-docker-tls-")
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
        if self._api is not None:
            self._api.close()
            self._api = None
        if self._pem_dir is not None:
            shutil.rmtree(self._pem_dir, ignore_errors=True)
            self._pem_dir = None


def _root_cause(exc: BaseException) -> BaseException:
    """The SDK wraps the first /version failure in a DockerException: look through it."""
    seen = exc
    while isinstance(seen, docker.errors.DockerException) and seen.__cause__ is not None:
        seen = seen.__cause__
    return seen


def translate(exc: BaseException, base_url: str, timeout: float | None = None) -> ProviderError:
    """The ``ProviderError`` a person should see for an SDK or transport failure."""
    cause = _root_cause(exc)
    if isinstance(cause, requests.exceptions.SSLError):
        return ProviderAuthError(
            f"TLS handshake with the Docker engine at {base_url} failed ({cause}). Check that "
            "tls_ca_cert is the CA that signed the engine's certificate and that the client "
            "certificate and key are ones the engine trusts."
        )
    if isinstance(cause, requests.exceptions.Timeout):
        return ProviderUnavailable(
            f"the Docker engine at {base_url} did not answer within {timeout or '?'} s; it may be "
            "overloaded or hung (raise the 'timeout' setting if it is just slow)."
        )
    if isinstance(cause, requests.exceptions.ConnectionError | ConnectionError | FileNotFoundError):
        where = "socket" if base_url.startswith("unix://") else "address"
        return ProviderUnavailable(
            f"cannot reach the Docker engine at {base_url}: {_short(cause)}. Check that the engine "
            f"(dockerd or 'podman system service') is running and that this {where} is right and "
            "reachable from the Glasspane workers."
        )
    if isinstance(cause, docker.errors.TLSParameterError):
        return ProviderAuthError(f"TLS settings for {base_url} are unusable: {cause}")
    if isinstance(cause, docker.errors.APIError):
        status = cause.status_code or 0
        explanation = cause.explanation or str(cause)
        if status in (401, 403):
            return ProviderAuthError(f"the Docker engine at {base_url} refused the request: {explanation}")
        if status == 400 and "HTTPS" in str(explanation):
            return ProviderAuthError(
                f"the Docker engine at {base_url} expects TLS: set tls=true and give the client "
                f"certificate ({explanation})"
            )
        if status >= 500:
            return ProviderUnavailable(f"the Docker engine at {base_url} failed: {explanation}")
        return ProviderError(f"the Docker engine at {base_url} refused the request: {explanation}")
    if isinstance(cause, requests.exceptions.InvalidJSONError | KeyError | ValueError):
        return ProviderDataError(f"the Docker engine at {base_url} answered something unreadable: {cause}")
    if isinstance(cause, requests.exceptions.RequestException | docker.errors.DockerException):
        return ProviderUnavailable(f"talking to the Docker engine at {base_url} failed: {cause}")
    raise TypeError(f"not an engine error: {exc!r}")


@contextmanager
def engine_errors(base_url: str, timeout: float | None = None) -> Iterator[None]:
    """Re-raise SDK and transport exceptions as the matching ``ProviderError``."""
    try:
        yield
    except ProviderError:
        raise
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise translate(exc, base_url, timeout) from exc


def _short(exc: BaseException) -> str:
    text = str(exc)
    if "No such file or directory" in text or isinstance(exc, FileNotFoundError):
        return "the socket does not exist"
    if "Connection refused" in text:
        return "connection refused"
    if "Permission denied" in text:
        return "permission denied on the socket"
    return text
