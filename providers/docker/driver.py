"""``DockerDriver``: one Docker-API engine (dockerd or podman) as inventory, samples and actions.

What it reports: the engine itself as a ``Kind.HOST`` (linked by name to the VM it runs in, when
another account knows that VM) and every container, stopped ones included, as a
``Kind.CONTAINER`` child of it. A container's project hint is the value of its ``project_label``
label; all labels are passed on so the collector's mapping rules can use others (compose's
``com.docker.compose.project``).

Cost per refresh: ``/info``, ``/version``, one list call, and one inspect per container (the list
lacks limits and start/finish times), fanned out over ``stats_workers`` threads; ``samples()`` is
one list call and one stats call per running container over the same pool.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

import docker.errors
import requests.exceptions

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
    url_problem,
    utcnow,
)
from providers.docker import events as docker_events
from providers.docker.connection import SCHEMES, EngineConnection, engine_errors, translate
from providers.docker.containers import (
    MIB,
    container_resource,
    engine_product,
    engine_resource,
    parse_time,
)
from providers.docker.parallel import Skip, fan_out
from providers.docker.stats import sample_from_stats, supports_one_shot

DEFAULT_PROJECT_LABEL = "glasspane.project"


class DockerDriver(Driver):
    kind = "docker"
    label = "Docker engine (dockerd or podman)"
    settings_schema = (
        Setting(
            "base_url", label="Engine address",
            required=True,
            endpoint=True,
            help="engine address: unix:///var/run/docker.sock, unix:///run/podman/podman.sock, tcp://host:2376",
        ),
        Setting(
            "tls", label="Use TLS",
            type="bool",
            default=False,
            help="use TLS (tcp:// only); certificates go in the credentials",
        ),
        Setting("timeout", label="Timeout (seconds)", type="int", default=10, help="seconds to wait for any one engine call"),
        Setting(
            "project_label",
            default=DEFAULT_PROJECT_LABEL,
            help="container label whose value names the project",
        ),
        Setting("host_resource", label="Runs in VM", help="name of the VM (seen by another provider) this engine runs in"),
        Setting("stats_workers", label="Parallel stats calls", type="int", default=8, help="parallel inspect/stats calls (1-64)"),
    )
    credentials_schema = (
        Setting("tls_client_cert", label="TLS client certificate", secret=True, help="client certificate, PEM"),
        Setting("tls_client_key", label="TLS client key", secret=True, help="client private key, PEM"),
        Setting("tls_ca_cert", label="TLS CA certificate", secret=True, help="CA that signed the engine's certificate, PEM"),
    )
    capabilities = frozenset({Capability.SAMPLES, Capability.PROVISION, Capability.ACTIONS, Capability.EVENTS,
                              Capability.EVENT_REPLAY})

    def __init__(self, settings: Mapping[str, Any], credentials: Mapping[str, Any] | None = None):
        defaults = {s.name: s.default for s in self.settings_schema if s.default is not None}
        super().__init__({**defaults, **dict(settings)}, credentials)
        self.base_url: str = self.settings["base_url"]
        self.workers = int(self.settings["stats_workers"])
        self.connection = EngineConnection(self.settings, self.credentials, pool_size=self.workers)
        #: containers the last ``samples()`` call had to leave out, and why (for the run log)
        self.sample_issues: list[DataIssue] = []

    @classmethod
    def validate(cls, settings, credentials=None):
        cleaned, creds = super().validate(settings, credentials)
        errors = {}
        base_url = cleaned.get("base_url", "")
        if not base_url.startswith(SCHEMES):
            errors["base_url"] = f"must start with one of {', '.join(SCHEMES)}, got {base_url!r}"
        elif not base_url.startswith("unix://"):
            problem = url_problem(base_url, ("tcp", "http", "https"), need_port=base_url.startswith("tcp://"))
            if problem:
                errors["base_url"] = problem
        if cleaned.get("tls") and base_url.startswith("unix://"):
            errors["tls"] = (
                "TLS applies to tcp:// engines only; a unix socket is protected by its file permissions"
            )
        if cleaned.get("timeout", 10) <= 0:
            errors["timeout"] = "must be at least 1 second"
        if not 1 <= cleaned.get("stats_workers", 8) <= 64:
            errors["stats_workers"] = "must be between 1 and 64"
        if bool(creds.get("tls_client_cert")) != bool(creds.get("tls_client_key")):
            errors["tls_client_key"] = "tls_client_cert and tls_client_key go together"
        if errors:
            raise SettingsError(errors)
        return cleaned, creds

    # -- plumbing ---------------------------------------------------------------------------------

    @property
    def api(self) -> docker.APIClient:
        return self.connection.api

    def _errors(self):
        return engine_errors(self.base_url, self.connection.timeout)

    def close(self) -> None:
        self.connection.close()

    # -- health and inventory ---------------------------------------------------------------------

    def health(self) -> Health:
        try:
            with self._errors():
                self.api.ping()
                version = self.connection.version_info
        except ProviderError as exc:
            return Health(False, str(exc), details={"base_url": self.base_url})
        product = engine_product(version)
        return Health(
            True,
            f"{product} {version.get('Version', '?')} answering at {self.base_url} (API {self.api.api_version})",
            details={
                "engine": product,
                "version": version.get("Version"),
                "api_version": self.api.api_version,
            },
        )

    def probe(self) -> Probe:
        """The engine's product and version, and its container and image counts (from ``/info``)."""
        with self._errors():
            info = self.api.info()
            version = self.connection.version_info
        if not isinstance(info, Mapping):
            raise ProviderDataError(f"the Docker engine at {self.base_url} sent unreadable /info")
        counts = {}
        for noun, key in (("containers", "Containers"), ("running", "ContainersRunning"), ("images", "Images")):
            if isinstance(info.get(key), int):
                counts[noun] = info[key]
        return Probe(product=engine_product(version), version=str(version.get("Version") or "?"),
                     where=self.base_url, host=str(info.get("Name") or ""), counts=counts,
                     details={"api_version": self.api.api_version, "os": info.get("OperatingSystem")})

    def inventory(self, since: datetime | None = None) -> Inventory:
        with self._errors():
            info = self.api.info()
            version = self.connection.version_info
            listing = self.api.containers(all=True)
        try:
            engine = engine_resource(
                info, version, base_url=self.base_url, host_resource=self.settings.get("host_resource")
            )
            observed_at = parse_time(info.get("SystemTime")) or utcnow()
        except (ProviderDataError, TypeError, ValueError) as exc:
            raise ProviderDataError(
                f"the Docker engine at {self.base_url} sent unreadable /info: {exc}"
            ) from None
        resources: list[ObservedResource] = [engine]
        issues: list[DataIssue] = []
        ids = [entry["Id"] for entry in listing if isinstance(entry, Mapping) and entry.get("Id")]
        if len(ids) != len(listing):
            issues.append(DataIssue("", f"{len(listing) - len(ids)} container list entries had no Id"))
        project_label = self.settings["project_label"]
        for container_id, outcome in fan_out(self._inspect, ids, self.workers):
            if isinstance(outcome, Skip):
                if not outcome.vanished:
                    issues.append(DataIssue(container_id, outcome.reason))
                continue
            try:
                resources.append(
                    container_resource(
                        outcome, engine_external_id=engine.external_id, project_label=project_label
                    )
                )
            except ProviderDataError as exc:
                issues.append(DataIssue(container_id, f"container {container_id[:12]}: {exc}"))
        # A container we failed to read is not a deleted one: say the answer is partial.
        return Inventory(resources=resources, observed_at=observed_at, issues=issues, complete=not issues)

    def _inspect(self, container_id: str) -> Mapping[str, Any]:
        return self._per_container(self.api.inspect_container, container_id, "inspect")

    def _per_container(self, call, container_id: str, what: str, **kwargs):
        """One per-container call: vanished and timed-out containers become ``Skip``."""
        try:
            return call(container_id, **kwargs)
        except docker.errors.NotFound:
            raise Skip("removed while being read", vanished=True) from None
        except requests.exceptions.Timeout:
            raise Skip(
                f"{what} of container {container_id[:12]} timed out after {self.connection.timeout} s"
            ) from None
        except docker.errors.APIError as exc:
            if exc.status_code in (401, 403):
                raise translate(exc, self.base_url) from exc
            # e.g. 409/500 "container is not running" when it stopped between list and call
            raise Skip(f"{what} of container {container_id[:12]} failed: {exc.explanation or exc}") from None
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise translate(exc, self.base_url, self.connection.timeout) from exc

    # -- samples ----------------------------------------------------------------------------------

    def samples(self, external_ids: Iterable[str] | None = None) -> list[UtilizationSample]:
        with self._errors():
            running = self.api.containers(filters={"status": "running"})
        ids = [entry["Id"] for entry in running if entry.get("Id")]
        if external_ids is not None:
            wanted = set(external_ids)
            ids = [container_id for container_id in ids if container_id in wanted]
        one_shot = True if supports_one_shot(self.api.api_version) else None
        self.sample_issues = []
        result = []
        for container_id, outcome in fan_out(lambda cid: self._stats(cid, one_shot), ids, self.workers):
            if isinstance(outcome, Skip):
                if not outcome.vanished:
                    self.sample_issues.append(DataIssue(container_id, outcome.reason))
            elif outcome is not None:
                result.append(outcome)
        return result

    def _stats(self, container_id: str, one_shot: bool | None) -> UtilizationSample | None:
        document = self._per_container(self.api.stats, container_id, "stats", stream=False, one_shot=one_shot)
        try:
            return sample_from_stats(container_id, document)
        except ProviderDataError as exc:
            raise Skip(str(exc)) from None

    # -- lifecycle --------------------------------------------------------------------------------

    def launch_options(self, project_ref: str | None = None) -> LaunchOptions:
        """Containers from the images the engine holds (no registry is asked: what is not local
        would fail at create), on one of its networks (``none`` has no network at all)."""
        with self._errors():
            images = self.api.images()
            networks = self.api.networks()
        tags = sorted({tag for image in images for tag in (image.get("RepoTags") or [])
                       if tag and not tag.startswith("<none>")})
        names = sorted({str(n.get("Name")) for n in networks if n.get("Name")} | {"none"})
        return LaunchOptions(
            kinds=(Kind.CONTAINER,),
            images=tuple(LaunchChoice(tag, tag) for tag in tags),
            networks=tuple(LaunchChoice(name, "no network" if name == "none" else name) for name in names),
            image_required=True,
        )

    def provision(self, spec: ProvisionSpec) -> ObservedResource:
        if spec.kind != Kind.CONTAINER:
            raise UnsupportedCapability(f"a Docker engine provisions containers, not {spec.kind!r}")
        if not spec.image:
            raise ProviderError("a container needs an image; the request named none")
        labels = {**dict(spec.labels), self.settings["project_label"]: spec.project}
        with self._errors():
            host_config = self.api.create_host_config(
                nano_cpus=int(spec.vcpus * 10**9) if spec.vcpus else None,
                mem_limit=spec.ram_mb * MIB if spec.ram_mb else None,
                network_mode=spec.network or None,
            )
            try:
                created = self.api.create_container(
                    spec.image,
                    command=list(spec.command) or None,
                    name=spec.name or None,
                    labels=labels,
                    host_config=host_config,
                )
            except docker.errors.ImageNotFound:
                raise ProviderError(
                    f"image {spec.image!r} is not on the engine at {self.base_url}; pull or load it there first"
                ) from None
            container_id = created["Id"]
            try:
                self.api.start(container_id)
            except docker.errors.APIError:
                self.api.remove_container(container_id, force=True)
                raise
            inspected = self.api.inspect_container(container_id)
            engine = engine_resource(
                self.api.info(), self.connection.version_info, base_url=self.base_url, host_resource=None
            )
        return container_resource(
            inspected, engine_external_id=engine.external_id, project_label=self.settings["project_label"]
        )

    def act(self, external_id: str, action: str) -> None:
        calls = {
            Action.START: self.api.start,
            Action.STOP: self.api.stop,
            Action.REBOOT: self.api.restart,
            Action.DELETE: lambda cid: self.api.remove_container(cid, force=True),
        }
        if action not in calls:
            raise UnsupportedCapability(f"unknown action {action!r} (known: {', '.join(Action.ALL)})")
        with self._errors():
            try:
                calls[action](external_id)
            except docker.errors.NotFound:
                if action == Action.DELETE:
                    return  # already gone: deleting is idempotent
                raise ProviderError(
                    f"container {external_id[:12]} no longer exists on {self.base_url}; cannot {action} it"
                ) from None

    # -- events -------------------------------------------------------------------------------------

    def events(self, stop: threading.Event | None = None, timeout: float | None = None,
               since: datetime | None = None) -> Iterator[ObservedEvent]:
        """Container lifecycle events from ``GET /events`` (``providers.docker.events``), replayed
        from ``since`` when given (``Capability.EVENT_REPLAY``). A helper thread closes the stream
        once ``stop`` is set or ``timeout`` seconds have passed."""
        stop = stop if stop is not None else threading.Event()
        ended = threading.Event()  # told to stop, or out of time: a broken read is then expected
        with self._errors():
            stream = self.api.events(decode=True, filters={"type": "container"},
                                     since=since.timestamp() if since is not None else None)
        done = threading.Event()
        until = time.monotonic() + timeout if timeout is not None else None

        def closer():
            while not stop.wait(0.5):
                if done.is_set():
                    return
                if until is not None and time.monotonic() >= until:
                    break
            ended.set()
            stream.close()

        threading.Thread(target=closer, name=f"docker-events-close {self.base_url}", daemon=True).start()
        try:
            with self._errors():
                for raw in stream:
                    observed = docker_events.translate(raw)
                    if observed is not None:
                        yield observed
        except Exception:  # closing the response from the helper thread breaks the read
            if ended.is_set() or stop.is_set():
                return
            raise
        finally:
            done.set()
        if not (ended.is_set() or stop.is_set()):
            raise ProviderUnavailable(f"the event stream of the engine at {self.base_url} ended")
