"""The simulator's in-memory cloud: identities, flavors, hypervisors, servers, volumes, quotas, faults.

One ``CloudState`` is shared by the WSGI app (which serialises requests on ``lock``) and by tests,
which seed it, move its ``clock``, switch ``faults`` on and read ``requests`` to see what a client
did. Operations that both the HTTP layer and seeds need (creating and deleting servers, usage
accounting, quota usage) live here so that the two cannot disagree.

Usage accounting follows Nova's os-simple-tenant-usage: a server counts in a period when it was
launched before the period ends and not terminated before it starts; its hours are the overlap of
[launched_at, terminated_at or period end] with the period, with the period end clipped to "now";
vCPU-, MB- and GB-hours are the server's *current* flavor times those hours (Nova does not split at
a resize; a resize resets ``launched_at``, exactly as Nova's finish_resize does).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from devsim.openstack.clock import SimClock

#: Nova's power_state codes (nova.compute.power_state).
NOSTATE, RUNNING, PAUSED, SHUTDOWN, CRASHED, SUSPENDED = 0, 1, 3, 4, 6, 7

#: vm_state -> API status, as nova.api.openstack.common maps them (simplified: no task states).
STATUS_FOR_VM_STATE = {
    "active": "ACTIVE",
    "building": "BUILD",
    "stopped": "SHUTOFF",
    "paused": "PAUSED",
    "suspended": "SUSPENDED",
    "resized": "VERIFY_RESIZE",
    "error": "ERROR",
    "deleted": "DELETED",
    "soft-delete": "SOFT_DELETED",
    "shelved_offloaded": "SHELVED_OFFLOADED",
}
POWER_FOR_VM_STATE = {
    "active": RUNNING,
    "building": NOSTATE,
    "stopped": SHUTDOWN,
    "paused": PAUSED,
    "suspended": SUSPENDED,
    "resized": RUNNING,
    "error": NOSTATE,
    "deleted": NOSTATE,
}

NOVA_DEFAULT_QUOTAS = {
    "instances": 10,
    "cores": 20,
    "ram": 51200,
    "key_pairs": 100,
    "metadata_items": 128,
    "server_groups": 10,
    "server_group_members": 10,
    "injected_files": 5,
    "injected_file_content_bytes": 10240,
    "injected_file_path_bytes": 255,
}
CINDER_DEFAULT_QUOTAS = {
    "volumes": 10,
    "gigabytes": 1000,
    "snapshots": 10,
    "backups": 10,
    "backup_gigabytes": 1000,
    "per_volume_gigabytes": -1,
    "groups": 10,
}

DEFAULT_DOMAIN_ID = "default"
DEFAULT_DOMAIN_NAME = "Default"
_NS = uuid.UUID("6c1f1b0e-6a6b-4f43-9a52-2f1d1c0b7a11")


def stable_id(*parts: str) -> str:
    """A deterministic UUID string, so seeded ids survive a restart of the simulator."""
    return str(uuid.uuid5(_NS, "/".join(parts)))


@dataclass
class Project:
    id: str
    name: str
    description: str = ""
    domain_id: str = DEFAULT_DOMAIN_ID
    enabled: bool = True


@dataclass
class User:
    id: str
    name: str
    password: str
    domain_id: str = DEFAULT_DOMAIN_ID
    #: project id -> role names
    roles: dict[str, set[str]] = field(default_factory=dict)


@dataclass
class AppCredential:
    id: str
    secret: str
    user_id: str
    project_id: str
    name: str = "glasspane"


@dataclass
class Token:
    id: str
    user_id: str
    project_id: str
    roles: list[str]
    methods: list[str]
    issued_at: datetime
    expires_at: datetime
    app_credential_id: str | None = None
    audit_id: str = ""

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


@dataclass
class Flavor:
    id: str
    name: str
    vcpus: int
    ram: int  # MiB
    disk: int  # GiB, root
    ephemeral: int = 0
    swap: int = 0
    is_public: bool = True
    description: str | None = None
    extra_specs: dict[str, str] = field(default_factory=dict)


@dataclass
class Image:
    """A Glance v2 image (metadata only: the simulator holds no image data)."""

    id: str
    name: str
    owner: str  # project id
    created_at: datetime
    visibility: str = "public"  # public | private | shared | community
    status: str = "active"
    disk_format: str = "qcow2"
    container_format: str = "bare"
    size: int = 21692416
    min_disk: int = 0
    min_ram: int = 0

    def visible_to(self, project_id: str, admin: bool = False) -> bool:
        return admin or self.visibility in ("public", "community") or self.owner == project_id


@dataclass
class Network:
    """A Neutron network (read-only: nothing in the simulator creates ports on it)."""

    id: str
    name: str
    project_id: str
    created_at: datetime
    shared: bool = False
    external: bool = False
    mtu: int = 1450

    def visible_to(self, project_id: str, admin: bool = False) -> bool:
        return admin or self.shared or self.project_id == project_id


@dataclass
class Hypervisor:
    id: str
    hostname: str  # hypervisor_hostname
    host: str  # the compute service's host name, what servers report as OS-EXT-SRV-ATTR:host
    vcpus: int
    memory_mb: int
    local_gb: int
    host_ip: str = "192.0.2.10"
    state: str = "up"
    status: str = "enabled"
    hypervisor_type: str = "QEMU"
    hypervisor_version: int = 8002000
    service_id: str = ""


@dataclass
class Server:
    id: str
    name: str
    project_id: str
    user_id: str
    flavor: Flavor  # a snapshot, as Nova embeds it in the instance
    created: datetime
    updated: datetime
    host: str | None = None
    hypervisor_hostname: str | None = None
    image_id: str = ""
    vm_state: str = "active"
    task_state: str | None = None
    launched_at: datetime | None = None
    terminated_at: datetime | None = None
    deleted: bool = False
    metadata: dict[str, str] = field(default_factory=dict)
    old_flavor: Flavor | None = None  # during VERIFY_RESIZE

    @property
    def status(self) -> str:
        return STATUS_FOR_VM_STATE.get(self.vm_state, "UNKNOWN")

    @property
    def power_state(self) -> int:
        return POWER_FOR_VM_STATE.get(self.vm_state, NOSTATE)


@dataclass
class Volume:
    id: str
    name: str
    project_id: str
    user_id: str
    size: int
    created_at: datetime
    updated_at: datetime
    status: str = "available"
    volume_type: str = "lvmdriver-1"
    description: str | None = None
    attached_to: str | None = None  # server id
    bootable: bool = False
    deleted: bool = False


@dataclass
class Faults:
    """Switches tests flip to make the simulator misbehave in documented ways."""

    #: services answering 503: any of "identity", "compute", "volume"
    unavailable: set[str] = field(default_factory=set)
    #: 1-based page numbers of GET /servers/detail that answer 500 (page = position // limit + 1)
    server_page_errors: set[int] = field(default_factory=set)
    #: server ids whose records are sent without their ``flavor`` key
    malformed_servers: set[str] = field(default_factory=set)
    #: revoke every token just before serving this page of /servers/detail (then it answers 401)
    revoke_tokens_on_page: int | None = None

    def clear(self) -> None:
        self.unavailable.clear()
        self.server_page_errors.clear()
        self.malformed_servers.clear()
        self.revoke_tokens_on_page = None


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    query: dict[str, str]
    status: int
    microversion: str | None = None


@dataclass
class UsageLine:
    server: Server
    hours: float


class CloudState:
    """Everything the simulated cloud holds. Guard multi-step changes with ``lock``."""

    def __init__(self, clock: SimClock | None = None, region: str = "RegionOne"):
        self.lock = threading.RLock()
        self.clock = clock or SimClock()
        self.region = region
        self.token_ttl = timedelta(hours=1)
        #: the microversion range the simulated Nova advertises; lower ``compute_max_version`` to
        #: test clients that cannot see embedded flavors (2.47) or hypervisor sizes (removed 2.88)
        self.compute_min_version = (2, 1)
        self.compute_max_version = (2, 96)
        self.volume_max_version = (3, 71)
        #: whether the catalog lists the block-storage service (a cloud without Cinder is normal)
        self.volume_service = True
        #: whether the catalog lists the image (Glance) and network (Neutron) services
        self.image_service = True
        self.network_service = True
        self.images: dict[str, Image] = {}
        self.networks: dict[str, Network] = {}
        self.projects: dict[str, Project] = {}
        self.users: dict[str, User] = {}
        self.app_credentials: dict[str, AppCredential] = {}
        self.tokens: dict[str, Token] = {}
        self.flavors: dict[str, Flavor] = {}
        self.hypervisors: dict[str, Hypervisor] = {}
        self.servers: dict[str, Server] = {}
        self.volumes: dict[str, Volume] = {}
        self.compute_quotas: dict[str, dict[str, int]] = {}
        self.volume_quotas: dict[str, dict[str, int]] = {}
        self.faults = Faults()
        self.requests: list[RequestRecord] = []
        self.tokens_issued = 0

    # -- identity ---------------------------------------------------------------------------------

    def add_project(self, name: str, description: str = "", project_id: str | None = None) -> Project:
        project = Project(id=project_id or uuid.UUID(stable_id("project", name)).hex, name=name,
                          description=description)
        self.projects[project.id] = project
        return project

    def project_named(self, name: str, domain_id: str = DEFAULT_DOMAIN_ID) -> Project | None:
        for project in self.projects.values():
            if project.name == name and project.domain_id == domain_id:
                return project
        return None

    def add_user(self, name: str, password: str, roles: dict[str, set[str]] | None = None) -> User:
        user = User(id=uuid.UUID(stable_id("user", name)).hex, name=name, password=password,
                    roles={k: set(v) for k, v in (roles or {}).items()})
        self.users[user.id] = user
        return user

    def user_named(self, name: str, domain_id: str = DEFAULT_DOMAIN_ID) -> User | None:
        for user in self.users.values():
            if user.name == name and user.domain_id == domain_id:
                return user
        return None

    def issue_token(self, user: User, project: Project, methods: list[str],
                    app_credential_id: str | None = None) -> Token:
        now = self.clock.now()
        token = Token(
            id="gAAAA" + uuid.uuid4().hex + uuid.uuid4().hex,
            user_id=user.id,
            project_id=project.id,
            roles=sorted(user.roles.get(project.id, set())),
            methods=methods,
            issued_at=now,
            expires_at=now + self.token_ttl,
            app_credential_id=app_credential_id,
            audit_id=uuid.uuid4().hex[:22],
        )
        self.tokens[token.id] = token
        self.tokens_issued += 1
        return token

    def valid_token(self, token_id: str | None) -> Token | None:
        token = self.tokens.get(token_id or "")
        if token is None or token.expires_at <= self.clock.now():
            return None
        return token

    def revoke_all_tokens(self) -> None:
        self.tokens.clear()

    # -- compute ----------------------------------------------------------------------------------

    def add_flavor(self, name: str, vcpus: int, ram: int, disk: int, ephemeral: int = 0,
                   flavor_id: str | None = None) -> Flavor:
        flavor = Flavor(id=flavor_id or stable_id("flavor", name), name=name, vcpus=vcpus, ram=ram,
                        disk=disk, ephemeral=ephemeral)
        self.flavors[flavor.id] = flavor
        return flavor

    def find_flavor(self, ref: str) -> Flavor | None:
        ref = ref.rstrip("/").rsplit("/", 1)[-1]  # flavorRef may be a URL
        return self.flavors.get(ref) or next((f for f in self.flavors.values() if f.name == ref), None)

    def add_image(self, name: str, owner: str, visibility: str = "public", **extra) -> Image:
        image = Image(id=extra.pop("image_id", None) or stable_id("image", name), name=name, owner=owner,
                      created_at=self.clock.now().replace(microsecond=0), visibility=visibility, **extra)
        self.images[image.id] = image
        return image

    def image_named(self, name: str) -> Image | None:
        return next((i for i in self.images.values() if i.name == name), None)

    def add_network(self, name: str, project_id: str, shared: bool = False) -> Network:
        network = Network(id=stable_id("network", name), name=name, project_id=project_id,
                          created_at=self.clock.now().replace(microsecond=0), shared=shared)
        self.networks[network.id] = network
        return network

    def network_named(self, name: str) -> Network | None:
        return next((n for n in self.networks.values() if n.name == name), None)

    def add_hypervisor(self, hostname: str, vcpus: int = 64, memory_mb: int = 262144,
                       local_gb: int = 2000, host_ip: str = "192.0.2.10") -> Hypervisor:
        hypervisor = Hypervisor(id=stable_id("hypervisor", hostname), hostname=hostname,
                                host=hostname.split(".")[0], vcpus=vcpus, memory_mb=memory_mb,
                                local_gb=local_gb, host_ip=host_ip,
                                service_id=stable_id("service", hostname))
        self.hypervisors[hypervisor.id] = hypervisor
        return hypervisor

    def add_server(self, name: str, project_id: str, flavor: Flavor, *, host: str | None = None,
                   vm_state: str = "active", launched_at: datetime | None = None,
                   created: datetime | None = None, image_id: str = "", user_id: str = "",
                   server_id: str | None = None) -> Server:
        """Put a server straight into the cloud (seeds and tests); no quota check."""
        now = self.clock.now().replace(microsecond=0)  # Nova's columns keep whole seconds
        created = created or launched_at or now
        if launched_at is None and vm_state not in ("building", "error"):
            launched_at = created
        hypervisor = next((h for h in self.hypervisors.values() if h.host == host), None)
        server = Server(
            id=server_id or str(uuid.uuid4()),
            name=name,
            project_id=project_id,
            user_id=user_id or next(iter(self.users), ""),
            flavor=snapshot(flavor),
            created=created,
            updated=launched_at or created,
            host=host,
            hypervisor_hostname=hypervisor.hostname if hypervisor else host,
            image_id=image_id,
            vm_state=vm_state,
            launched_at=launched_at,
        )
        self.servers[server.id] = server
        return server

    def delete_server(self, server: Server) -> None:
        now = self.clock.now().replace(microsecond=0)
        server.deleted = True
        server.vm_state = "deleted"
        server.task_state = None
        server.terminated_at = now
        server.updated = now
        for volume in self.volumes.values():
            if volume.attached_to == server.id:
                volume.attached_to = None
                volume.status = "available"
                volume.updated_at = now

    def live_servers(self, project_id: str | None = None) -> list[Server]:
        return [s for s in self.servers.values()
                if not s.deleted and (project_id is None or s.project_id == project_id)]

    def compute_quota(self, project_id: str) -> dict[str, int]:
        quota = dict(NOVA_DEFAULT_QUOTAS)
        quota.update(self.compute_quotas.get(project_id, {}))
        return quota

    def compute_in_use(self, project_id: str) -> dict[str, int]:
        servers = self.live_servers(project_id)
        return {
            "instances": len(servers),
            "cores": sum(s.flavor.vcpus for s in servers),
            "ram": sum(s.flavor.ram for s in servers),
        }

    def compute_over_quota(self, project_id: str, wanted: dict[str, int]) -> str | None:
        """Nova's TooManyInstances message when ``wanted`` does not fit, else ``None``."""
        quota, used = self.compute_quota(project_id), self.compute_in_use(project_id)
        overs = sorted(k for k, n in wanted.items()
                       if quota[k] >= 0 and used[k] + n > quota[k])
        if not overs:
            return None

        def joined(values):
            return ", ".join(str(v) for v in values)

        return (f"Quota exceeded for {joined(overs)}: Requested {joined(wanted[k] for k in overs)}, "
                f"but already used {joined(used[k] for k in overs)} of "
                f"{joined(quota[k] for k in overs)} {joined(overs)}")

    # -- block storage ----------------------------------------------------------------------------

    def add_volume(self, name: str, project_id: str, size: int, *, attached_to: str | None = None,
                   created_at: datetime | None = None, volume_id: str | None = None) -> Volume:
        now = self.clock.now()
        volume = Volume(id=volume_id or str(uuid.uuid4()), name=name, project_id=project_id,
                        user_id=next(iter(self.users), ""), size=size, created_at=created_at or now,
                        updated_at=created_at or now, attached_to=attached_to,
                        status="in-use" if attached_to else "available")
        self.volumes[volume.id] = volume
        return volume

    def live_volumes(self, project_id: str | None = None) -> list[Volume]:
        return [v for v in self.volumes.values()
                if not v.deleted and (project_id is None or v.project_id == project_id)]

    def volume_quota(self, project_id: str) -> dict[str, int]:
        quota = dict(CINDER_DEFAULT_QUOTAS)
        quota.update(self.volume_quotas.get(project_id, {}))
        return quota

    def volume_in_use(self, project_id: str) -> dict[str, int]:
        volumes = self.live_volumes(project_id)
        return {"volumes": len(volumes), "gigabytes": sum(v.size for v in volumes), "snapshots": 0,
                "backups": 0, "backup_gigabytes": 0, "per_volume_gigabytes": 0, "groups": 0}

    # -- usage (os-simple-tenant-usage) -----------------------------------------------------------

    def usage(self, start: datetime, stop: datetime, project_id: str | None = None) -> list[UsageLine]:
        """Servers active in [start, stop) with their hours, as Nova counts them."""
        stop = min(stop, self.clock.now())
        lines = []
        for server in self.servers.values():
            if project_id is not None and server.project_id != project_id:
                continue
            if server.terminated_at is not None and server.terminated_at <= start:
                continue
            if server.launched_at is None or server.launched_at >= stop:
                continue
            lines.append(UsageLine(server, hours_for(server, start, stop)))
        lines.sort(key=lambda line: (line.server.created, line.server.id))
        return lines

    # -- bookkeeping ------------------------------------------------------------------------------

    def record(self, entry: RequestRecord) -> None:
        self.requests.append(entry)

    def requests_to(self, path_suffix: str, method: str = "GET") -> list[RequestRecord]:
        return [r for r in self.requests if r.method == method and r.path.endswith(path_suffix)]


def hours_for(server: Server, period_start: datetime, period_stop: datetime) -> float:
    """The hours ``server`` existed in the period, as Nova's ``_hours_for`` computes them."""
    launched, terminated = server.launched_at, server.terminated_at
    if launched is None:
        return 0
    if terminated is not None and terminated < period_start:
        return 0
    if launched > period_stop:
        return 0
    start = max(launched, period_start)
    stop = min(period_stop, terminated) if terminated is not None else period_stop
    return (stop - start).total_seconds() / 3600.0


def snapshot(flavor: Flavor) -> Flavor:
    return Flavor(id=flavor.id, name=flavor.name, vcpus=flavor.vcpus, ram=flavor.ram, disk=flavor.disk,
                  ephemeral=flavor.ephemeral, swap=flavor.swap, is_public=flavor.is_public,
                  description=flavor.description, extra_specs=dict(flavor.extra_specs))
