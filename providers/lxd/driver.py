"""``LXDDriver``: one LXD server (Debian's lxd 5.0, or any LXD speaking API 1.0) through pylxd.

What it reports: the server as a ``Kind.HOST``; every instance of every LXD project (or of the
projects named in the ``projects`` setting) as a ``Kind.CONTAINER`` or ``Kind.VM`` child of it,
with the id ``project/name``. An instance's project hint is its ``user.glasspane.project`` config
key when set (the ``project_key`` setting), else the name of its LXD project; its ``user.*`` keys
are passed on as labels for mapping rules. LXD projects are reported as the platform's projects
(so they can be mapped to Glasspane projects, or created with ``auto_create_projects``) and their
limits as quotas through the provider-neutral quota contract (``providers.lxd.quotas``).

Cost per refresh: ``/1.0``, ``/1.0/resources``, one ``/1.0/instances?recursion=1&all-projects``
(every instance with its config, devices and status: no call per instance), one project list and
one project state call per project; ``samples()`` is one ``recursion=2`` listing, which adds each
instance's state. Measured here (2 busy cores, LXD 5.0.2): 50 running containers list in ~25 ms
without state and ~3.5 s with it; LXD gathers state per instance from cgroups and namespaces.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import pylxd.exceptions
from ws4py.exc import HandshakeError

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
    ObservedEvent,
    ObservedProject,
    ObservedResource,
    Probe,
    ProviderDataError,
    ProviderError,
    ProvisionSpec,
    QuotaReading,
    Setting,
    SettingsError,
    UnsupportedCapability,
    UtilizationSample,
    url_problem,
    utcnow,
)
from providers.lxd import quotas
from providers.lxd.connection import LXDConnection, lxd_errors, socket_path, status_of
from providers.lxd.events import listen
from providers.lxd.mapping import (
    external_id,
    host_id,
    host_resource,
    instance_resource,
    root_disk,
    sample_from_state,
    split_external_id,
)

DEFAULT_PROJECT_KEY = "user.glasspane.project"
INSTANCE_TYPES = {Kind.CONTAINER: "container", Kind.VM: "virtual-machine"}


class LXDDriver(Driver):
    kind = "lxd"
    label = "LXD server (system containers and VMs)"
    settings_schema = (
        Setting("endpoint", label="Endpoint (socket or URL)", required=True, endpoint=True,
                help="unix socket (unix:///var/lib/lxd/unix.socket, or a path) or https://host:8443"),
        Setting("verify", label="Verify TLS certificate", type="bool", default=True,
                help="verify the server's TLS certificate (https only): pinned to server_cert when given, "
                     "else against certifi's CA bundle"),
        Setting("timeout", label="Timeout (seconds)", type="int", default=10, help="seconds to wait for any one LXD call"),
        Setting("projects", label="LXD projects to collect", default="", help="comma-separated LXD projects to collect (empty: all)"),
        Setting("project_key", label="Project config key", default=DEFAULT_PROJECT_KEY,
                help="instance config key naming the Glasspane project (else the LXD project's name)"),
        Setting("provision_project", label="LXD project for new instances", default="default",
                help="LXD project for new instances of a Glasspane project with no LXD project of its name"),
        Setting("default_image", default="",
                help="image alias or fingerprint for provisioning requests that name none"),
        Setting("host_resource", label="Runs in VM", help="name of the VM (seen by another provider) this LXD server runs in"),
    )
    credentials_schema = (
        Setting("client_cert", label="Client certificate", secret=True, help="client certificate, PEM (https endpoints)"),
        Setting("client_key", label="Client key", secret=True, help="client private key, PEM"),
        Setting("server_cert", label="Server certificate", secret=True, help="the server's certificate to pin, PEM (https endpoints)"),
        Setting("trust_password", secret=True,
                help="the server's core.trust_password (or a trust token on LXD 5.21+), used once to have the client certificate trusted"),
    )
    capabilities = frozenset({Capability.SAMPLES, Capability.PROVISION, Capability.ACTIONS,
                              Capability.APPLY_QUOTA, Capability.EVENTS})
    quota_keys = frozenset(quotas.LIMITS)

    def __init__(self, settings: Mapping[str, Any], credentials: Mapping[str, Any] | None = None):
        defaults = {s.name: s.default for s in self.settings_schema if s.default is not None}
        super().__init__({**defaults, **dict(settings)}, credentials)
        self.endpoint: str = self.settings["endpoint"]
        self.connection = LXDConnection(self.settings, self.credentials)
        self.only_projects = {p.strip() for p in str(self.settings.get("projects") or "").split(",") if p.strip()}
        #: instances the last ``samples()`` call had to leave out, and why
        self.sample_issues: list[DataIssue] = []
        #: unreadable events the last ``events()`` stream skipped
        self.event_issues: list[str] = []
        self._host_memory: int | None = None
        self._streams: list = []

    @classmethod
    def validate(cls, settings, credentials=None):
        cleaned, creds = super().validate(settings, credentials)
        errors = {}
        endpoint = cleaned.get("endpoint", "")
        path = socket_path(endpoint)
        if path is None and not endpoint.startswith("https://"):
            errors["endpoint"] = f"must be unix:///path/unix.socket, /path/unix.socket or https://host:port, got {endpoint!r}"
        if path is not None and not path.startswith("/"):
            errors["endpoint"] = f"the socket path must be absolute, got {endpoint!r}"
        if path is None and endpoint.startswith("https://"):
            problem = url_problem(endpoint, ("https",))
            if problem:
                errors["endpoint"] = problem
        if cleaned.get("timeout", 10) <= 0:
            errors["timeout"] = "must be at least 1 second"
        if bool(creds.get("client_cert")) != bool(creds.get("client_key")):
            errors["client_key"] = "client_cert and client_key go together"
        if endpoint.startswith("https://") and not creds.get("client_cert"):
            errors["client_cert"] = "LXD over https authenticates clients by certificate: give client_cert and client_key"
        if creds.get("trust_password") and not creds.get("client_cert"):
            errors["trust_password"] = "a trust password adds a client certificate: give client_cert and client_key too"
        if errors:
            raise SettingsError(errors)
        return cleaned, creds

    # -- plumbing ---------------------------------------------------------------------------------

    @property
    def client(self):
        return self.connection.client

    def _errors(self):
        return lxd_errors(self.endpoint, self.connection.timeout)

    def _get(self, node, what: str, **params) -> Any:
        """``GET`` one API node and return its ``metadata``; unreadable answers are data errors."""
        with self._errors():
            response = node.get(params=params) if params else node.get()
        try:
            return response.json()["metadata"]
        except (ValueError, KeyError, TypeError):
            raise ProviderDataError(f"LXD at {self.endpoint} answered {what} with something unreadable") from None

    def _wait(self, response) -> None:
        """Wait for the background operation a mutating call started; its failure is LXD's refusal."""
        try:
            operation = response.json().get("operation")
        except ValueError:
            operation = None
        if operation:
            self.client.operations.wait_for_operation(operation)

    def close(self) -> None:
        for stream in self._streams:
            stream.close()  # ends an event stream nobody finished reading
        self._streams = []
        self.connection.close()

    # -- health and inventory ---------------------------------------------------------------------

    def health(self) -> Health:
        try:
            with self._errors():
                server = self.client.host_info
        except ProviderError as exc:
            return Health(False, str(exc), details={"endpoint": self.endpoint})
        env = server.get("environment") or {}
        return Health(True, f"LXD {env.get('server_version', '?')} answering at {self.endpoint} "
                            f"({env.get('server_name', '?')}, drivers: {env.get('driver', '?')})",
                      details={"version": env.get("server_version"), "api_version": server.get("api_version"),
                               "driver": env.get("driver"), "server_name": env.get("server_name")})

    def probe(self) -> Probe:
        """The server's LXD version and name, and how many instances (all projects) and projects it has."""
        with self._errors():
            server = self.client.host_info
        env = server.get("environment") or {} if isinstance(server, Mapping) else {}
        instances = self._get(self.client.api.instances, "the instance list", recursion=0,
                              **{"all-projects": "true"})
        projects = self._get(self.client.api.projects, "the project list", recursion=0)
        if not isinstance(instances, list) or not isinstance(projects, list):
            raise ProviderDataError(f"LXD at {self.endpoint} answered the instance or project list with no list")
        return Probe(product="LXD", version=str(env.get("server_version") or "?"), where=self.endpoint,
                     host=str(env.get("server_name") or ""),
                     counts={"instances": len(instances), "projects": len(projects)},
                     details={"api_version": server.get("api_version"), "driver": env.get("driver"),
                              "auth": server.get("auth")})

    def _instances(self, with_state: bool = False) -> list[Mapping[str, Any]]:
        """Every instance of every project; ``with_state`` adds each one's state (recursion=2),
        which costs LXD tens of milliseconds per running instance (cgroups, network namespaces)."""
        listing = self._get(self.client.api.instances, "the instance list", recursion=2 if with_state else 1,
                            **{"all-projects": "true"})
        if not isinstance(listing, list):
            raise ProviderDataError(f"LXD at {self.endpoint} answered the instance list with {type(listing).__name__}")
        return listing

    def _wanted(self, project: str) -> bool:
        return not self.only_projects or project in self.only_projects

    def inventory(self, since: datetime | None = None) -> Inventory:
        with self._errors():
            server = self.client.host_info
        skipped: list[str] = []
        try:
            resources_doc = self._get(self.client.api.resources, "/1.0/resources")
            self._host_memory = (resources_doc.get("memory") or {}).get("total")
        except ProviderError as exc:
            resources_doc = None
            skipped.append(f"host resources not read ({exc}): host size and percentage memory limits unknown")
        listing = self._instances()
        observed_at = utcnow()
        try:
            host = host_resource(server, resources_doc, endpoint=self.endpoint,
                                 host_name=self.settings.get("host_resource"))
        except (ProviderDataError, TypeError, ValueError, AttributeError) as exc:
            raise ProviderDataError(f"LXD at {self.endpoint} sent an unreadable /1.0: {exc}") from None
        resources: list[ObservedResource] = [host]
        issues: list[DataIssue] = []
        project_key = self.settings["project_key"]
        for document in listing:
            ref = _ref(document)
            if not isinstance(document, Mapping):
                issues.append(DataIssue("", f"instance list entry is not an object: {str(document)[:100]}"))
                continue
            if not self._wanted(str(document.get("project") or "default")):
                continue
            try:
                resources.append(instance_resource(document, host_external_id=host.external_id,
                                                   project_key=project_key, host_memory_bytes=self._host_memory))
            except ProviderDataError as exc:
                issues.append(DataIssue(ref, f"instance {ref}: {exc}"))
        projects, facts, readings = self._projects(issues)
        # An instance we could not read is not a deleted one: say the answer is partial.
        unreadable_instances = any(not issue.external_id.startswith("project:") for issue in issues)
        return Inventory(resources=resources, observed_at=observed_at, issues=issues,
                         projects=projects, project_facts=facts, quotas=readings,
                         complete=not unreadable_instances, skipped=skipped)

    def _projects(self, issues: list[DataIssue]):
        listing = self._get(self.client.api.projects, "the project list", recursion=1)
        projects, facts, readings = [], {}, {}
        for document in listing or []:
            if not isinstance(document, Mapping) or not document.get("name"):
                issues.append(DataIssue("project:", f"project list entry without a name: {str(document)[:100]}"))
                continue
            name = str(document["name"])
            if not self._wanted(name):
                continue
            projects.append(ObservedProject(name, name, str(document.get("description") or "")))
            config = document.get("config") or {}
            try:
                usage = self._get(self.client.api.projects[name].state, f"the state of project {name}")
                usage = (usage or {}).get("resources") or {}
            except ProviderError as exc:
                usage = {}
                issues.append(DataIssue(f"project:{name}", f"usage of LXD project {name} not read: {exc}"))
            try:
                readings[name] = quotas.readings(config, usage)
            except ProviderDataError as exc:
                issues.append(DataIssue(f"project:{name}", f"limits of LXD project {name}: {exc}"))
            facts[name] = quotas.project_facts(config, usage)
        return projects, facts, readings

    # -- samples ----------------------------------------------------------------------------------

    def samples(self, external_ids: Iterable[str] | None = None) -> list[UtilizationSample]:
        """Samples from one instance listing with state (``recursion=2``)."""
        listing = self._instances(with_state=True)
        at = utcnow()
        wanted = set(external_ids) if external_ids is not None else None
        self.sample_issues = []
        result = []
        for document in listing:
            ref = _ref(document)
            if wanted is not None and ref not in wanted:
                continue
            if not isinstance(document, Mapping) or not self._wanted(str(document.get("project") or "default")):
                continue
            state = document.get("state")
            if not isinstance(state, Mapping):
                continue
            try:
                found = instance_resource(document, host_external_id="", project_key=self.settings["project_key"],
                                          host_memory_bytes=self._host_memory)
                sample = sample_from_state(ref, state, at, ram_mb=found.ram_mb)
            except ProviderDataError as exc:
                self.sample_issues.append(DataIssue(ref, str(exc)))
                continue
            if sample is not None:
                result.append(sample)
        return result

    # -- events -----------------------------------------------------------------------------------

    def events(self, stop: threading.Event | None = None, timeout: float | None = None) -> Iterator[ObservedEvent]:
        """Instance lifecycle events of every project, subscribed before this returns."""
        with self._errors():
            try:
                stream = listen(self.client, stop=stop, timeout=timeout, issues=self.event_issues)
            except OSError as exc:  # ws4py connects with a plain socket
                raise ConnectionError(str(exc)) from exc
            except HandshakeError as exc:
                raise ProviderError(f"LXD at {self.endpoint} refused the event stream: {exc}") from None
        self._streams.append(stream)
        return stream

    # -- lifecycle --------------------------------------------------------------------------------

    def _project_exists(self, name: str) -> bool:
        with self._errors():
            try:
                self.client.api.projects[name].get()
                return True
            except pylxd.exceptions.NotFound:
                return False

    def _root_pool(self, project: str) -> str:
        """The storage pool of the default profile's root disk (a size needs the whole device)."""
        profile = self._get(self.client.api.profiles["default"], "the default profile", project=project)
        _, device = root_disk((profile or {}).get("devices") or {})
        if not device or not device.get("pool"):
            raise ProviderError(f"the default profile of LXD project {project} has no root disk on a storage pool; "
                                "cannot give the instance a root disk size")
        return str(device["pool"])

    def launch_options(self, project_ref: str | None = None) -> LaunchOptions:
        """Containers and VMs from the images the server holds in ``provision_project`` (by alias,
        else fingerprint; each for the instance type it was built for), on the default profile's
        network; the account's ``default_image`` is used when none is picked."""
        records = self._get(self.client.api.images, "the image list",
                            project=self.settings["provision_project"], recursion=1)
        by_type = {name: kind for kind, name in INSTANCE_TYPES.items()}
        images = []
        for record in records if isinstance(records, list) else []:
            if not isinstance(record, Mapping) or not record.get("fingerprint"):
                continue
            aliases = [a.get("name") for a in record.get("aliases") or [] if isinstance(a, Mapping) and a.get("name")]
            value = str(aliases[0] if aliases else record["fingerprint"])
            description = str((record.get("properties") or {}).get("description") or "")
            kind = by_type.get(str(record.get("type") or "container"))
            images.append(LaunchChoice(value, f"{value} ({description})" if description else value,
                                       (kind,) if kind else ()))
        return LaunchOptions(kinds=(Kind.CONTAINER, Kind.VM), images=tuple(sorted(images, key=lambda c: c.value)),
                             image_required=not self.settings.get("default_image"))

    def provision(self, spec: ProvisionSpec) -> ObservedResource:
        if spec.kind not in INSTANCE_TYPES:
            raise UnsupportedCapability(f"LXD provisions containers and VMs, not {spec.kind!r}")
        image = spec.image or self.settings.get("default_image") or ""
        if not image:
            raise ProviderError("an LXD instance needs an image; the request named none and the account has no "
                                "default_image")
        project_key = self.settings["project_key"]
        config: dict[str, str] = {f"user.{k}": str(v) for k, v in dict(spec.labels).items()}
        if self._project_exists(spec.project):
            project = spec.project
        else:
            project = self.settings["provision_project"]
            config[project_key] = spec.project
        if spec.vcpus is not None:
            whole = int(spec.vcpus.to_integral_value(rounding="ROUND_CEILING"))
            config["limits.cpu"] = str(max(whole, 1))
            if spec.vcpus != whole:
                config["limits.cpu.allowance"] = f"{int(spec.vcpus * 100)}ms/100ms"
        if spec.ram_mb:
            config["limits.memory"] = f"{int(spec.ram_mb)}MiB"
        devices = {}
        if spec.disk_gb:
            pool = self._root_pool(project)
            size_mib = int((Decimal(spec.disk_gb) * 1024).to_integral_value(rounding="ROUND_CEILING"))
            devices["root"] = {"type": "disk", "path": "/", "pool": pool, "size": f"{size_mib}MiB"}
        source = ({"type": "image", "fingerprint": image} if _looks_like_fingerprint(image)
                  else {"type": "image", "alias": image})
        body = {"name": spec.name, "type": INSTANCE_TYPES[spec.kind], "source": source,
                "config": config, "devices": devices}
        node = self.client.api.instances
        with self._errors():
            try:
                self._wait(node.post(json=body, params={"project": project}))
            except pylxd.exceptions.LXDAPIException as exc:
                message = str(exc)
                if status_of(exc) == 404 or ("not found" in message.lower() and "image" in message.lower()):
                    raise ProviderError(f"image {image!r} is not on the LXD server at {self.endpoint} "
                                        f"(project {project}): import it there first ({message})") from None
                raise
            try:
                self._set_state(project, spec.name, "start")
            except (pylxd.exceptions.LXDAPIException, ProviderError):
                self._delete(project, spec.name)
                raise
        return self._observe(project, spec.name)

    def _observe(self, project: str, name: str) -> ObservedResource:
        document = self._get(self.client.api.instances[name], f"instance {project}/{name}",
                             project=project, recursion=1)
        if not isinstance(document.get("state"), Mapping):  # recursion=1 on one instance: state apart
            document = {**document, "state": self._get(self.client.api.instances[name].state,
                                                       f"the state of {project}/{name}", project=project)}
        return instance_resource(document, host_external_id=host_id(self.client.host_info),
                                 project_key=self.settings["project_key"], host_memory_bytes=self._host_memory)

    def _set_state(self, project: str, name: str, action: str, force: bool = False, timeout: int = 30) -> None:
        node = self.client.api.instances[name].state
        self._wait(node.put(json={"action": action, "timeout": timeout, "force": force},
                            params={"project": project}))

    def _delete(self, project: str, name: str) -> None:
        try:
            self._set_state(project, name, "stop", force=True)
        except pylxd.exceptions.LXDAPIException:
            pass  # already stopped
        try:
            self._wait(self.client.api.instances[name].delete(params={"project": project}))
        except pylxd.exceptions.NotFound:
            pass

    def act(self, external_id: str, action: str) -> None:
        if action not in Action.ALL:
            raise UnsupportedCapability(f"unknown action {action!r} (known: {', '.join(Action.ALL)})")
        project, name = split_external_id(external_id)
        node = self.client.api.instances[name]
        with self._errors():
            try:
                state = node.state.get(params={"project": project}).json()["metadata"]
            except pylxd.exceptions.NotFound:
                if action == Action.DELETE:
                    return  # already gone: deleting is idempotent
                raise ProviderError(f"instance {external_id} no longer exists on {self.endpoint}; "
                                    f"cannot {action} it") from None
            status = state.get("status", "")
            if action == Action.DELETE:
                self._delete(project, name)
            elif action == Action.START and status == "Running" or action == Action.STOP and status == "Stopped":
                return  # already there: starting and stopping are idempotent
            elif action == Action.START and status == "Frozen":
                self._set_state(project, name, "unfreeze")
            elif action == Action.STOP:
                try:
                    self._set_state(project, name, "stop", timeout=30)
                except pylxd.exceptions.LXDAPIException:
                    self._set_state(project, name, "stop", force=True)  # did not shut down in time
            else:
                self._set_state(project, name, {Action.START: "start", Action.REBOOT: "restart"}[action])

    # -- quotas -----------------------------------------------------------------------------------

    def read_quotas(self, project_ref: str) -> Mapping[str, QuotaReading]:
        project = self._project(project_ref)
        usage = self._get(self.client.api.projects[project_ref].state, f"the state of project {project_ref}")
        return quotas.readings(project.get("config") or {}, (usage or {}).get("resources") or {})

    def _project(self, name: str) -> Mapping[str, Any]:
        with self._errors():
            try:
                self.client.api.projects[name].get()
            except pylxd.exceptions.NotFound:
                raise ProviderError(f"LXD at {self.endpoint} has no project {name!r}") from None
        return self._get(self.client.api.projects[name], f"project {name}")

    def apply_quota(self, project_ref: str, limits: Mapping[str, int]) -> Mapping[str, int]:
        """Write the given keys to the LXD project's ``limits.*`` (-1 unsets); leave every other key.

        Read-modify-write with the project's ETag, so a concurrent change on the server makes this
        fail (and be retried) instead of being overwritten.
        """
        node = self.client.api.projects[project_ref]
        with self._errors():
            try:
                response = node.get()
            except pylxd.exceptions.NotFound:
                raise ProviderError(f"LXD at {self.endpoint} has no project {project_ref!r}") from None
        current = response.json()["metadata"]
        try:
            config, changed = quotas.updated_config(current.get("config") or {}, limits)
        except ValueError as exc:
            raise ProviderError(str(exc)) from None
        if changed:
            headers = {"If-Match": response.headers["ETag"]} if response.headers.get("ETag") else {}
            with self._errors():
                node.put(json={"config": config, "description": current.get("description", "")}, headers=headers)
        return {key: reading.limit for key, reading in self.read_quotas(project_ref).items()}


def _ref(document: Any) -> str:
    if isinstance(document, Mapping) and document.get("name"):
        return external_id(str(document.get("project") or "default"), str(document["name"]))
    return ""


def _looks_like_fingerprint(image: str) -> bool:
    return len(image) >= 12 and all(c in "0123456789abcdef" for c in image)
