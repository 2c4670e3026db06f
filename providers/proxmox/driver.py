"""The Proxmox VE driver: nodes, QEMU and LXC guests, pools, tags, storage volumes; lifecycle by tasks.

What an inventory costs: one ``/cluster/resources`` (every node, guest and storage of the cluster),
one ``/access/permissions`` (to name missing privileges), one ``/pools``, one ``config`` per guest
(sizes and disks are only there), and one storage ``content`` per storage that holds guest images
(per node for local storages, once for shared ones). Samples reuse the inventory's
``/cluster/resources`` answer (memory, network and disk counters of every running guest) and, with
``rrd`` on, read one ``rrddata`` per running guest for its CPU time (see ``rrd``).

Proxmox VE has no per-pool caps of its own, so the driver declares no quota keys: Glasspane's limits
on a pool's project are enforced by admission (and breach detection), never pushed down.

A record that cannot be read becomes a ``DataIssue``; a guest whose config cannot be read (its node
is offline) is still reported from its ``/cluster/resources`` entry so it is not taken for deleted.
Without ``VM.Audit`` on ``/vms`` the inventory is marked incomplete for the same reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

from providers.base import (
    Action,
    Capability,
    DataIssue,
    Driver,
    Health,
    Inventory,
    Kind,
    LaunchChoice,
    LaunchOptions,
    ObservedProject,
    ObservedResource,
    Probe,
    ProviderDataError,
    ProviderError,
    ProviderUnavailable,
    ProvisionSpec,
    Setting,
    SettingsError,
    UnsupportedCapability,
    UtilizationSample,
    to_decimal,
    url_problem,
    utcnow,
)
from providers.proxmox import mapping, rrd
from providers.proxmox.api import Client, MissingPrivilege, TaskFailed, TaskTimeout, hosts_of, split_token

#: (path, privilege, what is lost without it)
PRIVILEGES = (
    ("/vms", "VM.Audit", "guests it does not cover are not listed, and nothing is taken for deleted"),
    ("/nodes", "Sys.Audit", "nodes are not listed"),
    ("/storage", "Datastore.Audit", "volumes of storages it does not cover are not collected"),
    ("/pool", "Pool.Audit", "pools are not listed as projects"),
)
IMAGE_CONTENT = {"images", "rootdir"}


class ProxmoxDriver(Driver):
    kind = "proxmox"
    label = "Proxmox VE (QEMU and LXC)"
    settings_schema = (
        Setting("host", label="Hosts", required=True, endpoint=True,
                help="the cluster's API host, or several comma-separated (any node serves the whole cluster)"),
        Setting("port", label="API port", type="int", default=8006, endpoint=True, help="API port"),
        Setting("verify", label="Verify TLS certificates", type="bool", default=True, help="verify TLS certificates"),
        Setting("ca_bundle", help="path to a CA bundle (PEM) to verify the cluster's certificate"),
        Setting("timeout", label="Timeout (seconds)", type="int", default=15, help="seconds one API request may take"),
        Setting("task_timeout", label="Task timeout (seconds)", type="int", default=300, help="seconds to follow a task (UPID) before giving up"),
        Setting("shutdown_timeout", label="Shutdown timeout (seconds)", type="int", default=60,
                help="seconds a guest gets to shut down cleanly before it is stopped"),
        Setting("auto_create_projects", label="Create projects automatically", type="bool", default=False,
                help="create a Glasspane project for each pool found"),
        Setting("rrd", label="Read usage history (RRD)", type="bool", default=True,
                help="read each running guest's RRD for its CPU time (one request per running guest)"),
        Setting("workers", label="Parallel requests", type="int", default=4,
                help="requests in flight at once for per-guest reads (configs, RRD); 1 = one at a time"),
        Setting("full_clone", label="Full clones", type="bool", default=True, help="provision full clones, not linked ones"),
        Setting("clone_storage", help="storage for a full clone's disks (default: the template's)"),
    )
    credentials_schema = (
        Setting("token_id", label="API token ID", help="API token, user@realm!tokenid"),
        Setting("token_secret", label="API token secret", secret=True, help="the API token's secret (UUID)"),
        Setting("username", help="user@realm, e.g. root@pam (instead of a token)"),
        Setting("password", secret=True),
    )
    capabilities = frozenset({Capability.SAMPLES, Capability.PROVISION, Capability.ACTIONS})
    #: Proxmox VE holds no limits per pool: admission enforces ours, nothing is pushed down.
    quota_keys = frozenset()

    def __init__(self, settings: Mapping[str, Any], credentials: Mapping[str, Any] | None = None):
        super().__init__(settings, credentials)
        self.client = Client(self.settings, self.credentials)
        self._resources: list[Mapping[str, Any]] | None = None
        self._observed_at = None

    @classmethod
    def validate(cls, settings, credentials=None):
        errors: dict[str, str] = {}
        try:
            cleaned_settings, cleaned_credentials = super().validate(settings, credentials)
        except SettingsError as exc:
            errors.update(exc.errors)
            cleaned_settings, cleaned_credentials = dict(settings), dict(credentials or {})
        if "host" not in errors and not hosts_of(cleaned_settings):
            errors["host"] = "is required"
        elif "host" not in errors:
            for host in hosts_of(cleaned_settings):
                if url_problem(f"https://{host}", ("https",)):
                    errors["host"] = f"{host!r} is not a host name or address (separate several hosts with commas)"
                    break
        port = cleaned_settings.get("port")
        if "port" not in errors and isinstance(port, int) and not 1 <= port <= 65535:
            errors["port"] = f"must be a whole number from 1 to 65535, got {port}"
        for name in ("port", "timeout", "task_timeout", "shutdown_timeout", "workers"):
            value = cleaned_settings.get(name)
            if name not in errors and isinstance(value, int) and value < 1:
                errors[name] = f"must be at least 1, got {value}"
        if cleaned_credentials.get("token_id"):
            try:
                split_token(str(cleaned_credentials["token_id"]))
            except ValueError as exc:
                errors["token_id"] = str(exc)
            if not cleaned_credentials.get("token_secret"):
                errors["token_secret"] = "is required with token_id"
        else:
            for name in ("username", "password"):
                if not cleaned_credentials.get(name):
                    errors[name] = "is required (or give token_id and token_secret)"
            username = str(cleaned_credentials.get("username") or "")
            if username and "@" not in username:
                errors["username"] = f"must name its realm, user@realm (root@pam, alice@pve), got {username!r}"
        if errors:
            raise SettingsError(errors)
        return cleaned_settings, cleaned_credentials

    def close(self) -> None:
        self.client.close()

    @property
    def task_timeout(self) -> int:
        return int(self.settings.get("task_timeout") or 300)

    # -- health -----------------------------------------------------------------------------------

    def health(self) -> Health:
        try:
            version = self.client.get("read the API version", "version")
            self.client.get("list the cluster's nodes", "cluster/resources", type="node")
        except ProviderError as exc:
            return Health(False, str(exc))
        release = version.get("version", "?") if isinstance(version, Mapping) else "?"
        return Health(True, f"Proxmox VE {release} answers at {self.client.host}",
                      details={"version": release, "host": self.client.host})

    def probe(self) -> Probe:
        """The cluster's release and how many nodes and guests (QEMU VMs and LXC containers) it has."""
        version = self.client.get("read the API version", "version")
        records = self.client.get("list the cluster's resources", "cluster/resources")
        if not isinstance(version, Mapping) or not isinstance(records, list):
            raise ProviderDataError(f"Proxmox VE at {self.client.host} answered /version or /cluster/resources "
                                    f"with something unreadable")
        kinds = [r.get("type") for r in records if isinstance(r, Mapping) and r.get("template") not in (1, "1", True)]
        return Probe(product="Proxmox VE", version=str(version.get("version") or "?"),
                     where=f"{self.client.host}:{self.settings.get('port') or 8006}",
                     counts={"nodes": kinds.count("node"), "VMs": kinds.count("qemu"),
                             "containers": kinds.count("lxc")},
                     details={"release": version.get("release"), "repoid": version.get("repoid")})

    # -- inventory --------------------------------------------------------------------------------

    def _cluster_resources(self) -> list[Mapping[str, Any]]:
        answer = self.client.get("list the cluster's resources", "cluster/resources")
        if not isinstance(answer, list):
            raise ProviderDataError(f"/cluster/resources is not a list: {answer!r:.80}")
        self._resources, self._observed_at = [r for r in answer if isinstance(r, Mapping)], utcnow()
        return self._resources

    def inventory(self, since=None) -> Inventory:
        records = self._cluster_resources()
        observed_at = self._observed_at
        issues: list[DataIssue] = []
        skipped = self._missing_privileges()
        for note in skipped:
            issues.append(DataIssue("permissions", note))
        complete = not any(note.startswith("missing privilege VM.Audit") for note in skipped)

        hosts: list[ObservedResource] = []
        for record in (r for r in records if r.get("type") == "node"):
            try:
                hosts.append(mapping.node_resource(record))
            except (ProviderDataError, ArithmeticError, TypeError, ValueError) as exc:
                issues.append(DataIssue(str(record.get("id") or "?"), f"node not readable: {exc}"))

        guests, attached, owners, templates = [], set(), {}, {}
        wanted = []
        for record in (r for r in records if r.get("type") in mapping.GUEST_TYPES):
            if record.get("template") in (1, "1", True):
                templates[str(record.get("vmid"))] = record
            else:
                wanted.append(record)
        for guest in self._each(lambda record: self._guest(record, observed_at, issues), wanted):
            if guest is None:
                continue
            guests.append(guest)
            owners[str(guest.properties.get("vmid"))] = guest
            if guest.properties.get("config_unreadable"):
                attached.add(("vmid", str(guest.properties.get("vmid"))))
            attached.update(d["volume"] for d in guest.properties.get("disks", []))

        projects, pool_skip = self._pools()
        skipped += pool_skip
        issues += [DataIssue("pools", note) for note in pool_skip]
        volumes, volume_skip = self._volumes(records, attached, owners, templates, issues)
        skipped += volume_skip
        return Inventory(resources=hosts + guests + volumes, observed_at=observed_at, issues=issues,
                         projects=projects, complete=complete, skipped=skipped)

    def _each(self, read, items: list) -> list:
        """``read`` of every item, in order; ``workers`` of them in flight at once (the session's
        connection pool is shared, the login is made before by the listing)."""
        workers = max(1, int(self.settings.get("workers") or 4))
        if workers == 1 or len(items) < 2:
            return [read(item) for item in items]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="proxmox") as pool:
            return list(pool.map(read, items))

    def _guest(self, record, observed_at, issues) -> ObservedResource | None:
        guest_type, vmid, node = record.get("type"), record.get("vmid"), record.get("node")
        ext = f"{guest_type}/{vmid}"
        try:
            config = self.client.get(f"read the config of {ext}", f"nodes/{node}/{guest_type}/{vmid}/config")
            if not isinstance(config, Mapping):
                raise ProviderDataError(f"config of {ext} is not an object: {config!r:.80}")
        except (MissingPrivilege, ProviderUnavailable, ProviderDataError) as exc:
            if isinstance(exc, ProviderDataError) and "does not exist" in str(exc):
                return None  # destroyed between the listing and now
            return self._guest_from_listing(record, observed_at, issues, f"config not readable: {exc}")
        try:
            found = mapping.guest_resource(record, config, observed_at)
        except (ProviderDataError, ArithmeticError, TypeError, ValueError) as exc:
            return self._guest_from_listing(record, observed_at, issues, str(exc))
        if found.properties.get("name_cut_from"):
            issues.append(DataIssue(ext, f"name of {found.properties['name_cut_from']} characters cut to "
                                         f"{mapping.MAX_NAME}"))
        return found

    @staticmethod
    def _guest_from_listing(record, observed_at, issues, reason: str) -> ObservedResource | None:
        """A guest whose config cannot be read or trusted, from ``/cluster/resources`` alone
        (``maxdisk`` is its first disk only), so it is not taken for deleted: its node is away, or
        one field of its config is nonsense. None, with the issue, when the listing is nonsense too."""
        ext = f"{record.get('type')}/{record.get('vmid')}"
        config: dict[str, Any] = {}
        try:
            if record.get("maxcpu"):
                config["cores"] = int(Decimal(str(record["maxcpu"])))
            if record.get("maxmem") is not None:
                config["memory"] = int(record["maxmem"]) // mapping.MIB
            if record.get("maxdisk"):
                key = "scsi0" if record.get("type") == "qemu" else "rootfs"
                config[key] = f"unknown:listing,size={int(record['maxdisk'])}"
            found = mapping.guest_resource(record, config, observed_at)
        except (ProviderDataError, ArithmeticError, TypeError, ValueError) as exc:
            issues.append(DataIssue(ext, f"{reason}; the cluster listing of it is unreadable too ({exc}): skipped"))
            return None
        issues.append(DataIssue(ext, f"{reason}; sizes taken from the cluster listing"))
        properties = {**found.properties, "config_unreadable": True, "disks": []}
        return ObservedResource(**{**found.__dict__, "properties": properties})

    def _missing_privileges(self) -> list[str]:
        """What the credentials cannot see, by privilege name (empty when all is visible)."""
        try:
            held = self.client.get("read the credentials' privileges", "access/permissions")
        except ProviderError:
            return []  # an old release or no right to ask: the calls themselves will say
        if not isinstance(held, Mapping):
            return []
        notes = []
        for path, privilege, lost in PRIVILEGES:
            granted = [p for p, privs in held.items() if isinstance(privs, Mapping) and privs.get(privilege)]
            if any(p == "/" or path == p or path.startswith(p.rstrip("/") + "/") for p in granted):
                continue
            partial = [p for p in granted if p.startswith(path + "/") or p.startswith("/pool/")]
            only = f" (held only on {', '.join(sorted(partial))})" if partial else ""
            notes.append(f"missing privilege {privilege} on {path}{only}: {lost}")
        return notes

    def _pools(self) -> tuple[list[ObservedProject], list[str]]:
        try:
            answer = self.client.get("list pools", "pools")
        except MissingPrivilege as exc:
            return [], [f"pools not listed: {exc}"]
        projects = []
        for pool in answer if isinstance(answer, list) else []:
            if isinstance(pool, Mapping) and pool.get("poolid"):
                projects.append(ObservedProject(str(pool["poolid"]), str(pool["poolid"]),
                                                str(pool.get("comment") or "")))
        return projects, []

    def _volumes(self, records, attached, owners, templates, issues) -> tuple[list[ObservedResource], list[str]]:
        found: dict[str, tuple[Mapping[str, Any], list[str]]] = {}
        skipped: list[str] = []
        done_shared: set[str] = set()
        for store in (r for r in records if r.get("type") == "storage"):
            sid, node = str(store.get("storage") or ""), str(store.get("node") or "")
            content = set(str(store.get("content") or "").split(","))
            if not sid or not node or not content & IMAGE_CONTENT:
                continue
            if store.get("status") not in (None, "available"):
                skipped.append(f"storage {sid} on {node} is {store.get('status')}: its volumes not collected")
                continue
            if store.get("shared") in (1, "1", True):
                if sid in done_shared:
                    continue
                done_shared.add(sid)
            try:
                entries = self.client.get(f"list the volumes of storage {sid} on {node}",
                                          f"nodes/{node}/storage/{sid}/content")
            except (MissingPrivilege, ProviderUnavailable, ProviderDataError) as exc:
                skipped.append(f"volumes of storage {sid} on {node} not collected: {exc}")
                continue
            for entry in entries if isinstance(entries, list) else []:
                if not isinstance(entry, Mapping) or entry.get("content") not in IMAGE_CONTENT:
                    continue
                volid = str(entry.get("volid") or "")
                if volid in found:
                    found[volid][1].append(node)
                else:
                    found[volid] = (entry, [node])
        issues += [DataIssue("volumes", note) for note in skipped]
        volumes = []
        for volid, (entry, nodes) in found.items():
            owner_vmid = str(entry.get("vmid") or "")
            if volid in attached or ("vmid", owner_vmid) in attached:
                continue  # a disk of a live guest: counted in the guest
            owner = owners.get(owner_vmid)
            template = templates.get(owner_vmid)
            pool = owner.project_hint if owner is not None else (str(template.get("pool") or "") or None
                                                                 if template is not None else None)
            try:
                volumes.append(mapping.volume_resource(entry, owner.external_id if owner else None, pool, nodes))
            except ProviderDataError as exc:
                issues.append(DataIssue(volid or "?", str(exc)))
        return volumes, skipped

    # -- samples ----------------------------------------------------------------------------------

    def samples(self, external_ids: Iterable[str] | None = None) -> list[UtilizationSample]:
        records = self._resources if self._resources is not None else self._cluster_resources()
        at = self._observed_at or utcnow()
        wanted = set(external_ids) if external_ids is not None else None
        running = []
        for record in records:
            if record.get("type") not in mapping.GUEST_TYPES or record.get("status") != "running":
                continue
            if record.get("template") in (1, "1", True):
                continue
            if wanted is not None and f"{record.get('type')}/{record.get('vmid')}" not in wanted:
                continue
            running.append(record)
        cpu = self._each(lambda record: self._cpu_time(record, at), running)
        return [UtilizationSample(
            external_id=f"{record.get('type')}/{record.get('vmid')}", at=at, cpu_time_ns=cpu_ns,
            memory_used_mb=_mb(record.get("mem")), memory_total_mb=_mb(record.get("maxmem")),
            net_rx_bytes=_count(record.get("netin")), net_tx_bytes=_count(record.get("netout")),
            disk_read_bytes=_count(record.get("diskread")), disk_write_bytes=_count(record.get("diskwrite")),
        ) for record, cpu_ns in zip(running, cpu, strict=True)]

    def _cpu_time(self, record, at) -> int | None:
        if not self.settings.get("rrd", True):
            return None
        path = f"nodes/{record.get('node')}/{record.get('type')}/{record.get('vmid')}/rrddata"
        try:
            rows = rrd.parse(self.client.get("read a guest's RRD", path, timeframe="hour", cf="AVERAGE"))
        except ProviderError:
            return None  # CPU time is missing for this guest; memory, network and disk still count
        return rrd.hourly_cpu_counter(rows, at, mapping.started_at(record.get("uptime"), at), rrd.step_of(rows))

    # -- lifecycle --------------------------------------------------------------------------------

    def _locate(self, external_id: str) -> Mapping[str, Any]:
        guest_type, _, vmid = external_id.partition("/")
        if guest_type not in mapping.GUEST_TYPES or not vmid.isdigit():
            raise ProviderDataError(f"not a Proxmox guest id: {external_id!r} (qemu/VMID or lxc/VMID)")
        answer = self.client.get("list the cluster's guests", "cluster/resources", type="vm")
        for record in answer if isinstance(answer, list) else []:
            if isinstance(record, Mapping) and record.get("type") == guest_type and str(record.get("vmid")) == vmid:
                return record
        raise ProviderDataError(f"no guest {external_id} in the cluster")

    def _run(self, record, verb: str, doing: str, wait_for: float | None = None, **data) -> None:
        """POST a status verb (start, shutdown, stop, reboot) and follow its task to the end."""
        path = f"nodes/{record['node']}/{record['type']}/{record['vmid']}/status/{verb}"
        upid = self.client.post(doing, path, **data)
        self.client.wait(upid, doing, wait_for or self.task_timeout)

    def act(self, external_id: str, action: str) -> None:
        if action not in Action.ALL:
            raise UnsupportedCapability(f"proxmox does not support the action {action!r}")
        record = self._locate(external_id)
        running = record.get("status") == "running"
        if action == Action.START:
            if not running:
                self._run(record, "start", f"start {external_id}")
        elif action == Action.STOP:
            if running:
                self._shutdown(record, external_id)
        elif action == Action.REBOOT:
            self._run(record, "reboot", f"reboot {external_id}")
        elif action == Action.DELETE:
            if running:
                self._run(record, "stop", f"stop {external_id} before deleting it")
            upid = self.client.delete(f"delete {external_id}", f"nodes/{record['node']}/{record['type']}/{record['vmid']}",
                                      purge=1, **{"destroy-unreferenced-disks": 1})
            self.client.wait(upid, f"delete {external_id}", self.task_timeout)

    def _shutdown(self, record, external_id: str) -> None:
        """A clean shutdown within ``shutdown_timeout``; a guest that does not go is stopped."""
        grace = int(self.settings.get("shutdown_timeout") or 60)
        try:
            self._run(record, "shutdown", f"shut down {external_id}", wait_for=grace + 15, timeout=grace)
            return
        except (TaskFailed, TaskTimeout):
            pass
        self._run(record, "stop", f"stop {external_id} (it did not shut down in {grace} s)")

    # -- provisioning -----------------------------------------------------------------------------

    def provision(self, spec: ProvisionSpec) -> ObservedResource:
        """Clone a template (``spec.image``: its name or VMID) into the pool ``spec.project``, size it
        (cores, memory) as asked, and start it. The pool is created when it does not exist yet."""
        guest_type = {Kind.VM: "qemu", Kind.CONTAINER: "lxc"}.get(spec.kind)
        if guest_type is None:
            raise UnsupportedCapability(f"proxmox provisions VMs and containers, not {spec.kind}")
        if not spec.image:
            raise ProviderDataError("give image= the name or VMID of the template to clone")
        template = self._template(guest_type, spec.image)
        pool = spec.project
        self._ensure_pool(pool)
        node, source = template["node"], template["vmid"]
        newid = int(self.client.get("choose a free VMID", "cluster/nextid"))
        options: dict[str, Any] = {"newid": newid, "pool": pool}
        options["name" if guest_type == "qemu" else "hostname"] = spec.name
        if self.settings.get("full_clone", True):
            options["full"] = 1
            if self.settings.get("clone_storage"):
                options["storage"] = self.settings["clone_storage"]
        doing = f"clone template {spec.image} into {spec.name}"
        upid = self.client.post(doing, f"nodes/{node}/{guest_type}/{source}/clone", **options)
        self.client.wait(upid, doing, self.task_timeout)
        size: dict[str, Any] = {}
        if spec.vcpus is not None:
            size["cores"] = int(spec.vcpus.to_integral_value(rounding="ROUND_CEILING"))
            if guest_type == "qemu":
                size["sockets"] = 1
        if spec.ram_mb is not None:
            size["memory"] = int(spec.ram_mb)
        if size:
            self.client.put(f"size {guest_type}/{newid}", f"nodes/{node}/{guest_type}/{newid}/config", **size)
        record = {"node": node, "type": guest_type, "vmid": newid}
        self._run(record, "start", f"start {guest_type}/{newid}")
        config = self.client.get(f"read the config of {guest_type}/{newid}", f"nodes/{node}/{guest_type}/{newid}/config")
        return mapping.guest_resource(self._locate(f"{guest_type}/{newid}"), config, utcnow())

    def launch_options(self, project_ref: str | None = None) -> LaunchOptions:
        """VMs and containers cloned from the cluster's templates (``image`` is a template's name),
        sized as asked; the clone keeps the template's network."""
        answer = self.client.get("list the cluster's guests", "cluster/resources", type="vm")
        kinds = {"qemu": Kind.VM, "lxc": Kind.CONTAINER}
        images = sorted({LaunchChoice(str(r.get("name") or r.get("vmid")), f"{r.get('name') or r.get('vmid')} "
                                      f"(template {r.get('vmid')} on {r.get('node')})", (kinds[r["type"]],))
                         for r in (answer if isinstance(answer, list) else [])
                         if isinstance(r, Mapping) and r.get("type") in kinds and r.get("template") in (1, "1", True)},
                        key=lambda c: c.label)
        return LaunchOptions(kinds=(Kind.VM, Kind.CONTAINER), images=tuple(images), image_required=True)

    def _template(self, guest_type: str, ref: str) -> Mapping[str, Any]:
        answer = self.client.get("list the cluster's guests", "cluster/resources", type="vm")
        for record in answer if isinstance(answer, list) else []:
            if (isinstance(record, Mapping) and record.get("type") == guest_type
                    and record.get("template") in (1, "1", True)
                    and ref in (str(record.get("vmid")), str(record.get("name")))):
                return record
        kind = "VM" if guest_type == "qemu" else "container"
        raise ProviderDataError(f"no {kind} template named {ref!r} in the cluster")

    def _ensure_pool(self, pool: str) -> None:
        answer = self.client.get("list pools", "pools")
        if any(isinstance(p, Mapping) and p.get("poolid") == pool for p in answer or []):
            return
        self.client.post(f"create pool {pool}", "pools", poolid=pool, comment="created by Glasspane")


def _mb(value) -> Decimal | None:
    try:
        return to_decimal(Decimal(int(value)) / mapping.MIB) if value is not None else None
    except (TypeError, ValueError, ArithmeticError):
        return None


def _count(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None

