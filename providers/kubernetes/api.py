"""The driver's wire helpers: building the official client, JSON calls, paging, and errors.

Lists are read with the client's own API functions and ``_preload_content=False``, then parsed as
plain JSON: the objects stay exactly as the API reference defines them, a malformed one can be
skipped on its own, and 2,000 pods do not go through the client's model classes (which costs ten
times the request itself). Decoding runs with the cyclic garbage collector paused
(``providers.heap.gc_paused``), and ``list_all`` can read a page as it arrives (``keep``) so a large list
never stays alive as raw JSON. Every failure becomes a ``providers.base`` error naming what was being
done: 401 -> ``ProviderAuthError``; 403 -> ``Forbidden`` (a ``ProviderAuthError`` saying "cannot
list virtualmachines.kubevirt.io: forbidden"); 5xx or no connection -> ``ProviderUnavailable``;
anything else -> ``ProviderDataError``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import urllib3
import yaml
from kubernetes import client
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.kube_config import load_kube_config_from_dict

from providers.base import (
    ProviderAuthError,
    ProviderDataError,
    ProviderError,
    ProviderUnavailable,
    network_reason,
)
from providers.heap import gc_paused

TIMEOUT = (10, 60)  # connect, read seconds for every call but watches


class Forbidden(ProviderAuthError):
    """RBAC refused one verb on one resource; the rest of the inventory can still be read."""


class QuotaRefused(ProviderError):
    """The namespace's own ResourceQuota refused a create (``exceeded quota``)."""


class Expired(ProviderDataError):
    """410 Gone: a ``continue`` token or a watch's resourceVersion is older than the server keeps."""


def configuration(settings: Mapping[str, Any], credentials: Mapping[str, Any]) -> client.Configuration:
    """A client ``Configuration`` from cleaned settings and credentials (no ~/.kube, no env)."""
    config = client.Configuration()
    kubeconfig = credentials.get("kubeconfig")
    if kubeconfig:
        try:
            data = yaml.safe_load(kubeconfig)
            load_kube_config_from_dict(data, context=settings.get("context") or None, client_configuration=config,
                                       persist_config=False)
        except (yaml.YAMLError, ConfigException, TypeError, AttributeError, KeyError) as exc:
            raise ProviderAuthError(f"the kubeconfig credential cannot be used: {exc}") from None
        if settings.get("server"):
            config.host = settings["server"].rstrip("/")
    else:
        config.host = settings["server"].rstrip("/")
        config.api_key = {"authorization": f"Bearer {credentials.get('token', '')}"}
    if not settings.get("verify", True):
        config.verify_ssl = False
    if settings.get("ca_bundle"):
        config.ssl_ca_cert = settings["ca_bundle"]
    config.retries = False  # a refresh that fails is retried by Celery, not hidden here
    return config


def _status_message(exc: client.ApiException) -> tuple[str, str]:
    """(reason, message) from the ``Status`` body the API server sends with an error."""
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        body = None
    if isinstance(body, dict) and body.get("kind") == "Status":
        return str(body.get("reason") or exc.reason or ""), str(body.get("message") or "")
    return str(exc.reason or ""), str(exc.body or "")[:200]


def classify(exc: client.ApiException, doing: str) -> ProviderError:
    reason, message = _status_message(exc)
    status = exc.status
    if status == 401:
        return ProviderAuthError(f"Kubernetes refused the credentials (401 Unauthorized) while trying to {doing}")
    if status == 403 and ("exceeded quota" in message or "failed quota" in message):
        return QuotaRefused(f"cannot {doing}: {message}")
    if status == 403:
        return Forbidden(f"cannot {doing}: forbidden ({message})" if message else f"cannot {doing}: forbidden")
    if status == 410:
        return Expired(f"cannot {doing}: {message or 'resource version expired'} (410 Gone)")
    if status in (0, None, 429) or status >= 500:
        return ProviderUnavailable(f"Kubernetes failed while trying to {doing} ({status} {reason}): {message}")
    return ProviderDataError(f"Kubernetes refused to {doing} ({status} {reason}): {message}")


@contextmanager
def translated(doing: str) -> Iterator[None]:
    try:
        yield
    except client.ApiException as exc:
        raise classify(exc, doing) from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise ProviderUnavailable(f"cannot reach the Kubernetes API server to {doing}: {network_reason(exc)}") from exc


def decode(data: bytes, doing: str) -> dict:
    """A JSON object body (decode a large one inside ``gc_paused``)."""
    try:
        body = json.loads(data)
    except ValueError:
        raise ProviderDataError(f"the API server answered {doing} with something that is not JSON") from None
    if not isinstance(body, dict):
        raise ProviderDataError(f"the API server answered {doing} with a JSON {type(body).__name__}, not an object")
    return body


def fetch(function: Callable, doing: str, *args, **kwargs) -> tuple[bytes, Any]:
    """One client API function with ``_preload_content=False``: ``(raw body, response)``."""
    with translated(doing):
        response = function(*args, _preload_content=False, _request_timeout=TIMEOUT, **kwargs)
    return response.data, response  # the body off the wire: waiting, so the collector may run


def call(function: Callable, doing: str, *args, **kwargs) -> tuple[dict, Any]:
    """One client API function with ``_preload_content=False``: ``(JSON body, response)``."""
    data, response = fetch(function, doing, *args, **kwargs)
    with gc_paused():
        return decode(data, doing), response


def response_time(response) -> datetime | None:
    """The API server's clock from the HTTP ``Date`` header."""
    raw = response.headers.get("Date") if response is not None else None
    if not raw:
        return None
    try:
        return parsedate_to_datetime(raw).astimezone(UTC)
    except (TypeError, ValueError):
        return None


def list_all(function: Callable, doing: str, *args, page_size: int = 500, keep: Callable[[list], list] | None = None,
             **kwargs) -> tuple[list, str, Any]:
    """Every item of a list, paged with ``limit``/``continue``: ``(items, resourceVersion, first response)``.

    ``keep``, if given, turns each page's items into what is kept of them (without side effects: a
    restarted list keeps its pages again), so a large list need not stay alive as raw JSON.
    A ``continue`` token that expired between pages (410) restarts the list once from the top, as
    the API reference advises; a second expiry raises ``Expired``.
    """
    for attempt in (1, 2):
        items: list = []
        token = None
        first = None
        version = ""
        try:
            while True:
                data, response = fetch(function, doing, *args, limit=page_size, _continue=token, **kwargs)
                first = first or response
                # decoded and kept in one pause: a raw page let go inside it is never scanned at all
                with gc_paused():
                    body = decode(data, doing)
                    page = body.get("items")
                    if not isinstance(page, list):
                        raise ProviderDataError(f"the API server answered {doing} without an items list")
                    meta = body.get("metadata") or {}
                    version = version or str(meta.get("resourceVersion") or "")
                    token = meta.get("continue")
                    items.extend(page if keep is None else keep(page))
                    del data, body, page
                if not token:
                    return items, version, first
        except Expired:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")
