"""The connection to a Proxmox VE cluster and its failures, in the driver contract's terms.

One ``Client`` per driver: it logs in to the first host of the cluster that answers (an API token
needs no login; user + password gets a ticket), and when a host stops answering it moves to the
next one, since every node of a cluster serves the whole cluster's API.

Errors (``providers.base`` rules): cannot connect, a timeout or 5xx -> ``ProviderUnavailable``;
401 or a refused login -> ``ProviderAuthError``; 403 -> ``MissingPrivilege`` naming the privilege
and path PVE reported ("Permission check failed (/vms/100, VM.Audit)"); another refusal or an
answer that is not what the API reference promises -> ``ProviderDataError``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import requests
from proxmoxer import AuthenticationError, ProxmoxAPI, ResourceException
from proxmoxer.tools import Tasks

from providers.base import (
    ProviderAuthError,
    ProviderDataError,
    ProviderError,
    ProviderUnavailable,
    network_reason,
)

T = TypeVar("T")
PERMISSION = re.compile(r"Permission check failed \(([^,)]*),\s*([^)]*)\)")
TOKEN_ID = re.compile(r"^([^@!\s]+@[^@!\s]+)!([A-Za-z][A-Za-z0-9._-]*)$")


class MissingPrivilege(ProviderAuthError):
    """PVE answered 403: the credentials lack ``privilege`` on ``path`` (when PVE named them)."""

    def __init__(self, message: str, path: str = "", privilege: str = ""):
        self.path, self.privilege = path, privilege
        super().__init__(message)


class TaskFailed(ProviderError):
    """A PVE task (UPID) ended with an exit status other than OK."""

    def __init__(self, message: str, exitstatus: str = ""):
        self.exitstatus = exitstatus
        super().__init__(message)


class TaskTimeout(ProviderUnavailable):
    """A PVE task was still running when we stopped waiting for it."""


def split_token(token_id: str) -> tuple[str, str]:
    """``user@realm!tokenid`` -> (``user@realm``, ``tokenid``); ``ValueError`` when malformed."""
    match = TOKEN_ID.match(token_id.strip())
    if not match:
        raise ValueError(f"must look like user@realm!tokenid, got {token_id!r}")
    return match.group(1), match.group(2)


def hosts_of(settings: Mapping[str, Any]) -> list[str]:
    return [h.strip() for h in str(settings.get("host") or "").split(",") if h.strip()]


def classify(exc: Exception, doing: str, where: str = "") -> ProviderError:
    """One client failure as a ``ProviderError`` whose message says what we were doing."""
    at = f" at {where}" if where else ""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, AuthenticationError):
        return ProviderAuthError(f"Proxmox VE{at} refused the login while trying to {doing}: {exc}")
    if isinstance(exc, requests.exceptions.SSLError):
        return ProviderUnavailable(
            f"TLS verification of Proxmox VE{at} failed while trying to {doing} (set ca_bundle, or "
            f"verify=false for a self-signed certificate you trust): {exc}")
    if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
        return ProviderUnavailable(f"cannot reach Proxmox VE{at} to {doing}: {network_reason(exc)}")
    if isinstance(exc, ResourceException):
        status, text = exc.status_code, str(exc.content or exc.status_message or "").strip()
        if exc.errors:
            text = f"{text} {exc.errors}".strip()
        if status == 401:
            return ProviderAuthError(f"Proxmox VE{at} refused the credentials while trying to {doing} (401): {text}")
        if status == 403:
            found = PERMISSION.search(text)
            path, privilege = (found.group(1).strip(), found.group(2).strip()) if found else ("", "")
            needed = f"privilege {privilege} on {path or '/'}" if privilege else "a privilege PVE did not name"
            return MissingPrivilege(f"missing {needed} to {doing} (403: {text})", path, privilege)
        if status in (595, 596, 597) or status >= 502:
            return ProviderUnavailable(f"Proxmox VE{at} could not {doing} ({status}): {text}")
        return ProviderDataError(f"Proxmox VE{at} refused to {doing} ({status}): {text}")
    if isinstance(exc, (ValueError, KeyError, TypeError)):
        return ProviderDataError(f"Proxmox VE{at} answered something unreadable to {doing}: {exc}")
    return ProviderError(f"Proxmox VE client failed to {doing}: {exc!r}")


class Client:
    """The cluster's API through proxmoxer, failing over between the configured hosts."""

    def __init__(self, settings: Mapping[str, Any], credentials: Mapping[str, Any]):
        self.settings, self.credentials = dict(settings), dict(credentials)
        self.hosts = hosts_of(settings)
        self._api: ProxmoxAPI | None = None
        self._host_index = 0

    @property
    def host(self) -> str:
        return self.hosts[self._host_index] if self.hosts else ""

    def _verify(self) -> bool | str:
        if self.settings.get("ca_bundle"):
            return str(self.settings["ca_bundle"])
        return bool(self.settings.get("verify", True))

    def _connect(self, host: str) -> ProxmoxAPI:
        options: dict[str, Any] = {
            "port": int(self.settings.get("port") or 8006),
            "verify_ssl": self._verify(),
            "timeout": int(self.settings.get("timeout") or 15),
        }
        if self.credentials.get("token_id"):
            user, token_name = split_token(self.credentials["token_id"])
            options.update(user=user, token_name=token_name, token_value=self.credentials.get("token_secret", ""))
        else:
            options.update(user=self.credentials.get("username", ""), password=self.credentials.get("password", ""))
        return ProxmoxAPI(host, backend="https", service="PVE", **options)

    def call(self, doing: str, request: Callable[[ProxmoxAPI], T]) -> T:
        """Run ``request`` against the current host; on an unreachable host try the next ones once."""
        if not self.hosts:
            raise ProviderDataError("no Proxmox VE host configured")
        failures: list[str] = []
        for _ in range(len(self.hosts)):
            host = self.host
            try:
                if self._api is None:
                    self._api = self._connect(host)
                return request(self._api)
            except Exception as exc:  # noqa: BLE001 - every failure is classified below
                error = classify(exc, doing, host)
                if not isinstance(error, ProviderUnavailable) or isinstance(exc, ResourceException):
                    raise error from exc
                failures.append(str(error))
                self._api = None
                self._host_index = (self._host_index + 1) % len(self.hosts)
        raise ProviderUnavailable("; ".join(failures))

    def get(self, doing: str, path: str, **params) -> Any:
        return self.call(doing, lambda api: api(path).get(**params))

    def post(self, doing: str, path: str, **data) -> Any:
        return self.call(doing, lambda api: api(path).post(**data))

    def put(self, doing: str, path: str, **data) -> Any:
        return self.call(doing, lambda api: api(path).put(**data))

    def delete(self, doing: str, path: str, **params) -> Any:
        return self.call(doing, lambda api: api(path).delete(**params))

    def wait(self, upid: Any, doing: str, timeout: float) -> dict:
        """Follow a task (its UPID) to the end; raise ``TaskFailed`` unless it ended OK, ``TaskTimeout``
        when it runs longer than ``timeout`` seconds."""
        if not isinstance(upid, str):
            raise ProviderDataError(f"Proxmox VE answered {upid!r} instead of a task id to {doing}")
        try:
            node = Tasks.decode_upid(upid)["node"]
        except (AssertionError, ValueError) as exc:
            raise ProviderDataError(f"Proxmox VE answered a malformed task id {upid!r} to {doing}") from exc
        deadline = time.monotonic() + timeout
        pause = 0.05
        while True:
            status = self.get(f"follow the task to {doing}", f"nodes/{node}/tasks/{upid}/status")
            if not isinstance(status, Mapping):
                raise ProviderDataError(f"task status of {upid} is not an object: {status!r:.80}")
            if status.get("status") == "stopped":
                exitstatus = str(status.get("exitstatus") or "")
                if exitstatus != "OK":
                    raise TaskFailed(f"cannot {doing}: the task ended with {exitstatus!r}", exitstatus)
                return dict(status)
            if time.monotonic() >= deadline:
                raise TaskTimeout(f"cannot {doing}: task {upid} still running after {timeout:g} s")
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 2.0)

    def close(self) -> None:
        if self._api is not None:
            session = self._api._store.get("session")
            if session is not None:
                session.close()
        self._api = None
