"""How fast can 5,000 servers be read? ``OpenStackDriver.inventory()`` vs bare openstacksdk paging.

Run: ``.venv/bin/python bench/openstack_floor.py [N]``. Starts the simulator in a thread seeded with
N generated servers (default 5,000) and prints both timings. ``sdk_floor`` is the floor: the SDK's
own ``compute.servers(details=True, all_projects=True)`` generator, nothing else.
"""

from __future__ import annotations

import sys
import time

import openstack.connection

from devsim.openstack import seed
from devsim.openstack.server import start_in_thread
from devsim.openstack.state import CloudState
from providers.openstack.driver import OpenStackDriver


def sdk_floor(auth_url: str, page_size: int = 1000) -> int:
    """Page every server of every project with bare openstacksdk; return how many."""
    conn = openstack.connection.Connection(auth_url=auth_url, username="admin", password="admin",
                                           project_name="admin", user_domain_name="Default",
                                           project_domain_name="Default")
    try:
        return sum(1 for _ in conn.compute.servers(details=True, all_projects=True, limit=page_size))
    finally:
        conn.close()


def driver_inventory(auth_url: str, page_size: int = 1000) -> int:
    with OpenStackDriver({"auth_url": auth_url, "page_size": page_size},
                         {"username": "admin", "password": "admin", "project_name": "admin"}) as driver:
        return sum(1 for r in driver.inventory().resources if r.kind == "vm")


def main(count: int = 5000) -> None:
    state = CloudState()
    started = time.perf_counter()
    seed.generate(state, count)
    print(f"seeded {count} servers in {time.perf_counter() - started:.2f}s")
    server, auth_url = start_in_thread(state=state)
    try:
        for name, run in (("bare openstacksdk", sdk_floor), ("OpenStackDriver.inventory()", driver_inventory)):
            started = time.perf_counter()
            seen = run(auth_url)
            print(f"{name:30s} {seen} servers in {time.perf_counter() - started:.2f}s")
    finally:
        server.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
