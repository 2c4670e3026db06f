"""The OpenStack driver: Keystone projects, Nova hypervisors and servers, Cinder volumes, quotas, usage.

What an inventory holds: hypervisors (``Kind.HOST``), every server of every project (``Kind.VM``,
``all_tenants`` paged with limit/marker to the end, parent = its hypervisor), every volume
(``Kind.VOLUME``), the Keystone projects, and per project the Nova absolute limits and quota-set and
the Cinder quota-set and limits. ``inventory(since=...)`` also asks Nova for servers changed since
then (``changes-since`` includes deleted ones) and reports the deleted ones with their
``terminated_at``. ``observed_at`` is the cloud's clock (the ``Date`` header of the first server
page). A page that fails fails the whole inventory; one unreadable server becomes a ``DataIssue``.

Microversions: servers are read at the highest the cloud offers up to 2.96 (from 2.47 the flavor is
embedded; below that it is looked up in the flavor list), hypervisors at most at 2.87 (2.88 drops
their sizes), tenant usage at 2.40 (paged).

The admin role is needed for nearly everything here (all projects' servers, hypervisors, projects,
other projects' quotas); errors say which call needed it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlparse

from keystoneauth1.exceptions import EndpointNotFound

from providers.base import (
    Action,
    Capability,
    DataIssue,
    Driver,
    Health,
    Inventory,
    Kind,
    LaunchChoice,
    LaunchFlavor,
    LaunchOptions,
    ObservedProject,
    ObservedResource,
    Probe,
    ProviderAuthError,
    ProviderDataError,
    ProviderError,
    ProvisionSpec,
    QuotaReading,
    Setting,
    SettingsError,
    UnsupportedCapability,
    UsageTotals,
    url_problem,
    utcnow,
)
from providers.heap import gc_paused
from providers.openstack import api, mapping
from providers.openstack.errors import translated
from providers.openstack.quotas import CINDER_KEYS, NOVA_KEYS, QUOTA_KEYS, readings, split_limits

SERVER_MICROVERSION = (2, 96)
HYPERVISOR_MICROVERSION = (2, 87)
USAGE_MICROVERSION = (2, 40)
EMBEDDED_FLAVOR = (2, 47)
ADMIN = "admin"
#: what Nova's request schema takes as an ``imageRef`` (a UUID, dashes optional)
_UUID = re.compile(r"[0-9a-fA-F]{8}(-?[0-9a-fA-F]{4}){3}-?[0-9a-fA-F]{12}")
#: optional services and the catalog types they are listed under
OPTIONAL_SERVICES = {
    "block-storage": ("block-storage", "volumev3", "volumev2", "volume", "block-store"),
    "image": ("image",),
    "network": ("network",),
}
NO_VOLUMES = "no block-storage endpoint in the catalog: volumes and volume quotas not collected"


class OpenStackDriver(Driver):
    kind = "openstack"
    label = "OpenStack (Keystone, Nova, Cinder)"
    settings_schema = (
        Setting("auth_url", required=True, endpoint=True, help="Keystone v3 URL, e.g. https://keystone.example.org:5000/v3"),
        Setting("region", help="region name in the service catalog (default: the only one)"),
        Setting("interface", label="Endpoint interface", type="choice", choices=("public", "internal", "admin"), default="public",
                help="which catalog endpoints to use"),
        Setting("verify", label="Verify TLS certificates", type="bool", default=True, help="verify TLS certificates"),
        Setting("ca_bundle", help="path to a CA bundle for TLS verification"),
        Setting("auto_create_projects", label="Create projects automatically", type="bool", default=False,
                help="create a Glasspane project for each Keystone project found"),
        Setting("page_size", type="int", default=1000, help="servers and volumes per request"),
        Setting("timeout", label="Timeout (seconds)", type="int", default=30, help="seconds any one request to the cloud may take"),
    )
    credentials_schema = (
        Setting("username", help="Keystone user (needs the admin role)"),
        Setting("password", secret=True),
        Setting("user_domain", default="Default"),
        Setting("project_name", help="project to scope the token to"),
        Setting("project_domain", default="Default"),
        Setting("application_credential_id", help="instead of username/password"),
        Setting("application_credential_secret", secret=True),
    )
    capabilities = frozenset(
        {Capability.PROVISION, Capability.ACTIONS, Capability.APPLY_QUOTA, Capability.USAGE_REPORT}
    )
    quota_keys = QUOTA_KEYS

    def __init__(self, settings: Mapping[str, Any], credentials: Mapping[str, Any] | None = None):
        super().__init__(settings, credentials)
        self._connection = None
        self._project_connections: dict[str, Any] = {}
        self._microversion: tuple[int, int] | None | bool = False  # False: not asked yet
        self._catalog: dict[str, bool] = {}

    @classmethod
    def validate(cls, settings, credentials=None):
        errors: dict[str, str] = {}
        try:
            cleaned_settings, cleaned_credentials = super().validate(settings, credentials)
        except SettingsError as exc:
            errors.update(exc.errors)
            cleaned_settings, cleaned_credentials = dict(settings), dict(credentials or {})
        if cleaned_credentials.get("application_credential_id"):
            if not cleaned_credentials.get("application_credential_secret"):
                errors["application_credential_secret"] = "is required with application_credential_id"
        else:
            for name in ("username", "password", "project_name"):
                if not cleaned_credentials.get(name):
                    errors[name] = "is required (or give application_credential_id and application_credential_secret)"
        auth_url = cleaned_settings.get("auth_url")
        if auth_url and "auth_url" not in errors:
            problem = url_problem(auth_url, ("http", "https"))
            if problem:
                errors["auth_url"] = problem
        timeout = cleaned_settings.get("timeout", 30)
        if isinstance(timeout, int) and timeout < 1 and "timeout" not in errors:
            errors["timeout"] = "must be at least 1 second"
        page_size = cleaned_settings.get("page_size", 1000)
        if isinstance(page_size, int) and page_size < 1 and "page_size" not in errors:
            errors["page_size"] = "must be at least 1"
        if errors:
            raise SettingsError(errors)
        return cleaned_settings, cleaned_credentials

    # -- plumbing ---------------------------------------------------------------------------------

    @property
    def conn(self):
        if self._connection is None:
            self._connection = api.connect(self.settings, self.credentials)
        return self._connection

    @property
    def compute(self):
        return api.service(self.conn, "compute")

    @property
    def storage(self):
        return api.service(self.conn, "block_storage")

    @property
    def identity(self):
        return api.service(self.conn, "identity")

    @property
    def page_size(self) -> int:
        return max(1, int(self.settings.get("page_size") or 1000))

    def has_service(self, kind: str) -> bool:
        """Whether the token's service catalog lists ``kind`` (one of ``OPTIONAL_SERVICES``) in the
        configured region and interface. Volumes, images and networks are optional on a cloud."""
        if kind not in self._catalog:
            with translated("read the service catalog"):
                access = self.conn.session.auth.get_access(self.conn.session)
                endpoints = access.service_catalog.get_endpoints(
                    interface=self.settings.get("interface") or "public",
                    region_name=self.settings.get("region") or None)
            self._catalog[kind] = any(endpoints.get(alias) for alias in OPTIONAL_SERVICES[kind])
        return self._catalog[kind]

    def compute_microversion(self) -> tuple[int, int] | None:
        if self._microversion is False:
            self._microversion = api.max_microversion(self.compute, "discover the Compute API")
        return self._microversion

    def _mv(self, ceiling: tuple[int, int]) -> str | None:
        available = self.compute_microversion()
        return api.version_string(min(available, ceiling)) if available else None

    def close(self) -> None:
        for connection in [self._connection, *self._project_connections.values()]:
            if connection is not None:
                connection.close()
        self._connection = None
        self._project_connections.clear()

    # -- health -----------------------------------------------------------------------------------

    def health(self) -> Health:
        try:
            with translated("authenticate with Keystone"):
                self.conn.authorize()
            available = self.compute_microversion()
            body, response = api.call(self.compute, "GET", "/servers", "list servers",
                                      params={"limit": 1})
        except ProviderError as exc:
            return Health(False, str(exc))
        version = api.version_string(available) if available else "2.1"
        return Health(True, f"Keystone and Nova answer (compute API up to {version})",
                      checked_at=api.response_time(response) or utcnow(),
                      details={"compute_max_microversion": version, "project_id": self.conn.current_project_id})

    def probe(self) -> Probe:
        """Keystone takes the credentials; Nova's highest microversion; how many servers (all
        projects, one page at most) and Keystone projects there are. Both lists need the admin role,
        as the inventory does, so a user without it is told now rather than at the first refresh."""
        try:
            with translated("authenticate with Keystone"):
                self.conn.authorize()
        except ProviderAuthError as exc:
            cause = exc.__cause__
            status = getattr(cause, "http_status", None) or getattr(cause, "status_code", None)
            inner = getattr(cause, "__cause__", None) or getattr(cause, "__context__", None)
            status = status or getattr(inner, "http_status", None)
            detail = " (401)" if status == 401 else f": {exc}"
            raise ProviderAuthError(f"Keystone at {self.settings.get('auth_url')} refused the credentials of "
                                    f"{self._who()}{detail}") from exc
        available = self.compute_microversion()
        servers, _ = api.call(self.compute, "GET", "/servers", "list the servers of all projects", ADMIN,
                              params={"all_tenants": "True", "limit": self.page_size})
        listed = servers.get("servers")
        if not isinstance(listed, list):
            raise ProviderDataError("OpenStack answered the server list without a 'servers' list")
        more = any(isinstance(link, Mapping) and link.get("rel") == "next"
                   for link in servers.get("servers_links") or [])
        projects = self._projects()
        return Probe(product="nova", version=api.version_string(available) if available else "2.1",
                     where=str(self.settings.get("auth_url") or ""),
                     counts={"servers": len(listed), "projects": len(projects)},
                     capped=frozenset({"servers"}) if more else frozenset(),
                     details={"project_id": self.conn.current_project_id})

    def _who(self) -> str:
        """The credentials in words, for an error: never the password or secret."""
        if self.credentials.get("application_credential_id"):
            return f"application credential {self.credentials['application_credential_id']}"
        return (f"user {self.credentials.get('username')} (domain {self.credentials.get('user_domain') or 'Default'}, "
                f"project {self.credentials.get('project_name')})")

    # -- inventory --------------------------------------------------------------------------------

    def inventory(self, since: datetime | None = None) -> Inventory:
        """Everything the cloud holds now; with ``since``, also the servers deleted after it."""
        projects = self._projects()
        hosts, host_index = self._hypervisors()
        server_mv = self._mv(SERVER_MICROVERSION)
        needs_flavor_list = not self.compute_microversion() or self.compute_microversion() < EMBEDDED_FLAVOR
        flavors = self._flavors(server_mv) if needs_flavor_list else {}
        issues: list[DataIssue] = []
        servers, observed_at = self._servers(server_mv, flavors, host_index, issues)
        deleted = self._deleted_servers(server_mv, flavors, host_index, since, issues) if since else []
        volumes_too = self.has_service("block-storage")
        volumes = self._volumes(issues) if volumes_too else []
        facts = {p.external_id: self._project_facts(p.external_id, volumes_too) for p in projects}
        return Inventory(
            skipped=[] if volumes_too else [NO_VOLUMES],
            resources=hosts + servers + volumes,
            observed_at=observed_at or utcnow(),
            deleted=deleted,
            issues=issues,
            projects=projects,
            project_facts=facts,
            quotas={ref: readings(project) for ref, project in facts.items()},
        )

    def _projects(self) -> list[ObservedProject]:
        body, _ = api.call(self.identity, "GET", "/projects", "list Keystone projects", ADMIN)
        projects = []
        for record in body.get("projects") or []:
            if isinstance(record, Mapping) and record.get("id"):
                projects.append(ObservedProject(external_id=str(record["id"]), name=str(record.get("name") or ""),
                                                description=str(record.get("description") or "")))
        return projects

    def _hypervisors(self) -> tuple[list[ObservedResource], dict[str, str]]:
        hosts, index = [], {}
        for records, _ in api.pages(self.compute, "/os-hypervisors/detail", "hypervisors",
                                    "list hypervisors", role=ADMIN, microversion=self._mv(HYPERVISOR_MICROVERSION),
                                    page_size=self.page_size):
            for record in records:
                host = mapping.hypervisor_resource(record)
                hosts.append(host)
                index[host.name] = host.external_id
                if host.properties.get("service_host"):
                    index[str(host.properties["service_host"])] = host.external_id
        return hosts, index

    def _flavors(self, microversion: str | None) -> dict[str, Mapping]:
        flavors = {}
        for records, _ in api.pages(self.compute, "/flavors/detail", "flavors", "list flavors",
                                    microversion=microversion, params={"is_public": "None"},
                                    page_size=self.page_size):
            flavors.update({str(r.get("id")): r for r in records if isinstance(r, Mapping)})
        return flavors

    def _server_pages(self, microversion, params, doing):
        return api.pages(self.compute, "/servers/detail", "servers", doing, role=ADMIN, microversion=microversion,
                         params=params, page_size=self.page_size)

    def _servers(self, microversion, flavors, host_index, issues):
        """Every server; ``observed_at`` is the cloud's clock when it sent the first (non-empty) page."""
        resources, observed_at, first = [], None, None
        for records, response in self._server_pages(microversion, {"all_tenants": 1}, "list servers of all projects"):
            first = first or response
            if records and observed_at is None:
                observed_at = api.response_time(first)
            self._read_servers(records, flavors, host_index, resources, issues)
        return resources, observed_at

    def _deleted_servers(self, microversion, flavors, host_index, since, issues):
        changed: list[ObservedResource] = []
        params = {"all_tenants": 1, "changes-since": since.astimezone(UTC).isoformat()}
        for records, _ in self._server_pages(microversion, params, "list servers changed since the last refresh"):
            self._read_servers([r for r in records if isinstance(r, Mapping)
                                and str(r.get("status", "")).upper() == "DELETED"],
                               flavors, host_index, changed, issues)
        return changed

    @staticmethod
    @gc_paused()  # plain data in, plain data out (not held over requests: they leave cycles)
    def _read_servers(records, flavors, host_index, into, issues):
        """Map one page of server records into ``into``; an unreadable one becomes an issue."""
        read, append = mapping.server_resource, into.append
        for record in records:
            if not isinstance(record, Mapping):
                issues.append(DataIssue("?", f"server record is not an object: {record!r:.80}"))
                continue
            try:
                append(read(record, flavors, host_index))
            except ProviderDataError as exc:
                issues.append(DataIssue(str(record.get("id") or "?"), str(exc)))

    def _volumes(self, issues) -> list[ObservedResource]:
        volumes = []
        try:
            for records, _ in api.pages(self.storage, "/volumes/detail", "volumes", "list volumes of all projects",
                                        role=ADMIN, params={"all_tenants": 1}, page_size=self.page_size):
                for record in records:
                    try:
                        volumes.append(mapping.volume_resource(record))
                    except ProviderDataError as exc:
                        issues.append(DataIssue(str(record.get("id") or "?"), str(exc)))
        except ProviderDataError as exc:
            if not isinstance(exc.__cause__, EndpointNotFound):
                raise
            issues.append(DataIssue("block-storage", "no Cinder endpoint in the catalog: volumes not collected"))
        return volumes

    def _project_facts(self, project_id: str, volumes_too: bool = True) -> dict[str, Any]:
        compute = self.compute
        limits, _ = api.call(compute, "GET", "/limits", "read compute limits of another project", ADMIN,
                             microversion=self._mv(SERVER_MICROVERSION), params={"tenant_id": project_id})
        compute_quota, _ = api.call(compute, "GET", f"/os-quota-sets/{project_id}", "read compute quotas",
                                    ADMIN, microversion=self._mv(SERVER_MICROVERSION))
        volume_quota = {}
        if volumes_too:
            volume_quota, _ = api.call(self.storage, "GET", f"/os-quota-sets/{project_id}", "read volume quotas",
                                       ADMIN, params={"usage": "true"})
        return {
            "compute_limits": dict((limits.get("limits") or {}).get("absolute") or {}),
            "compute_quota": _without_id(compute_quota.get("quota_set")),
            "volume_quota": _without_id(volume_quota.get("quota_set")),
        }

    # -- accounting -------------------------------------------------------------------------------

    def usage_report(self, project_ref: str, start: datetime, end: datetime) -> UsageTotals:
        """Nova's os-simple-tenant-usage for one project over [start, end), every page summed."""
        params = {"start": _nova_time(start), "end": _nova_time(end)}
        available = self.compute_microversion()
        paged = bool(available and available >= USAGE_MICROVERSION)
        if paged:
            params["limit"] = self.page_size
        totals = {"vcpu": Decimal(0), "ram": Decimal(0), "disk": Decimal(0), "hours": Decimal(0)}
        servers: set[str] = set()
        seen_markers: set[str] = set()
        while True:
            body, _ = api.call(self.compute, "GET", f"/os-simple-tenant-usage/{project_ref}",
                               "read usage of another project", ADMIN,
                               microversion=api.version_string(USAGE_MICROVERSION) if paged else None,
                               params=params)
            usage = body.get("tenant_usage")
            if not isinstance(usage, Mapping):
                raise ProviderDataError("os-simple-tenant-usage answered without a tenant_usage object")
            for key, field in (("vcpu", "total_vcpus_usage"), ("ram", "total_memory_mb_usage"),
                               ("disk", "total_local_gb_usage"), ("hours", "total_hours")):
                totals[key] += _decimal(usage.get(field, 0), field)
            page_servers = [s.get("instance_id") for s in usage.get("server_usages") or [] if isinstance(s, Mapping)]
            servers.update(str(s) for s in page_servers if s)
            marker = _next_marker(body.get("tenant_usage_links"))
            if not paged or not marker or marker in seen_markers or not page_servers:
                break
            seen_markers.add(marker)
            params["marker"] = marker
        return UsageTotals(project_ref=project_ref, start=start, end=end, vcpu_hours=totals["vcpu"],
                           ram_mb_hours=totals["ram"], disk_gb_hours=totals["disk"],
                           instance_hours=totals["hours"], servers=len(servers))

    # -- lifecycle --------------------------------------------------------------------------------

    def _project_conn(self, project_id: str):
        with translated("authenticate with Keystone"):
            current = self.conn.current_project_id
        if project_id == current:
            return self.conn
        if self.credentials.get("application_credential_id"):
            raise ProviderAuthError(
                f"an application credential is bound to its own project; creating a server in project "
                f"{project_id} needs a username/password account with a role in that project")
        if project_id not in self._project_connections:
            conn = api.connect(self.settings, self.credentials, project_id)
            try:
                with translated(f"authenticate in project {project_id}"):
                    conn.authorize()
            except ProviderAuthError as exc:
                conn.close()
                raise ProviderAuthError(
                    f"user {self.credentials.get('username')!r} cannot act in project {project_id} on "
                    f"{self.settings['auth_url']}: Keystone gives it no token for that project; give it a "
                    f"role there (e.g. member)") from exc
            self._project_connections[project_id] = conn
        return self._project_connections[project_id]

    def flavor_size(self, ref: str) -> tuple[Decimal, int, Decimal]:
        """(vCPUs, RAM MB, disk GB) of the flavor with this id or name, for admission."""
        return mapping.flavor_size(self._find_flavor(ref))

    def _find_flavor(self, ref: str) -> Mapping:
        for flavor in self._flavors(self._mv(SERVER_MICROVERSION)).values():
            if ref in (flavor.get("id"), flavor.get("name")):
                return flavor
        raise ProviderDataError(f"the cloud has no flavor with the id or name {ref!r}")

    def launch_options(self, project_ref: str | None = None) -> LaunchOptions:
        """Servers from Glance's active images, of a Nova flavor, on ``auto`` (Nova gives the project
        a network), ``none`` or one Neutron network; without an image or network service in the
        catalog those lists are left out (an image id or network id may still be typed).

        Images and networks are those ``project_ref`` (default: the account's own project) can
        build with, not all the account's admin token sees: public images and the project's own;
        shared networks and the project's own (Neutron's ``shared`` and ``project_id`` filters)."""
        project = project_ref or self._current_project()
        flavors = []
        for flavor in self._flavors(self._mv(SERVER_MICROVERSION)).values():
            vcpus, ram, disk = mapping.flavor_size(flavor)
            name = str(flavor.get("name") or flavor.get("id"))
            flavors.append(LaunchFlavor(name, f"{name} ({vcpus} vCPU, {ram} MB RAM, {disk} GB disk)", vcpus, ram,
                                        disk))
        flavors.sort(key=lambda f: (f.vcpus, f.ram_mb, f.disk_gb or 0, f.value))
        notes = []
        images = self._project_images(project) if self.has_service("image") else []
        if not self.has_service("image"):
            notes.append("no image service in the catalog: type an image id")
        networks = [LaunchChoice("none", "none")]
        if self.has_service("network"):
            networks = [LaunchChoice("auto", "auto (Nova allocates one)"), *networks, *self._project_networks(project)]
        return LaunchOptions(kinds=(Kind.VM,), images=tuple(sorted(images, key=lambda c: (c.label, c.value))),
                             flavors=tuple(flavors), networks=tuple(networks), notes=tuple(notes),
                             image_required=self.has_service("image"))

    def _current_project(self) -> str:
        with translated("authenticate with Keystone"):
            return str(self.conn.current_project_id)

    def _project_images(self, project: str) -> list[LaunchChoice]:
        """Glance's active images ``project`` may boot: public (or community) ones and its own. An
        admin token lists every project's private images too; those are left out."""
        found = []
        for records, _ in api.pages(api.service(self.conn, "image"), "/images", "images", "list images",
                                    params={"status": "active"}, page_size=self.page_size):
            found += [LaunchChoice(str(i["id"]), str(i.get("name") or i["id"])) for i in records
                      if isinstance(i, Mapping) and i.get("id") and i.get("status", "active") == "active"
                      and (i.get("visibility") in ("public", "community") or i.get("owner") == project)]
        return found

    def _project_networks(self, project: str) -> list[LaunchChoice]:
        """Neutron's networks ``project`` may attach a server to: the shared ones and its own, by name.
        Two filtered lists (Neutron has no "or"), since an admin token's plain list has every
        project's networks."""
        adapter, found = api.service(self.conn, "network"), {}
        for params in ({"shared": "true"}, {"project_id": project}):
            for records, _ in api.pages(adapter, "/networks", "networks", "list networks", params=params,
                                        page_size=self.page_size):
                for n in records:
                    if isinstance(n, Mapping) and n.get("id") and (n.get("shared") or n.get("project_id", n.get(
                            "tenant_id")) == project):
                        found[str(n["id"])] = LaunchChoice(str(n["id"]), str(n.get("name") or n["id"]))
        return sorted(found.values(), key=lambda c: (c.label, c.value))

    def _image_id(self, ref: str) -> str:
        """An image id from an id or a name. An id goes to Nova as given: Nova looks it up in Glance
        as the project the server is made in (which our admin token cannot judge), and its refusal
        ("Can not find requested image") is what the user reads. A name is resolved through the
        image service (as given when there is none)."""
        if not ref or not self.has_service("image") or _UUID.fullmatch(ref):
            return ref
        body, _ = api.call(api.service(self.conn, "image"), "GET", "/images", f"look up the image named {ref}",
                           params={"name": ref})
        found = [i.get("id") for i in body.get("images") or [] if isinstance(i, Mapping)]
        if len(found) != 1:
            raise ProviderDataError(f"the image service has {'no' if not found else 'several'} image(s) "
                                    f"with the id or name {ref!r}")
        return str(found[0])

    def _networks(self, ref: str):
        """Nova's ``networks``: ``none``, ``auto``, or one network by id or name. No choice means
        ``auto`` where the catalog has a network service, else ``none``."""
        if not ref:
            return "auto" if self.has_service("network") else "none"
        if ref in ("auto", "none"):
            return ref
        if not self.has_service("network"):
            return [{"uuid": ref}]
        network = api.service(self.conn, "network")
        with translated(f"look up network {ref}"):
            response = network.request(f"/networks/{ref}", "GET", raise_exc=False)
        if response.status_code == 200:
            return [{"uuid": ref}]
        body, _ = api.call(network, "GET", "/networks", f"look up the network named {ref}", params={"name": ref})
        found = [n.get("id") for n in body.get("networks") or [] if isinstance(n, Mapping)]
        if len(found) != 1:
            raise ProviderDataError(f"the network service has {'no' if not found else 'several'} network(s) "
                                    f"with the id or name {ref!r}")
        return [{"uuid": str(found[0])}]

    def _choose_flavor(self, spec: ProvisionSpec) -> Mapping:
        if spec.flavor:
            return self._find_flavor(spec.flavor)
        flavors = list(self._flavors(self._mv(SERVER_MICROVERSION)).values())
        fitting = []
        for flavor in flavors:
            vcpus, ram, disk = mapping.flavor_size(flavor)
            if (spec.vcpus is None or vcpus >= spec.vcpus) and (spec.ram_mb is None or ram >= spec.ram_mb) \
                    and (spec.disk_gb is None or disk >= spec.disk_gb):
                fitting.append(((vcpus, ram, disk, str(flavor.get("name"))), flavor))
        if not fitting:
            raise ProviderDataError(
                f"no flavor has {spec.vcpus} vCPUs, {spec.ram_mb} MB RAM and {spec.disk_gb} GB disk")
        return min(fitting, key=lambda pair: pair[0])[1]

    def provision(self, spec: ProvisionSpec) -> ObservedResource:
        if spec.kind != Kind.VM:
            raise UnsupportedCapability(f"openstack provisions VMs, not {spec.kind}")
        flavor = self._choose_flavor(spec)
        microversion = self._mv(SERVER_MICROVERSION)  # >= 2.37 takes networks "none" and "auto"
        server: dict[str, Any] = {"name": spec.name, "flavorRef": flavor["id"],
                                  "networks": self._networks(spec.network)}
        if spec.image:
            server["imageRef"] = self._image_id(spec.image)
        if spec.labels:
            server["metadata"] = dict(spec.labels)
        conn = self._project_conn(spec.project)
        body, _ = api.call(api.service(conn, "compute"), "POST", "/servers", f"create a server in project {spec.project}",
                           microversion=microversion, json={"server": server})
        server_id = (body.get("server") or {}).get("id")
        if not server_id:
            raise ProviderDataError("Nova accepted the server but returned no id")
        return self._observe_server(conn, server_id, {str(flavor["id"]): flavor})

    def _observe_server(self, conn, server_id: str, flavors: Mapping[str, Mapping]) -> ObservedResource:
        body, _ = api.call(api.service(conn, "compute"), "GET", f"/servers/{server_id}", "read the new server",
                           microversion=self._mv(SERVER_MICROVERSION))
        _, host_index = self._hypervisors()
        return mapping.server_resource(body.get("server") or {}, flavors, host_index)

    def act(self, external_id: str, action: str) -> None:
        compute = self.compute
        if action == Action.DELETE:
            api.call(compute, "DELETE", f"/servers/{external_id}", f"delete server {external_id}", ADMIN,
                     expect_body=False)
            return
        bodies = {Action.START: {"os-start": None}, Action.STOP: {"os-stop": None},
                  Action.REBOOT: {"reboot": {"type": "SOFT"}}}
        if action not in bodies:
            raise UnsupportedCapability(f"openstack does not support the action {action!r}")
        try:
            api.call(compute, "POST", f"/servers/{external_id}/action", f"{action} server {external_id}", ADMIN,
                     microversion=self._mv(SERVER_MICROVERSION), json=bodies[action], expect_body=False)
        except ProviderDataError as exc:
            # 409: already in the wanted state is success for start/stop (idempotent)
            wanted = {Action.START: "ACTIVE", Action.STOP: "SHUTOFF"}.get(action)
            body, _ = api.call(compute, "GET", f"/servers/{external_id}", f"read server {external_id}", ADMIN)
            if wanted is None or (body.get("server") or {}).get("status") != wanted:
                raise exc

    # -- quotas -----------------------------------------------------------------------------------

    def read_quotas(self, project_ref: str) -> dict[str, QuotaReading]:
        """Nova's and Cinder's limits and usage for one Keystone project, by our key."""
        return readings(self._project_facts(project_ref))

    def apply_quota(self, project_ref: str, limits: Mapping[str, int]) -> Mapping[str, int]:
        """Push ``vms, vcpus, ram_mb`` to Nova and ``volumes, disk_gb`` to Cinder; -1 = unlimited.

        Only the keys in ``limits`` are written; the others keep the cloud's own limits. Volume keys
        are skipped when the catalog has no block-storage service; the answer then has none of them.

        Nova gets ``force`` so that a limit below current use is stored (Glasspane's own breach
        handling deals with the excess); Cinder stores it unvalidated by default.
        """
        nova, cinder = split_limits(limits)
        volumes_too = self.has_service("block-storage")  # without it, volume keys are skipped
        if nova:
            api.call(self.compute, "PUT", f"/os-quota-sets/{project_ref}", "update compute quotas", ADMIN,
                     microversion=self._mv(SERVER_MICROVERSION), json={"quota_set": {**nova, "force": True}})
        if cinder and volumes_too:
            api.call(self.storage, "PUT", f"/os-quota-sets/{project_ref}", "update volume quotas", ADMIN,
                     json={"quota_set": cinder})
        nova_now, _ = api.call(self.compute, "GET", f"/os-quota-sets/{project_ref}", "read compute quotas",
                               ADMIN, microversion=self._mv(SERVER_MICROVERSION))
        result = {}
        for ours, theirs in NOVA_KEYS.items():
            result[ours] = int((nova_now.get("quota_set") or {}).get(theirs, -1))
        if volumes_too:
            cinder_now, _ = api.call(self.storage, "GET", f"/os-quota-sets/{project_ref}",
                                     "read volume quotas", ADMIN)
            for ours, theirs in CINDER_KEYS.items():
                result[ours] = int((cinder_now.get("quota_set") or {}).get(theirs, -1))
        return result


def _without_id(quota_set: Any) -> dict:
    return {k: v for k, v in (quota_set or {}).items() if k != "id"} if isinstance(quota_set, Mapping) else {}


def _nova_time(when: datetime) -> str:
    """os-simple-tenant-usage takes naive UTC (``%Y-%m-%dT%H:%M:%S.%f``)."""
    if when.tzinfo is None:
        raise ValueError("usage_report takes timezone-aware datetimes")
    return when.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M:%S.%f")


def _decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ProviderDataError(f"{what} is not a number: {value!r}")
    try:
        return Decimal(str(value))
    except ArithmeticError:
        raise ProviderDataError(f"{what} is not a number: {value!r}") from None


def _next_marker(links: Any) -> str | None:
    for link in links or []:
        if isinstance(link, Mapping) and link.get("rel") == "next" and link.get("href"):
            return (parse_qs(urlparse(str(link["href"])).query).get("marker") or [None])[0]
    return None
