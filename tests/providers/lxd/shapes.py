"""Recorded LXD API documents (LXD 5.0 REST API reference shapes, values from Debian's lxd 5.0.2).

``container()`` is ``GET /1.0/instances?recursion=2`` for one container as LXD 5.0.2 answered it
here (volatile keys trimmed); ``VM_STATE`` follows the instance state example of the REST API
reference (``GET /1.0/instances/{name}/state``) with an ``eth0`` NIC; ``PROJECT_STATE`` is
``GET /1.0/projects/{name}/state``; ``LIFECYCLE_*`` are messages of
``GET /1.0/events?type=lifecycle&all-projects=true`` as the daemon sent them.
"""

from __future__ import annotations

import copy

SERVER = {
    "api_version": "1.0",
    "auth": "trusted",
    "environment": {
        "certificate_fingerprint": "807b7390db45ab52bcade1462ff563711f8c62c047e07633361961e7f9aaea9c",
        "driver": "lxc",
        "driver_version": "5.0.2",
        "kernel_version": "6.1.0-27-amd64",
        "os_name": "Debian GNU/Linux",
        "os_version": "12",
        "project": "default",
        "server": "lxd",
        "server_clustered": False,
        "server_name": "lxdhost",
        "server_version": "5.0.2",
        "storage": "dir",
    },
}

RESOURCES = {"cpu": {"total": 2}, "memory": {"total": 25769803776, "used": 1073741824}}

CONTAINER = {
    "architecture": "x86_64",
    "config": {"limits.cpu": "1", "limits.memory": "64MiB", "user.glasspane.project": "web",
               "volatile.uuid": "958e1c13-a10f-43e2-85a2-5191465b91e5"},
    "created_at": "2026-11-30T07:38:12.3344582Z",
    "description": "",
    "devices": {"root": {"path": "/", "pool": "default", "size": "1GiB", "type": "disk"}},
    "ephemeral": False,
    "expanded_config": {
        "image.description": "busybox-static rootfs built locally for Glasspane",
        "image.os": "busybox",
        "image.release": "v1.35.0",
        "limits.cpu": "1",
        "limits.memory": "64MiB",
        "user.glasspane.project": "web",
        "user.team": "blue",
        "volatile.base_image": "52e1153b6893f4a0b838775c7ef28b42bc08f60c908b30ee9f7df8292a389cd9",
        "volatile.last_state.power": "RUNNING",
        "volatile.uuid": "958e1c13-a10f-43e2-85a2-5191465b91e5",
    },
    "expanded_devices": {"root": {"path": "/", "pool": "default", "size": "1GiB", "type": "disk"}},
    "last_used_at": "2026-11-30T07:38:12.727024285Z",
    "location": "none",
    "name": "a1",
    "profiles": ["default"],
    "project": "team-a",
    "snapshots": None,
    "state": {
        "cpu": {"usage": 9891853},
        "disk": {},
        "memory": {"swap_usage": 0, "swap_usage_peak": 0, "usage": 647168, "usage_peak": 1130496},
        "network": {
            "lo": {"addresses": [], "counters": {"bytes_received": 0, "bytes_sent": 0, "packets_received": 0,
                                                 "packets_sent": 0},
                   "host_name": "", "hwaddr": "", "mtu": 65536, "state": "down", "type": "loopback"},
        },
        "pid": 20349,
        "processes": 2,
        "status": "Running",
        "status_code": 103,
    },
    "stateful": False,
    "status": "Running",
    "status_code": 103,
    "type": "container",
}

STOPPED_STATE = {"cpu": {"usage": 0}, "disk": {}, "memory": {"swap_usage": 0, "swap_usage_peak": 0, "usage": 0,
                                                           "usage_peak": 0},
                 "network": None, "pid": 0, "processes": 0, "status": "Stopped", "status_code": 102}

VM_STATE = {
    "cpu": {"usage": 4986019722},
    "disk": {"root": {"usage": 15700000}},
    "memory": {"swap_usage": 0, "swap_usage_peak": 0, "usage": 73248768, "usage_peak": 73785344,
               "total": 1073741824},
    "network": {
        "eth0": {"addresses": [{"address": "10.0.3.27", "family": "inet", "netmask": "24", "scope": "global"}],
                 "counters": {"bytes_received": 10000, "bytes_sent": 2000, "packets_received": 100,
                              "packets_sent": 20},
                 "host_name": "vethbbcd39c7", "hwaddr": "00:16:3e:26:3e:c0", "mtu": 1500, "state": "up",
                 "type": "broadcast"},
        "lo": {"addresses": [], "counters": {"bytes_received": 500, "bytes_sent": 500},
               "host_name": "", "hwaddr": "", "mtu": 65536, "state": "up", "type": "loopback"},
    },
    "pid": 7281,
    "processes": 11,
    "status": "Running",
    "status_code": 103,
}

PROJECT = {"name": "team-a", "description": "", "config": {
    "features.images": "false", "features.profiles": "false", "limits.cpu": "2", "limits.disk": "2GiB",
    "limits.instances": "3", "limits.memory": "256MiB"}}

PROJECT_STATE = {"resources": {
    "containers": {"Limit": -1, "Usage": 1}, "cpu": {"Limit": 2, "Usage": 1},
    "disk": {"Limit": 2147483648, "Usage": 1073741824}, "instances": {"Limit": 3, "Usage": 1},
    "memory": {"Limit": 268435456, "Usage": 67108864}, "networks": {"Limit": -1, "Usage": 0},
    "processes": {"Limit": -1, "Usage": 0}, "virtual-machines": {"Limit": -1, "Usage": 0}}}

LIFECYCLE_SHUTDOWN = {"location": "none", "metadata": {
    "action": "instance-shutdown", "requestor": {"address": "@", "protocol": "unix", "username": "root"},
    "source": "/1.0/instances/a1?project=team-a"}, "project": "team-a",
    "timestamp": "2026-11-30T07:38:29.741052651Z", "type": "lifecycle"}
LIFECYCLE_STARTED = {"location": "none", "metadata": {
    "action": "instance-started", "requestor": {"address": "@", "protocol": "unix", "username": "root"},
    "source": "/1.0/instances/a1?project=team-a"}, "project": "team-a",
    "timestamp": "2026-11-30T07:38:30.041310062Z", "type": "lifecycle"}
LIFECYCLE_CREATED_DEFAULT = {"location": "none", "metadata": {
    "action": "instance-created", "context": {"storage-pool": "default", "type": "container"},
    "source": "/1.0/instances/e1"}, "project": "default", "timestamp": "2026-11-30T07:38:20.419681513Z",
    "type": "lifecycle"}


def container(**changes):
    """A deep copy of ``CONTAINER`` with top-level keys replaced and ``config`` keys merged."""
    document = copy.deepcopy(CONTAINER)
    config = changes.pop("config", None)
    devices = changes.pop("devices", None)
    document.update(changes)
    if config is not None:
        document["expanded_config"].update(config)
        document["expanded_config"] = {k: v for k, v in document["expanded_config"].items() if v is not None}
    if devices is not None:
        document["expanded_devices"] = devices
    return document
