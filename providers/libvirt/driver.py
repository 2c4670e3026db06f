"""``LibvirtDriver``: a KVM (or LXC, or test) host seen through libvirt.

Inventory is the host (``Kind.HOST``) plus every domain, running or not, as its child. It costs a
fixed number of bulk calls (``getAllDomainStats(STATE)`` for domains and states,
``listAllDomains`` filtered by autostart and transience, one pass over the storage pools for disk
capacities) plus one ``XMLDesc()`` per domain, which libvirt has no bulk form of.

What an inventory made of each domain is kept per URI (``ParsedDomains``): the next refresh parses
only XML it has not seen, and reports a domain whose XML and other inputs are unchanged with the
same ``ObservedResource`` as before. Observations are frozen and their mappings are read-only by
contract (``Mapping``): a consumer must copy, never mutate, them.

Connections are shared per process by URI and credentials (see ``connection``), so ``close()``
releases the driver's hold without closing the connection: the next refresh reuses it, and on a
``test:///`` URI it sees what was changed through it.

Failures: a domain that vanishes while being read is skipped (it is gone, so the inventory stays
complete); a domain that cannot be read becomes a ``DataIssue`` and makes the inventory
``complete=False`` (the collector must not take its absence for a deletion); a domain whose
``glasspane:project`` is not a slug is still reported, without a hint, plus a ``DataIssue``.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import libvirt

from providers.base import (
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
    ProviderAuthError,
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
from providers.heap import gc_paused
from providers.libvirt import connection, lifecycle, stats
from providers.libvirt import events as event_stream
from providers.libvirt.connection import AUTH_ERRORS, CONNECTION_ERRORS, XML_ERRORS, describe
from providers.libvirt.domains import DomainFacts, map_state, parse_domain
from providers.libvirt.host import observe_host, version_text
from providers.libvirt.storage import VolumeIndex, block_capacity, volume_index

URI_SCHEME = re.compile(r"^[a-z][a-z0-9]*(\+[a-z0-9]+)?$")
GIB = 1024**3


class Seen(NamedTuple):
    """One domain as the last inventory read it: its facts, the other inputs of its observation
    (state, autostart, persistence, host, disk sizes) and the observation made of them."""

    facts: DomainFacts
    inputs: tuple
    resource: ObservedResource


class ParsedDomains:
    """Per connection URI, what the last inventory made of each domain XML, keyed by the exact XML
    text (which holds the domain's UUID): a steady-state refresh parses only domains whose XML
    changed (a resize, a restart's new id, edited metadata), and observes anew only those whose XML
    or other inputs changed, in any worker that refreshes the same URI again. An inventory replaces
    its URI's entry whole, so it holds current domains only; past ``budget`` domains in all (some
    6 KB each with the test driver's XML, more with QEMU's), the URIs refreshed longest ago are
    dropped."""

    def __init__(self, budget: int = 20_000):
        self.budget = budget
        self._by_uri: OrderedDict[str, dict[str, Seen]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, uri: str) -> dict[str, Seen]:
        """The URI's domains by XML (read-only for the caller; empty when none are kept)."""
        return self._by_uri.get(uri, {})

    def put(self, uri: str, parsed: dict[str, Seen]) -> None:
        with self._lock:
            self._by_uri[uri] = parsed
            self._by_uri.move_to_end(uri)
            total = sum(len(p) for p in self._by_uri.values())
            while total > self.budget and len(self._by_uri) > 1:
                total -= len(self._by_uri.popitem(last=False)[1])

    def pop(self, uri: str) -> None:
        with self._lock:
            self._by_uri.pop(uri, None)

    def clear(self) -> None:
        with self._lock:
            self._by_uri.clear()


_parsed = ParsedDomains()


def forget_parsed(uri: str) -> None:
    """Drop what inventories of ``uri`` kept, so the next one starts cold (as benchmarks time it)."""
    _parsed.pop(uri)


@lru_cache(maxsize=4096)
def _gib(total_bytes: int) -> Decimal:
    """Bytes as GiB to three places, as ``to_decimal`` rounds them (few distinct disk totals recur)."""
    return to_decimal(Decimal(total_bytes) / GIB)


class LibvirtDriver(Driver):
    kind = "libvirt"
    label = "KVM (libvirt)"
    settings_schema = (
        Setting(
            "uri", label="Connection URI",
            required=True,
            endpoint=True,
            help="libvirt connection URI: qemu:///system, qemu+ssh://root@host/system, "
            "qemu+tls://host/system, test:///default or test:///ABS/PATH/node.xml",
        ),
        Setting("connect_timeout", label="Connect timeout (seconds)", type="int", default=10, help="seconds to wait for the connection"),
        Setting("shutdown_timeout", label="Shutdown timeout (seconds)", type="int", default=60, help="seconds a stop waits before forcing off"),
        Setting("storage_pool", help="pool for new disks (default: 'default', or the only active pool)"),
        Setting("network", default="default", help="libvirt network for new domains' NIC, if it exists"),
    )
    credentials_schema = (
        Setting("username", label="SASL username", help="SASL user name (leave empty for ssh keys, TLS certificates or local)"),
        Setting("password", label="SASL password", secret=True, help="SASL password"),
    )
    capabilities = frozenset({Capability.SAMPLES, Capability.PROVISION, Capability.ACTIONS, Capability.EVENTS})

    def __init__(self, settings: Mapping[str, Any], credentials: Mapping[str, Any] | None = None):
        super().__init__(settings, credentials)
        for setting in self.settings_schema:  # a driver built without validate() still gets defaults
            if self.settings.get(setting.name) is None and setting.default is not None:
                self.settings[setting.name] = setting.default
        self.uri: str = self.settings.get("uri", "")
        self._conn: libvirt.virConnect | None = None

    @classmethod
    def validate(cls, settings, credentials=None):
        """The base checks, plus: a URI with a scheme, timeouts of 1 s or more, both or neither
        of username and password. Every bad field is named at once."""
        errors: dict[str, str] = {}
        try:
            cleaned = super().validate(settings, credentials)
        except SettingsError as exc:
            errors.update(exc.errors)
            cleaned = None
        for name, message in cls._own_errors(settings, credentials or {}).items():
            errors.setdefault(name, message)
        if errors:
            raise SettingsError(errors)
        return cleaned

    @staticmethod
    def _own_errors(settings: Mapping[str, Any], credentials: Mapping[str, Any]) -> dict[str, str]:
        errors = {}
        uri = str(settings.get("uri") or "")
        scheme, sep, _ = uri.partition("://")
        if uri and (not sep or not URI_SCHEME.match(scheme)):
            errors["uri"] = f"must look like driver[+transport]://[host]/path, got {uri!r}"
        elif uri and urlsplit(uri).netloc:
            problem = url_problem(uri, (scheme,))
            if problem:
                errors["uri"] = problem
        for name in ("connect_timeout", "shutdown_timeout"):
            raw = settings.get(name)
            if raw not in (None, "") and str(raw).strip().lstrip("-").isdigit() and int(str(raw).strip()) < 1:
                errors[name] = "must be at least 1 second"
        if bool(credentials.get("username")) != bool(credentials.get("password")):
            missing = "password" if credentials.get("username") else "username"
            errors[missing] = "give both username and password, or neither"
        return errors

    # -- connection --------------------------------------------------------------------------------

    def connection(self) -> libvirt.virConnect:
        """The (shared, cached) connection; raises ``ProviderError`` when it cannot be had."""
        if self._conn is None:
            self._conn = connection.connect(
                self.uri,
                username=self.credentials.get("username"),
                password=self.credentials.get("password"),
                timeout=float(self.settings.get("connect_timeout") or 10),
            )
        return self._conn

    @contextlib.contextmanager
    def _calls(self, doing: str):
        """Turn a ``libvirtError`` into the provider error that says what failed."""
        try:
            yield
        except libvirt.libvirtError as exc:
            raise self._error(exc, doing) from exc

    def _error(self, exc: libvirt.libvirtError, doing: str) -> ProviderError:
        code = exc.get_error_code()
        message = f"libvirt at {self.uri} failed while {doing}: {describe(exc)}"
        if code in CONNECTION_ERRORS:
            if self._conn is not None:
                connection.drop(self._conn)
                self._conn = None
            return ProviderUnavailable(
                f"lost the connection to libvirt at {self.uri} while {doing}: {describe(exc)}"
            )
        if code in AUTH_ERRORS:
            return ProviderAuthError(message)
        if code in XML_ERRORS:
            return ProviderDataError(message)
        return ProviderUnavailable(message)

    def close(self) -> None:
        self._conn = None  # the connection stays in the process cache for the next refresh

    # -- health ------------------------------------------------------------------------------------

    def health(self) -> Health:
        try:
            conn = self.connection()
            with self._calls("checking health"):
                hostname = conn.getHostname()
                hv = conn.getType()
                count = conn.numOfDomains() + conn.numOfDefinedDomains()
                lib = version_text(conn.getLibVersion())
        except ProviderError as exc:
            return Health(False, str(exc), details={"uri": self.uri, "error": type(exc).__name__})
        return Health(
            True,
            f"connected to {hv} on {hostname} (libvirt {lib}): {count} domains",
            details={"uri": self.uri, "hostname": hostname, "hypervisor": hv, "domains": count},
        )

    def probe(self) -> Probe:
        """libvirt's version, the host's name and the hypervisor, and how many domains it holds."""
        conn = self.connection()
        with self._calls("probing the connection"):
            hostname = conn.getHostname()
            hypervisor = conn.getType()
            active = conn.numOfDomains()  # running, paused or suspended: not shut off
            inactive = conn.numOfDefinedDomains()
            lib = version_text(conn.getLibVersion())
        return Probe(product="libvirt", version=lib, where=self.uri, host=hostname,
                     counts={"domains": active + inactive, "active": active},
                     details={"hypervisor": hypervisor})

    # -- inventory ---------------------------------------------------------------------------------

    @gc_paused()  # libvirt's calls leave no Python cycles; parsing 2,000 domains set off full collections
    def inventory(self, since: datetime | None = None) -> Inventory:
        conn = self.connection()
        observed_at = utcnow()
        with self._calls("reading the host"):
            host = observe_host(conn)
        # the test driver invents blockInfo sizes; the host read above has already asked getType()
        can_block_info = host.properties["hypervisor_type"] != "TEST"
        with self._calls("listing domains"):
            listing = self._listing(conn)
            autostart = {
                d.UUIDString() for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_AUTOSTART)
            }
            transient = {
                d.UUIDString() for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_TRANSIENT)
            }
        with self._calls("reading storage pools"):
            volumes = volume_index(conn)

        resources = [host]
        issues: list[DataIssue] = []
        complete = True
        previous, parsed = _parsed.get(self.uri), {}
        for dom, state_code in listing:
            try:
                xml = dom.XMLDesc(0)
            except libvirt.libvirtError as exc:
                if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                    continue  # undefined while we were reading: it is gone
                uuid = dom.UUIDString()
                if exc.get_error_code() in CONNECTION_ERRORS:
                    raise self._error(exc, f"reading domain {uuid}") from exc
                issues.append(DataIssue(uuid, f"cannot read domain {dom.name()} ({uuid}): {describe(exc)}"))
                complete = False
                continue
            try:
                seen = previous.get(xml)
                facts = seen.facts if seen is not None else parse_domain(xml)
                autostarts, persistent = facts.uuid in autostart, facts.uuid not in transient
                sizes = self.disk_sizes(facts, volumes, dom if can_block_info else None)
                inputs = (state_code, autostarts, persistent, host.external_id, sizes)
                if seen is not None and seen.inputs == inputs:
                    resource = seen.resource  # nothing it is made of changed: the same observation
                else:
                    resource = self.observed(facts, state_code, host_id=host.external_id,
                                             autostart=autostarts, persistent=persistent, sizes=sizes)
                parsed[xml] = Seen(facts, inputs, resource)
            except ProviderDataError as exc:
                uuid = dom.UUIDString()
                issues.append(DataIssue(uuid, f"cannot read domain {dom.name()} ({uuid}): {exc}"))
                complete = False
                continue
            except libvirt.libvirtError as exc:  # blockInfo on a domain undefined meanwhile
                if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                    continue
                raise self._error(exc, f"reading domain {dom.UUIDString()}") from exc
            if facts.metadata_problem:
                issues.append(DataIssue(facts.uuid, facts.metadata_problem))
            resources.append(resource)
        _parsed.put(self.uri, parsed)
        return Inventory(resources=resources, observed_at=observed_at, issues=issues, complete=complete)

    def _listing(self, conn: libvirt.virConnect) -> list[tuple[libvirt.virDomain, int]]:
        """Every domain with its state code, in one call where the hypervisor allows it."""
        try:
            return [
                (dom, rec["state.state"])
                for dom, rec in conn.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_STATE, 0)
            ]
        except libvirt.libvirtError as exc:
            if exc.get_error_code() != libvirt.VIR_ERR_NO_SUPPORT:
                raise
        listing = []
        for dom in conn.listAllDomains(0):
            try:
                listing.append((dom, dom.state()[0]))
            except libvirt.libvirtError as exc:
                if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                    raise
        return listing

    @staticmethod
    def observe(
        facts: DomainFacts,
        state_code: int,
        *,
        host_id: str,
        autostart: bool,
        persistent: bool,
        volumes: VolumeIndex,
        dom: libvirt.virDomain | None = None,
    ) -> ObservedResource:
        """One domain as an observation; ``dom`` is given where ``blockInfo`` can be trusted."""
        sizes = LibvirtDriver.disk_sizes(facts, volumes, dom)
        return LibvirtDriver.observed(facts, state_code, host_id=host_id, autostart=autostart,
                                      persistent=persistent, sizes=sizes)

    @staticmethod
    def disk_sizes(facts: DomainFacts, volumes: VolumeIndex, dom: libvirt.virDomain | None = None) -> tuple:
        """Per disk of ``facts``: (capacity bytes, where it came from, allocation bytes); asks
        ``dom.blockInfo`` for a disk outside every pool when ``dom`` is given."""
        sizes = []
        for disk in facts.disks:
            capacity = volumes.capacity(disk)
            origin = "pool" if capacity is not None else None
            if capacity is None and dom is not None and disk.counts:
                capacity = block_capacity(dom, disk)
                origin = "blockinfo" if capacity is not None else None
            sizes.append((capacity, origin, volumes.allocation(disk)))
        return tuple(sizes)

    @staticmethod
    def observed(
        facts: DomainFacts,
        state_code: int,
        *,
        host_id: str,
        autostart: bool,
        persistent: bool,
        sizes: tuple,
    ) -> ObservedResource:
        """The observation of a domain whose disk sizes (``disk_sizes``) are known."""
        disks, unknown, total = [], [], 0
        for disk, (capacity, origin, allocation) in zip(facts.disks, sizes, strict=True):
            if disk.counts:
                if capacity is None:
                    unknown.append(disk.target)
                else:
                    total += capacity
            disks.append(
                {
                    "target": disk.target,
                    "device": disk.device,
                    "type": disk.source_type,
                    "source": disk.path or (f"{disk.pool}/{disk.volume}" if disk.volume else ""),
                    "capacity_bytes": capacity,
                    "capacity_from": origin,
                    "allocation_bytes": allocation,
                }
            )
        properties: dict[str, Any] = {
            "domain_type": facts.domain_type,
            "os_type": facts.os_type,
            "arch": facts.arch,
            "state_code": state_code,
            "domain_id": facts.domain_id,
            "max_vcpus": facts.max_vcpus,
            "max_memory_mb": facts.max_memory_kib // 1024,
            "autostart": autostart,
            "persistent": persistent,
            "disks": disks,
            "nics": [
                {"mac": n.mac, "type": n.type, "source": n.source, "model": n.model, "target": n.target}
                for n in facts.nics
            ],
            "macs": [n.mac for n in facts.nics if n.mac],
            "metadata": dict(facts.labels),
        }
        if unknown:
            properties["disk_capacity_unknown"] = unknown
        if facts.title:
            properties["title"] = facts.title
        if facts.description:
            properties["description"] = facts.description
        return ObservedResource(
            external_id=facts.uuid,
            kind=facts.kind,
            name=facts.name,
            state=map_state(state_code),
            vcpus=Decimal(facts.vcpus),
            ram_mb=facts.memory_kib // 1024,
            disk_gb=_gib(total),
            project_hint=facts.project_hint,
            parent_external_id=host_id,
            labels=dict(facts.labels),
            properties=properties,
        )

    # -- samples -----------------------------------------------------------------------------------

    @gc_paused()
    def samples(self, external_ids: Iterable[str] | None = None) -> list[UtilizationSample]:
        wanted = {i.lower() for i in external_ids} if external_ids is not None else None
        conn = self.connection()
        with self._calls("reading domain statistics"):
            records = stats.active_domain_stats(conn)
        at = utcnow()
        result = []
        parsed = _parsed.get(self.uri)

        def parse(xml: str) -> DomainFacts:  # the inventory's facts for the same XML, if it read it
            seen = parsed.get(xml)
            return seen.facts if seen is not None else parse_domain(xml)

        for dom, record in records:
            uuid = dom.UUIDString()
            if wanted is not None and uuid not in wanted:
                continue
            try:
                result.append(stats.sample_domain(dom, record, at, parse=parse, uuid=uuid))
            except (stats.DomainGone, ProviderDataError):
                continue  # stopped or vanished meanwhile, or unreadable (inventory reports that)
            except libvirt.libvirtError as exc:
                error = self._error(exc, f"sampling domain {uuid}")
                if isinstance(error, ProviderDataError):
                    continue  # unreadable: the inventory reports it
                raise error from exc
        return result

    # -- events ------------------------------------------------------------------------------------

    def events(self, stop: threading.Event | None = None, timeout: float | None = None) -> Iterator[ObservedEvent]:
        """Domain lifecycle events on a connection of their own (see ``providers.libvirt.events``);
        libvirt keeps no past events, so nothing that happened before the call is reported."""
        until = time.monotonic() + timeout if timeout is not None else None
        try:
            yield from event_stream.stream(
                self.uri,
                stop if stop is not None else threading.Event(),
                until=until,
                username=self.credentials.get("username"),
                password=self.credentials.get("password"),
                timeout=float(self.settings.get("connect_timeout") or 10),
            )
        except libvirt.libvirtError as exc:
            raise ProviderUnavailable(
                f"the event stream of libvirt at {self.uri} failed: {describe(exc)}"
            ) from exc

    # -- lifecycle ---------------------------------------------------------------------------------

    def provision(self, spec: ProvisionSpec) -> ObservedResource:
        conn = self.connection()
        with self._calls(f"provisioning {spec.name!r}"):
            try:
                dom = lifecycle.provision(
                    conn,
                    spec,
                    storage_pool=self.settings.get("storage_pool"),
                    network=self.settings.get("network"),
                )
            except ValueError as exc:  # a spec this host cannot build: the caller's to fix, said as is
                raise ProviderDataError(f"libvirt at {self.uri} cannot provision {spec.name!r}: {exc}") from None
        return self.observe_one(dom.UUIDString())

    def launch_options(self, project_ref: str | None = None) -> LaunchOptions:
        """VMs (and LXC containers where the host offers them) of any size; a VM's disk may be cloned
        from a volume of an active storage pool that no domain uses (a template: ``image`` is its
        path); NICs go on an active network."""
        conn = self.connection()
        kinds = []
        for kind in (Kind.VM, Kind.CONTAINER):
            try:
                lifecycle.guest_type(conn, kind)
                kinds.append(kind)
            except UnsupportedCapability:
                pass
        with self._calls("listing storage volumes and networks for a launch"):
            index = volume_index(conn)
            attached = {index.path_of(disk) for dom in conn.listAllDomains()
                        for disk in parse_domain(dom.XMLDesc(0)).disks}
            names = {path: f"{pool}/{name}" for (pool, name), path in index.paths.items()}
            images = [LaunchChoice(path, label, (Kind.VM,)) for path, label in names.items() if path not in attached]
            networks = [LaunchChoice(n.name(), n.name())
                        for n in conn.listAllNetworks(libvirt.VIR_CONNECT_LIST_NETWORKS_ACTIVE)]
        return LaunchOptions(kinds=tuple(kinds), images=tuple(sorted(images, key=lambda c: c.label)),
                             networks=tuple(sorted(networks, key=lambda c: c.value)))

    def observe_one(self, external_id: str) -> ObservedResource:
        """One domain, observed as ``inventory()`` would (raises if it does not exist)."""
        conn = self.connection()
        with self._calls(f"reading domain {external_id}"):
            dom = self._lookup(conn, external_id)
            host = observe_host(conn)
            autostart = bool(dom.autostart())
            persistent = bool(dom.isPersistent())
            state = dom.state()[0]
            facts = parse_domain(dom.XMLDesc(0))
            return self.observe(
                facts,
                state,
                host_id=host.external_id,
                autostart=autostart,
                persistent=persistent,
                volumes=volume_index(conn),
                dom=dom if conn.getType() != "TEST" else None,
            )

    def act(self, external_id: str, action: str) -> None:
        conn = self.connection()
        with self._calls(f"running {action} on domain {external_id}"):
            try:
                dom = self._lookup(conn, external_id)
            except ProviderDataError:
                if action == "delete":
                    return  # already gone
                raise
            lifecycle.act(dom, action, shutdown_timeout=float(self.settings.get("shutdown_timeout") or 60))

    def _lookup(self, conn: libvirt.virConnect, external_id: str) -> libvirt.virDomain:
        try:
            return conn.lookupByUUIDString(external_id)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() in (libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_INVALID_ARG):
                raise ProviderDataError(f"no domain with UUID {external_id} at {self.uri}") from None
            raise
