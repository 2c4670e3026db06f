"""Seed data for the simulator: the base identities, the ``demo`` cloud and a generator of N servers.

``base`` gives every seed the same identities: user ``admin`` / password ``admin`` with the admin
role on project ``admin`` (and on every project a seed creates, so the admin account can provision
into them), user ``member`` / password ``member`` holding only the member role on ``webshop``, and an
application credential for admin (``DEMO_APP_CREDENTIAL``). All in domain ``Default``.
Ids are derived from names, so a restarted demo keeps them.
"""

from __future__ import annotations

from datetime import timedelta

from devsim.openstack.state import AppCredential, CloudState, Project, stable_id

ADMIN_USER, ADMIN_PASSWORD, ADMIN_PROJECT = "admin", "admin", "admin"
MEMBER_USER, MEMBER_PASSWORD = "member", "member"
DEMO_APP_CREDENTIAL = {"id": "glasspane-demo-appcred", "secret": "glasspane-demo-secret"}
ADMIN_ROLES = {"admin", "member", "reader"}
#: the one public image and the one shared network every seed has (``base``)
IMAGE = "cirros-0.6.2-x86_64-disk"
NETWORK = "shared-net"

FLAVORS = [
    # name, vcpus, ram MiB, root GiB, ephemeral GiB
    ("m1.tiny", 1, 512, 1, 0),
    ("m1.small", 1, 2048, 20, 0),
    ("m1.medium", 2, 4096, 40, 0),
    ("m1.large", 4, 8192, 80, 0),
    ("m1.xlarge", 8, 16384, 160, 0),
    ("c1.large.eph", 4, 8192, 40, 20),
]


def base(state: CloudState) -> None:
    """Identities, flavors, one public image, one shared network and three hypervisors; no servers."""
    admin_project = state.project_named(ADMIN_PROJECT) or state.add_project(ADMIN_PROJECT, "Cloud administration")
    admin = state.user_named(ADMIN_USER) or state.add_user(ADMIN_USER, ADMIN_PASSWORD)
    admin.roles[admin_project.id] = set(ADMIN_ROLES)
    if not state.user_named(MEMBER_USER):
        state.add_user(MEMBER_USER, MEMBER_PASSWORD)
    state.app_credentials[DEMO_APP_CREDENTIAL["id"]] = AppCredential(
        id=DEMO_APP_CREDENTIAL["id"], secret=DEMO_APP_CREDENTIAL["secret"], user_id=admin.id,
        project_id=admin_project.id)
    for name, vcpus, ram, disk, ephemeral in FLAVORS:
        if state.find_flavor(name) is None:
            state.add_flavor(name, vcpus, ram, disk, ephemeral)
    if state.image_named(IMAGE) is None:
        state.add_image(IMAGE, owner=admin_project.id)
    if state.network_named(NETWORK) is None:
        state.add_network(NETWORK, admin_project.id, shared=True)
    if not state.hypervisors:
        for index in range(1, 4):
            state.add_hypervisor(f"compute-{index:02d}.example.org", vcpus=64, memory_mb=262144,
                                 local_gb=4000, host_ip=f"192.0.2.{10 + index}")


def add_tenant(state: CloudState, name: str, description: str = "") -> Project:
    """A project the admin user may act in."""
    project = state.project_named(name) or state.add_project(name, description)
    state.user_named(ADMIN_USER).roles[project.id] = set(ADMIN_ROLES)
    return project


def demo(state: CloudState) -> None:
    """Two tenants with a handful of servers of several flavors, two volumes, three hypervisors."""
    base(state)
    now = state.clock.now().replace(microsecond=0)
    webshop = add_tenant(state, "webshop", "The online shop")
    analytics = add_tenant(state, "analytics", "Data analytics")
    state.user_named(MEMBER_USER).roles[webshop.id] = {"member", "reader"}
    flavor = state.find_flavor
    day = timedelta(days=1)
    servers = [
        # name, project, flavor, host, vm_state, launched days ago
        ("web-01", webshop, "m1.small", "compute-01", "active", 30),
        ("web-02", webshop, "m1.small", "compute-02", "active", 30),
        ("db-01", webshop, "m1.large", "compute-03", "active", 60),
        ("worker-01", webshop, "m1.medium", "compute-01", "stopped", 10),
        ("spark-01", analytics, "c1.large.eph", "compute-02", "active", 14),
        ("spark-02", analytics, "c1.large.eph", "compute-03", "active", 14),
        ("spark-03", analytics, "m1.xlarge", "compute-01", "active", 7),
        ("notebook-01", analytics, "m1.medium", "compute-02", "active", 3),
    ]
    created = {}
    for name, project, flavor_name, host, vm_state, days_ago in servers:
        created[name] = state.add_server(
            name, project.id, flavor(flavor_name), host=host, vm_state=vm_state,
            launched_at=now - days_ago * day, server_id=stable_id("server", project.name, name),
            image_id=stable_id("image", "debian-12"))
    state.add_volume("db-data", webshop.id, 100, attached_to=created["db-01"].id,
                     created_at=now - 60 * day, volume_id=stable_id("volume", "webshop", "db-data"))
    state.add_volume("datasets", analytics.id, 500, created_at=now - 14 * day,
                     volume_id=stable_id("volume", "analytics", "datasets"))
    state.compute_quotas[analytics.id] = {"instances": 20, "cores": 64, "ram": 131072}


def generate(state: CloudState, count: int, projects: int = 5, prefix: str = "gen") -> list[Project]:
    """``count`` active servers spread round-robin over ``projects`` new tenants (unlimited quotas).

    Fast enough for 5,000 servers in well under a second. Launch times step back one minute per
    server from the clock's current time.
    """
    base(state)
    tenants = [add_tenant(state, f"{prefix}-{index:02d}") for index in range(1, projects + 1)]
    for tenant in tenants:
        state.compute_quotas[tenant.id] = {"instances": -1, "cores": -1, "ram": -1}
    flavors = list(state.flavors.values())
    hosts = [h.host for h in state.hypervisors.values()]
    now = state.clock.now().replace(microsecond=0)
    for index in range(count):
        tenant = tenants[index % len(tenants)]
        state.add_server(
            f"{prefix}-vm-{index:05d}", tenant.id, flavors[index % len(flavors)],
            host=hosts[index % len(hosts)], launched_at=now - timedelta(minutes=index + 1),
            server_id=stable_id("server", prefix, str(index)))
    return tenants


SEEDS = {"empty": base, "demo": demo}


def apply(state: CloudState, seed: str | None) -> None:
    """Apply a named seed (``empty`` or ``demo``), or ``gen:N`` for N generated servers."""
    if not seed:
        base(state)
    elif seed.startswith("gen:"):
        generate(state, int(seed.split(":", 1)[1]))
    elif seed in SEEDS:
        SEEDS[seed](state)
    else:
        raise ValueError(f"unknown seed {seed!r} (known: {', '.join(sorted(SEEDS))}, gen:N)")
