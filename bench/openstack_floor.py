"""The OpenStack refresh floor: the same requests the driver makes in a first refresh, made bare.

One keystoneauth session authenticates (the token and the catalog, nothing more); then plain
``requests`` over that session's connection pool, with its token, page the very endpoints and
parameters the driver pages, following each collection's ``next`` link the way it does, and decode
the JSON: Keystone projects, hypervisors, every server of every project, the servers changed since
the lookback start (the first refresh also asks for what was deleted), volumes, and per project the
compute limits, both quota sets and the month's tenant usage. No SDK objects and no mapping: the
tightest honest cost of reading the same data. ``bench/refresh.py`` adds one bulk insert of the same
rows and checks the floor made at least as many requests as the driver.

Run: ``.venv/bin/python -m bench.openstack_floor [N]`` prints the floor beside the driver's
``inventory()`` for N generated servers (default 5,000) on the simulator.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from providers.openstack.driver import (
    HYPERVISOR_MICROVERSION,
    SERVER_MICROVERSION,
    USAGE_MICROVERSION,
    OpenStackDriver,
)


def _mv(version: tuple[int, int]) -> dict:
    return {"OpenStack-API-Version": f"compute {version[0]}.{version[1]}",
            "X-OpenStack-Nova-API-Version": f"{version[0]}.{version[1]}"}


def raw_floor(auth_url: str, since: datetime, month: datetime, page_size: int = 1000) -> dict:
    """Read what a first refresh reads; ``{"requests": n, "servers": n, "seconds": s}``."""
    started = time.perf_counter()
    auth = v3.Password(auth_url=auth_url, username="admin", password="admin", project_name="admin",
                       user_domain_name="Default", project_domain_name="Default")
    ks = ks_session.Session(auth=auth)
    http = ks.session  # keystoneauth's own requests.Session: the same connection pool
    token = ks.get_token()
    compute = ks.get_endpoint(service_type="compute", interface="public")
    identity = ks.get_endpoint(service_type="identity", interface="public")
    volume = ks.get_endpoint(service_type="block-storage", interface="public")
    base = {"X-Auth-Token": token, "Accept": "application/json"}
    count = {"requests": 1}

    def get(url, params=None, headers=None):
        count["requests"] += 1
        response = http.get(url, params=params, headers={**base, **(headers or {})}, timeout=30)
        response.raise_for_status()
        return response.json()

    def paged(url, key, params, headers=None):
        params = {**params, "limit": page_size}
        while True:
            body = get(url, params, headers)
            yield from body[key]
            marker = None
            for link in body.get(f"{key}_links") or []:
                if link.get("rel") == "next":
                    marker = parse_qs(urlparse(link["href"]).query).get("marker", [None])[0]
            if marker is None and len(body[key]) >= page_size:
                marker = body[key][-1]["id"]
            if marker is None or not body[key]:
                return
            params["marker"] = marker

    projects = get(f"{identity}/projects")["projects"]
    hosts = list(paged(f"{compute}/os-hypervisors/detail", "hypervisors", {}, _mv(HYPERVISOR_MICROVERSION)))
    servers = list(paged(f"{compute}/servers/detail", "servers", {"all_tenants": 1}, _mv(SERVER_MICROVERSION)))
    changed = list(paged(f"{compute}/servers/detail", "servers",
                         {"all_tenants": 1, "changes-since": since.astimezone(UTC).isoformat()},
                         _mv(SERVER_MICROVERSION)))
    volumes = list(paged(f"{volume}/volumes/detail", "volumes", {"all_tenants": 1}))
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    for project in projects:
        pid = project["id"]
        get(f"{compute}/limits", {"tenant_id": pid}, _mv(SERVER_MICROVERSION))
        get(f"{compute}/os-quota-sets/{pid}", None, _mv(SERVER_MICROVERSION))
        get(f"{volume}/os-quota-sets/{pid}", {"usage": "true"})
    for project in projects:  # one object per page; its server_usages are what is paged
        params = {"start": month.strftime("%Y-%m-%dT%H:%M:%S.%f"), "end": now, "limit": page_size}
        while True:
            body = get(f"{compute}/os-simple-tenant-usage/{project['id']}", params, _mv(USAGE_MICROVERSION))
            marker = next((parse_qs(urlparse(link["href"]).query).get("marker", [None])[0]
                           for link in body.get("tenant_usage_links") or [] if link.get("rel") == "next"), None)
            if not marker or not body["tenant_usage"].get("server_usages"):
                break
            params["marker"] = marker
    http.close()
    return {"requests": count["requests"], "servers": len(servers), "hosts": len(hosts), "volumes": len(volumes),
            "changed": len(changed), "seconds": time.perf_counter() - started}


def driver_inventory(auth_url: str, since: datetime, page_size: int = 1000) -> int:
    with OpenStackDriver({"auth_url": auth_url, "page_size": page_size},
                         {"username": "admin", "password": "admin", "project_name": "admin"}) as driver:
        return sum(1 for r in driver.inventory(since=since).resources if r.kind == "vm")


def main(count: int = 5000) -> None:
    from devsim.openstack import seed
    from devsim.openstack.server import start_in_thread
    from devsim.openstack.state import CloudState

    state = CloudState()
    seed.demo(state)
    seed.generate(state, count)
    server, auth_url = start_in_thread(state=state)
    now = datetime.now(UTC)
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    try:
        floor = raw_floor(auth_url, month, month)
        print(f"raw requests floor: {floor}")
        started = time.perf_counter()
        seen = driver_inventory(auth_url, month)
        print(f"OpenStackDriver.inventory(): {seen} servers in {time.perf_counter() - started:.2f}s")
    finally:
        server.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
