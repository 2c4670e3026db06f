"""The driver's wire helpers: building the openstacksdk connection, JSON calls and marker paging.

The driver talks through openstacksdk's service adapters (``conn.compute``, ``conn.block_storage``,
``conn.identity``), which carry the token, the catalog, microversion headers and keystoneauth's
one-shot re-authentication on 401, and reads the JSON itself: the records stay exactly as the API
reference defines them, and a malformed one can be reported on its own.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

import openstack.connection
import requests
from keystoneauth1 import discover
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1.adapter import Adapter
from openstack import exceptions as os_exc

from providers.base import ProviderDataError, ProviderUnavailable, network_reason
from providers.heap import gc_paused
from providers.openstack.errors import translated

#: seconds any one request to the cloud may take (the ``timeout`` setting overrides it)
TIMEOUT = 30


def check_discovery(auth_url: str, verify: bool | str, timeout: float) -> requests.Response:
    """Ask Keystone's version document, which needs no credentials, before keystoneauth does.

    keystoneauth answers a 401 to its own discovery by re-authenticating under the lock it already
    holds, and waits on itself for ever; an endpoint that demands credentials for discovery is not
    Keystone (a proxy, a wrong path), so it is refused here, at once, in words. The answer is
    returned for ``remember_discovery``.
    """
    try:
        response = requests.get(auth_url, timeout=timeout, verify=verify, allow_redirects=True,
                                headers={"Accept": "application/json", "User-Agent": "glasspane"})
    except requests.Timeout:
        raise ProviderUnavailable(f"Keystone at {auth_url} did not answer version discovery within {timeout:g}s") \
            from None
    except requests.RequestException as exc:
        raise ProviderUnavailable(f"cannot reach Keystone at {auth_url}: {network_reason(exc)}") from exc
    if response.status_code in (401, 403):
        raise ProviderDataError(
            f"{auth_url} answered {response.status_code} to version discovery, which needs no credentials: "
            f"auth_url must be Keystone's own URL (e.g. https://keystone.example.org:5000/v3), not a "
            f"proxy or page that demands a login")
    if response.status_code >= 500:
        raise ProviderUnavailable(f"Keystone at {auth_url} failed version discovery ({response.status_code})")
    return response


class _Answered:
    """Stands in for a keystoneauth session that has already fetched one URL: hands back that
    answer, so keystoneauth's own ``Discover`` reads a version document we received."""

    def __init__(self, response: requests.Response):
        self.response = response

    def get(self, url: str, **kwargs) -> requests.Response:
        return self.response


def remember_discovery(conn, auth_url: str, response: requests.Response) -> None:
    """Give the connection's keystoneauth session the version document ``check_discovery`` read.

    keystoneauth would ask ``auth_url`` for it again to choose the identity version: one request
    per connection, the same answer. Only an answer keystoneauth itself would accept is handed
    over (below 400, a readable version document); any other leaves keystoneauth to ask, and fail,
    as it always did. Where the session keeps no such cache (another keystoneauth), nothing changes.
    """
    if not response.ok:
        return
    try:
        known = discover.Discover(_Answered(response), auth_url, authenticated=False)
    except (ks_exc.DiscoveryFailure, ValueError):
        return
    cache = getattr(conn.session, "_discovery_cache", None)  # keystoneauth's Session(discovery_cache=...)
    if isinstance(cache, dict):
        cache.setdefault(auth_url, known)


def connect(settings: Mapping[str, Any], credentials: Mapping[str, Any],
            project_id: str | None = None) -> openstack.connection.Connection:
    """A Connection from cleaned settings and credentials (no clouds.yaml, no OS_* variables).

    ``project_id`` scopes a password account to another project (provisioning there). Every
    request has a timeout (``timeout`` setting, default ``TIMEOUT`` seconds), discovery included.
    """
    verify: bool | str = bool(settings.get("verify", True))
    if verify and settings.get("ca_bundle"):
        verify = settings["ca_bundle"]
    timeout = float(settings.get("timeout") or TIMEOUT)
    answer = check_discovery(settings["auth_url"], verify, timeout)
    options: dict[str, Any] = {
        "auth_url": settings["auth_url"],
        "interface": settings.get("interface") or "public",
        "verify": verify,
        "app_name": "glasspane",
        "api_timeout": timeout,
        "timeout": timeout,
    }
    if settings.get("region"):
        options["region_name"] = settings["region"]
    if credentials.get("application_credential_id"):
        options.update(
            auth_type="v3applicationcredential",
            application_credential_id=credentials["application_credential_id"],
            application_credential_secret=credentials.get("application_credential_secret", ""),
        )
    else:
        options.update(
            auth_type="password",
            username=credentials.get("username"),
            password=credentials.get("password"),
            user_domain_name=credentials.get("user_domain") or "Default",
        )
        if project_id:
            options["project_id"] = project_id
        else:
            options.update(project_name=credentials.get("project_name"),
                           project_domain_name=credentials.get("project_domain") or "Default")
    with translated("set up the OpenStack connection"):
        conn = openstack.connection.Connection(**options)
        remember_discovery(conn, settings["auth_url"], answer)
    return conn


def service(conn, name: str):
    """``conn.<name>`` (compute, block_storage, identity): creating the proxy may authenticate and
    discover versions, so it fails like any other call."""
    with translated(f"reach the {name.replace('_', ' ')} service"):
        return getattr(conn, name)


def response_time(response) -> datetime | None:
    """The cloud's clock from the HTTP ``Date`` header, if it sent a readable one."""
    raw = response.headers.get("Date") if response is not None else None
    if not raw:
        return None
    try:
        return parsedate_to_datetime(raw).astimezone(UTC)
    except (TypeError, ValueError):
        return None


#: each service adapter's endpoint from the catalog, looked up once (see ``endpoint_url``)
_endpoints: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def endpoint_url(adapter, path: str) -> str:
    """``path`` on the adapter's catalog endpoint, joined as keystoneauth joins it.

    keystoneauth looks the endpoint up in the service catalog on every relative request (a walk of
    the catalog and a deep copy of its entry); a refresh makes dozens of requests to the same three
    services, so the adapter's endpoint is asked once and the request made to the full URL, which
    keystoneauth sends as given, with the same token, headers and re-authentication.
    """
    if getattr(adapter, "endpoint_override", None):
        return path  # keystoneauth fills in its %(project_id)s itself, and walks no catalog for it
    base = _endpoints.get(adapter)
    if base is None:
        base = Adapter.get_endpoint(adapter)  # the identity proxy's own get_endpoint reads Keystone's endpoints
        if not base:
            raise ks_exc.EndpointNotFound()  # what keystoneauth raises for a relative request
        _endpoints[adapter] = base
    return f"{base.rstrip('/')}/{path.lstrip('/')}"


def call(adapter, method: str, path: str, doing: str, role: str | None = None,
         microversion: str | None = None, params: Mapping[str, Any] | None = None,
         json: Any = None, expect_body: bool = True):
    """One request through an SDK adapter: ``(body, response)``; errors become ``ProviderError``."""
    with translated(doing, role):
        response = adapter.request(endpoint_url(adapter, path), method, params=dict(params or {}), json=json,
                                   microversion=microversion, raise_exc=False)
        os_exc.raise_from_response(response)
    if not expect_body:
        return None, response
    try:
        with gc_paused():  # a page of JSON has no cycles: nothing for the collector to find in it
            body = response.json()
    except ValueError:
        raise ProviderDataError(f"OpenStack answered {doing} with something that is not JSON") from None
    if not isinstance(body, dict):
        raise ProviderDataError(f"OpenStack answered {doing} with a JSON {type(body).__name__}, not an object")
    return body, response


def pages(adapter, path: str, key: str, doing: str, *, role: str | None = None,
          microversion: str | None = None, params: Mapping[str, Any] | None = None,
          page_size: int = 1000, links_key: str | None = None) -> Iterator[tuple[list, Any]]:
    """Every page of a Nova/Cinder collection: ``(records, response)`` per page.

    Follows the ``rel: next`` link in ``<key>_links`` (taking only its marker, so a proxy rewriting
    host names cannot mislead it); a full page without a link continues from the last id.
    Any failing page raises, so a caller never sees half a collection as if it were all.
    """
    query = dict(params or {})
    query["limit"] = page_size
    links_key = links_key or f"{key}_links"
    seen: set[str] = set()
    while True:
        body, response = call(adapter, "GET", path, doing, role, microversion, query)
        records = body.get(key)
        if not isinstance(records, list):
            raise ProviderDataError(f"OpenStack answered {doing} without a {key!r} list")
        yield records, response
        if not records:
            return
        marker = None
        for link in body.get(links_key) or []:
            if isinstance(link, Mapping) and link.get("rel") == "next" and link.get("href"):
                marker = (parse_qs(urlparse(str(link["href"])).query).get("marker") or [None])[0]
                break
        if marker is None and len(records) >= page_size and isinstance(records[-1], Mapping):
            marker = records[-1].get("id")
        if marker is None:
            return
        marker = str(marker)
        if marker in seen:
            raise ProviderDataError(f"OpenStack paging loops while trying to {doing} (marker {marker} again)")
        seen.add(marker)
        query["marker"] = marker


def version_string(version: tuple[int, int]) -> str:
    return ".".join(map(str, version))


def max_microversion(adapter, doing: str) -> tuple[int, int] | None:
    """The highest microversion the endpoint advertises (``None``: no microversions)."""
    with translated(doing):
        data = adapter.get_endpoint_data()
    if data is None or not data.max_microversion:
        return None
    major, minor = data.max_microversion[:2]
    return int(major), int(minor)
