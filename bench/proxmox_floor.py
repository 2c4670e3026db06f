"""How fast can a Proxmox VE cluster's inventory be read? The floor of the driver's own API calls.

``bare_calls`` makes exactly the requests a refresh makes (``/cluster/resources``,
``/access/permissions``, ``/pools``, one ``config`` per guest, one storage ``content`` per storage
holding guest images, one ``rrddata`` per running guest) with plain ``requests`` over one logged-in
session, the per-guest ones ``workers`` at a time as the driver does, and decodes the JSON: no
proxmoxer, no mapping, no dataclasses. With the bulk insert of
the same rows (``bench.refresh.bulk_insert_floor``) it is the floor the refresh line is held to.

Run alone: ``.venv/bin/python -m bench.proxmox_floor [N]`` (N generated guests, default 300).
"""

from __future__ import annotations

import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from devsim import proxmox


def bare_calls(cluster, password: str = "secret", workers: int = 4) -> dict:
    """The refresh's requests, bare; returns counts and seconds."""
    base = f"https://127.0.0.1:{cluster.port}/api2/json"
    started = time.perf_counter()
    with requests.Session() as session:
        verify = cluster.cafile  # per request: a session's own verify loses to REQUESTS_CA_BUNDLE
        login = session.post(f"{base}/access/ticket", data={"username": "root@pam", "password": password},
                             verify=verify).json()
        session.cookies.set("PVEAuthCookie", login["data"]["ticket"])

        def get(path, **params):
            response = session.get(f"{base}/{path}", params=params, verify=verify)
            response.raise_for_status()
            return response.json()["data"]

        records = get("cluster/resources")
        get("access/permissions")
        get("pools")
        guests = [r for r in records if r.get("type") in ("qemu", "lxc") and not r.get("template")]
        pool = ThreadPoolExecutor(max_workers=workers)
        list(pool.map(lambda r: get(f"nodes/{r['node']}/{r['type']}/{r['vmid']}/config"), guests))
        shared = set()
        for s in (r for r in records if r.get("type") == "storage"):
            if not {"images", "rootdir"} & set(str(s.get("content", "")).split(",")):
                continue
            if s.get("shared"):
                if s["storage"] in shared:
                    continue
                shared.add(s["storage"])
            get(f"nodes/{s['node']}/storage/{s['storage']}/content")
        running = [r for r in guests if r.get("status") == "running"]
        list(pool.map(lambda r: get(f"nodes/{r['node']}/{r['type']}/{r['vmid']}/rrddata", timeframe="hour",
                                    cf="AVERAGE"), running))
        pool.shutdown()
    return {"guests": len(guests), "running": len(running), "seconds": time.perf_counter() - started}


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    cluster = proxmox.start(tempfile.mkdtemp(), seed=proxmox.generated(count))
    try:
        print(bare_calls(cluster))
    finally:
        cluster.stop()
