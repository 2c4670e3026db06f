"""Catalog and content of the real OpenStack test cloud (run by scripts/openstack-real.sh).

    setup_cloud.py catalog   services and public/internal endpoints: compute, placement, image,
                             network (identity comes from ``keystone-manage bootstrap``); no volume
    setup_cloud.py content   flavors m1.tiny/m1.small/m1.medium and a tiny image ``tiny-raw``

Idempotent: what exists is left alone. Runs in the cloud's own virtualenv (keystoneauth1 is there);
reads ``OS_AUTH_URL`` and the ``GP_OS_*_URL`` endpoints from the environment.
"""

from __future__ import annotations

import os
import sys

from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

ENDPOINTS = {  # service type -> (service name, environment variable holding its URL)
    "compute": ("nova", "GP_OS_COMPUTE_URL"),
    "placement": ("placement", "GP_OS_PLACEMENT_URL"),
    "image": ("glance", "GP_OS_IMAGE_URL"),
    "network": ("neutron", "GP_OS_NETWORK_URL"),
}
FLAVORS = [("m1.tiny", "1", 1, 512, 1), ("m1.small", "2", 1, 2048, 20), ("m1.medium", "3", 2, 4096, 40)]


def admin_session() -> ks_session.Session:
    auth = v3.Password(auth_url=os.environ["OS_AUTH_URL"], username="admin", password="admin",
                       project_name="admin", user_domain_id="default", project_domain_id="default")
    return ks_session.Session(auth=auth, timeout=30)


def catalog(sess: ks_session.Session) -> None:
    identity = {"service_type": "identity", "interface": "public"}
    services = sess.get("/services", endpoint_filter=identity).json()["services"]
    endpoints = sess.get("/endpoints", endpoint_filter=identity).json()["endpoints"]
    for kind, (name, variable) in ENDPOINTS.items():
        service = next((s for s in services if s["type"] == kind), None)
        if service is None:
            service = sess.post("/services", endpoint_filter=identity,
                                json={"service": {"type": kind, "name": name, "enabled": True}}).json()["service"]
        for interface in ("public", "internal"):
            if any(e["service_id"] == service["id"] and e["interface"] == interface for e in endpoints):
                continue
            sess.post("/endpoints", endpoint_filter=identity,
                      json={"endpoint": {"service_id": service["id"], "interface": interface,
                                         "region_id": "RegionOne", "url": os.environ[variable]}})


def content(sess: ks_session.Session) -> None:
    compute = {"service_type": "compute", "interface": "public"}
    existing = {f["name"] for f in sess.get("/flavors", endpoint_filter=compute).json()["flavors"]}
    for name, flavor_id, vcpus, ram, disk in FLAVORS:
        if name not in existing:
            sess.post("/flavors", endpoint_filter=compute,
                      json={"flavor": {"name": name, "id": flavor_id, "vcpus": vcpus, "ram": ram, "disk": disk}})
    image = {"service_type": "image", "interface": "public"}
    images = sess.get("/v2/images", endpoint_filter=image, params={"name": "tiny-raw"}).json()["images"]
    if images and images[0]["status"] == "active":
        return
    for stale in images:
        sess.delete(f"/v2/images/{stale['id']}", endpoint_filter=image)
    created = sess.post("/v2/images", endpoint_filter=image,
                        json={"name": "tiny-raw", "disk_format": "raw", "container_format": "bare",
                              "visibility": "public"}).json()
    sess.put(f"/v2/images/{created['id']}/file", endpoint_filter=image, data=b"\0" * 1024,
             headers={"Content-Type": "application/octet-stream"})


if __name__ == "__main__":
    {"catalog": catalog, "content": content}[sys.argv[1]](admin_session())
