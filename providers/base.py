"""The provider contract: what a driver returns, what it may do, and how it fails.

A driver turns one platform (a libvirt host, a Docker engine, an OpenStack cloud) into plain,
immutable observations. It never touches the ORM: the collector (``metering.collector``) owns every
write, so that accounting rules live in exactly one place and a driver can be tested with nothing
but its platform.

Conventions every driver follows:

* Times are timezone-aware UTC ``datetime`` objects; ``Inventory.observed_at`` is the provider's
  own clock when it offers one (the OpenStack simulator's clock can be advanced by tests).
* Sizes: ``vcpus`` is a ``Decimal`` (a container may be limited to 0.5 CPU), ``ram_mb`` an int,
  ``disk_gb`` a ``Decimal``. ``None`` means *unlimited* (a container with no limit), never zero.
* Counters in ``UtilizationSample`` are cumulative since the resource started; the collector
  computes deltas between consecutive samples and copes with resets.
* One broken record must not cost the rest: report it in ``Inventory.issues`` and carry on. Raise
  only when the whole answer cannot be trusted (then nothing of it is written).
"""

from __future__ import annotations

import abc
import math
import re
import socket
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import urlsplit


class Kind:
    """Resource kinds, shared with ``metering.Resource.kind``."""

    HOST = "host"
    VM = "vm"
    CONTAINER = "container"
    VOLUME = "volume"
    ALL = (HOST, VM, CONTAINER, VOLUME)


class State:
    """The common state set every platform's states are mapped onto."""

    RUNNING = "running"
    PAUSED = "paused"
    SUSPENDED = "suspended"
    STOPPED = "stopped"
    CRASHED = "crashed"
    BUILDING = "building"
    ERROR = "error"
    AVAILABLE = "available"  # a volume not attached to anything
    IN_USE = "in-use"  # a volume attached to a server
    UNKNOWN = "unknown"
    DELETED = "deleted"  # set by the collector, never returned by a driver
    ALL = (RUNNING, PAUSED, SUSPENDED, STOPPED, CRASHED, BUILDING, ERROR, AVAILABLE, IN_USE, UNKNOWN, DELETED)


class Capability:
    """Optional abilities a driver declares in ``Driver.capabilities``."""

    SAMPLES = "samples"  # utilization samples
    PROVISION = "provision"  # create a VM, container or server from a spec
    ACTIONS = "actions"  # start, stop, reboot, delete
    APPLY_QUOTA = "apply_quota"  # push project limits down to the platform
    USAGE_REPORT = "usage_report"  # the platform's own usage accounting (Nova simple-tenant-usage)
    EVENTS = "events"  # a stream of lifecycle events with the platform's own times (``Driver.events``)
    #: ``Driver.events`` also takes ``since=`` (a datetime) and first replays the platform's events
    #: after it (a Docker engine keeps a log), so a reconnecting listener misses nothing
    EVENT_REPLAY = "event_replay"


class Action:
    START = "start"
    STOP = "stop"
    REBOOT = "reboot"
    DELETE = "delete"
    ALL = (START, STOP, REBOOT, DELETE)


# -- errors -------------------------------------------------------------------------------------


class ProviderError(Exception):
    """Base of every error a driver raises on purpose. ``str()`` is written for a person."""


class ProviderUnavailable(ProviderError):
    """The platform cannot be reached or answered 5xx: worth retrying later."""


class ProviderAuthError(ProviderError):
    """Credentials were refused or lack a role: retrying will not help until someone fixes them."""


class ProviderDataError(ProviderError):
    """The platform answered something that cannot be trusted (malformed, inconsistent)."""


class UnsupportedCapability(ProviderError):
    """The driver does not do this (see ``Driver.capabilities``)."""


class SettingsError(ValueError):
    """Settings or credentials failed validation; ``errors`` maps field name to message."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{name}: {msg}" for name, msg in self.errors.items()))


# -- settings schema ------------------------------------------------------------------------------


#: the largest whole number a setting may hold: exact in JSON (2**53) and in every database column
MAX_SETTING_INT = 2**53


@dataclass(frozen=True)
class Setting:
    """One setting (or credential) a driver accepts; drives ``provider add`` and the admin form."""

    name: str
    type: str = "str"  # str | int | float | bool | choice
    required: bool = False
    default: Any = None
    help: str = ""
    choices: tuple[str, ...] = ()
    secret: bool = False  # a credential: stored encrypted, never shown back
    endpoint: bool = False  # where the account connects: changing it drops the stored credentials
    #: what a form calls it ("Auth URL"); empty: ``title`` makes words of ``name``
    label: str = ""

    @property
    def title(self) -> str:
        """The setting in words for forms and pages; ``name`` stays the key of the command line,
        the API and the stored settings."""
        return self.label or humanize(self.name)

    def clean(self, raw: Any) -> Any:
        if raw is None or raw == "":
            if self.required:
                raise ValueError("is required")
            return self.default
        if self.type == "str":
            return str(raw)
        if self.type == "int":
            try:
                value = int(str(raw).strip())
            except ValueError:
                raise ValueError(f"must be a whole number, got {raw!r}") from None
            if abs(value) > MAX_SETTING_INT:
                raise ValueError(f"must be a whole number of at most {MAX_SETTING_INT}, got {raw!r}")
            return value
        if self.type == "float":
            try:
                value = float(str(raw).strip())
            except ValueError:
                raise ValueError(f"must be a number, got {raw!r}") from None
            if not math.isfinite(value) or abs(value) > MAX_SETTING_INT:
                raise ValueError(f"must be a finite number of at most {MAX_SETTING_INT}, got {raw!r}")
            return value
        if self.type == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"must be true or false, got {raw!r}")
        if self.type == "choice":
            if str(raw) not in self.choices:
                raise ValueError(f"must be one of {', '.join(self.choices)}, got {raw!r}")
            return str(raw)
        raise ValueError(f"unknown setting type {self.type!r}")


#: words that read as abbreviations in a label
_ABBREVIATIONS = {"url": "URL", "uri": "URI", "tls": "TLS", "ca": "CA", "id": "ID", "api": "API", "pem": "PEM",
                  "rrd": "RRD", "ssh": "SSH", "sasl": "SASL", "vm": "VM", "lxd": "LXD"}


def humanize(name: str) -> str:
    """``auth_url`` -> "Auth URL", ``project_domain`` -> "Project domain": a key in words."""
    words = [_ABBREVIATIONS.get(word, word) for word in name.replace("-", "_").split("_") if word]
    if not words:
        return name
    first = words[0]
    return " ".join([first if first.isupper() else first.capitalize(), *words[1:]])


def clean_settings(schema: Iterable[Setting], values: Mapping[str, Any], what: str = "setting") -> dict:
    """Validate ``values`` against ``schema``: unknown keys and bad values become field errors."""
    schema = list(schema)
    known = {s.name for s in schema}
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    for name in values:
        if name not in known:
            errors[name] = f"unknown {what} (known: {', '.join(sorted(known)) or 'none'})"
    for spec in schema:
        try:
            value = spec.clean(values.get(spec.name))
        except ValueError as exc:
            errors[spec.name] = str(exc)
            continue
        if value is not None:
            cleaned[spec.name] = value
    if errors:
        raise SettingsError(errors)
    return cleaned


def url_problem(url: str, schemes: Iterable[str], *, need_port: bool = False) -> str | None:
    """What is wrong with ``url`` as a network address (a scheme out of ``schemes``, a host, a port
    from 1 to 65535), in words; ``None`` when nothing is. The drivers' ``validate`` use it so a bad
    address is a field error on the form, not a client library's exception at the first refresh."""
    schemes = tuple(schemes)
    text = str(url).strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        if "port" in str(exc).lower():
            return f"the port must be a whole number from 1 to 65535, in {text!r}"
        return f"is not a valid address: {exc}"
    if parts.scheme not in schemes:
        return f"must start with {' or '.join(s + '://' for s in schemes)}, got {text!r}"
    host = parts.hostname or ""
    if not host or any(c.isspace() for c in text) or not _HOST.match(host):
        return f"needs a host name or address after {parts.scheme}://, got {text!r}"
    if port == 0:
        return f"the port must be a whole number from 1 to 65535, in {text!r}"
    if need_port and port is None:
        return f"needs a port ({parts.scheme}://host:port), got {text!r}"
    return None


_HOST = re.compile(r"^(\[?[0-9a-fA-F:.]+\]?|[A-Za-z0-9_]([A-Za-z0-9_.-]{0,251}[A-Za-z0-9_])?\.?)$")


def network_reason(exc: BaseException) -> str:
    """Why a connection failed, in a few words and where when the client says ("connection refused
    at 127.0.0.1:5000", "host name not found", "timed out"), looking through the wrappers HTTP
    clients add (requests, urllib3); else the error's first line."""
    reason = _network_reason(exc)
    if reason == one_line(str(exc)):
        return reason
    for current in _chain(exc):
        holder = getattr(current, "conn", None)  # urllib3's NewConnectionError (its ``pool`` is deprecated)
        if holder is None:
            holder = getattr(current, "pool", None)  # urllib3's MaxRetryError
        host, port = getattr(holder, "host", None), getattr(holder, "port", None)
        if isinstance(host, str) and host:
            return f"{reason} at {host}:{port}" if port else f"{reason} at {host}"
    return reason


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps (causes, contexts, urllib3's ``reason``, exceptions in ``args``)."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 12:
        current = todo.pop(0)
        if any(current is e for e in seen):
            continue
        seen.append(current)
        todo += [e for e in (current.__cause__, current.__context__, getattr(current, "reason", None),
                             *getattr(current, "args", ())) if isinstance(e, BaseException)]
    return seen


def _network_reason(exc: BaseException) -> str:
    seen = _chain(exc)
    texts = " ".join(str(e) for e in seen).lower()
    if any(isinstance(e, ConnectionRefusedError) for e in seen) or "connection refused" in texts:
        return "connection refused"
    if any(isinstance(e, socket.gaierror) for e in seen) or "name or service not known" in texts \
            or "temporary failure in name resolution" in texts or "nodename nor servname" in texts:
        return "host name not found"
    if any(isinstance(e, TimeoutError | socket.timeout) for e in seen) or "timed out" in texts:
        return "timed out"
    if "no route to host" in texts:
        return "no route to host"
    if "certificate verify failed" in texts:
        return "the TLS certificate could not be verified"
    return one_line(str(exc))


# -- observations ---------------------------------------------------------------------------------


def utcnow() -> datetime:
    return datetime.now(UTC)


_MARKUP = re.compile(r"<(!doctype|html|head|body|title|h1|p|div|pre|table)\b", re.IGNORECASE)


def one_line(text: str, limit: int = 300) -> str:
    """An upstream's error as staff see it: its first line, cut to ``limit`` characters, without an
    HTML page the upstream sent (which can carry internal host names and session ids)."""
    text = str(text)
    markup = _MARKUP.search(text)
    if markup:
        text = text[:markup.start()].rstrip(" :\n") + " (the upstream answered with an HTML page, not shown)"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = (lines[0] + (" …" if len(lines) > 1 else "")) if lines else ""
    return line if len(line) <= limit else line[:limit - 1] + "…"


def to_decimal(value: Any, places: int = 3) -> Decimal | None:
    """A size as ``Decimal`` rounded to ``places``; ``None`` stays ``None`` (unlimited)."""
    if value is None:
        return None
    try:
        return Decimal(str(value)).quantize(Decimal(1).scaleb(-places))
    except (InvalidOperation, ValueError):
        raise ProviderDataError(f"not a number: {value!r}") from None


@dataclass(frozen=True)
class ObservedProject:
    """A tenant the platform knows (a Keystone project); may be mapped or auto-created."""

    external_id: str
    name: str
    description: str = ""


@dataclass(frozen=True)
class ObservedResource:
    """One host, VM, container or volume as the platform reports it right now."""

    external_id: str
    kind: str
    name: str
    state: str
    vcpus: Decimal | None = None
    ram_mb: int | None = None
    disk_gb: Decimal | None = None
    #: the platform's own reference to a tenant: a slug from libvirt metadata, a Docker label
    #: value, a Keystone project id. ``metering.mapping`` turns it into a Project.
    project_hint: str | None = None
    #: the parent's ``external_id`` in the same account (host -> VM, VM -> container).
    parent_external_id: str | None = None
    #: how to find a parent found by *another* account, e.g. ``{"name": "web-01"}`` for the VM a
    #: Docker engine runs in. Resolved by the collector.
    parent_match: Mapping[str, str] | None = None
    image: str = ""
    flavor: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    #: everything else worth showing on the detail page (MACs, autostart, ports, host...)
    properties: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    started_at: datetime | None = None  # when it last entered ``running`` (Docker StartedAt, Nova launched_at)
    finished_at: datetime | None = None  # when it last left ``running`` (Docker FinishedAt)
    deleted_at: datetime | None = None  # set only for resources the platform reports as deleted


@dataclass(frozen=True)
class DataIssue:
    """One record that could not be read; the rest of the answer is still good."""

    external_id: str
    message: str


@dataclass(frozen=True)
class Inventory:
    """The answer to one ``Driver.inventory()`` call."""

    resources: list[ObservedResource]
    observed_at: datetime = field(default_factory=utcnow)
    #: resources the platform says were deleted (with ``deleted_at``), e.g. Nova changes-since.
    deleted: list[ObservedResource] = field(default_factory=list)
    issues: list[DataIssue] = field(default_factory=list)
    projects: list[ObservedProject] = field(default_factory=list)
    #: extra per-project facts for display and reconciliation (OpenStack limits and quota-sets),
    #: keyed by the platform's project reference.
    project_facts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: True when ``resources`` is everything the account has: what is missing was deleted.
    complete: bool = True
    #: the platform's own limits per project reference, in our keys (see ``Driver.quota_keys``),
    #: read during the refresh so the drift view needs no call of its own.
    quotas: Mapping[str, Mapping[str, QuotaReading]] = field(default_factory=dict)
    #: optional parts of the platform that were not collected this run, each said once for a
    #: person ("no block-storage endpoint in the catalog: volumes and volume quotas not collected").
    skipped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class UtilizationSample:
    """Utilization of one resource at one instant; counters are cumulative."""

    external_id: str
    at: datetime
    cpu_time_ns: int | None = None  # cumulative CPU time over all cores
    memory_used_mb: Decimal | None = None  # net of cache where the platform says so
    memory_total_mb: Decimal | None = None
    net_rx_bytes: int | None = None
    net_tx_bytes: int | None = None
    disk_read_bytes: int | None = None
    disk_write_bytes: int | None = None


@dataclass(frozen=True)
class QuotaReading:
    """One of our quota keys as the platform itself holds it for one of its projects.

    ``key`` is Glasspane's key (``vms``, ``vcpus``, ``ram_mb``, ``disk_gb``, ``volumes``,
    ``containers``...), never the platform's field name: the translation lives in the driver.
    ``limit`` is -1 for unlimited and ``None`` when the platform has no limit set or did not say;
    ``used`` is the platform's own count, ``None`` when it does not report one.
    """

    key: str
    limit: int | None
    used: Decimal | int | None = None


class EventAction:
    """The lifecycle changes an ``ObservedEvent`` can report, whatever the platform calls them."""

    CREATED = "created"
    STARTED = "started"
    STOPPED = "stopped"
    PAUSED = "paused"
    RESUMED = "resumed"
    RESTARTED = "restarted"
    DELETED = "deleted"
    ALL = (CREATED, STARTED, STOPPED, PAUSED, RESUMED, RESTARTED, DELETED)


@dataclass(frozen=True)
class ObservedEvent:
    """One lifecycle change as the platform announced it, dated by the platform's own clock.

    Polling stays the source of truth for what exists; an event only dates a change the next
    inventory shows (a resource seen stopped was stopped at the event's ``at``, not at the poll).
    ``external_id`` is the resource's id in the same account, as ``inventory()`` reports it.
    """

    external_id: str
    action: str  # one of EventAction.ALL
    at: datetime
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Health:
    ok: bool
    message: str
    checked_at: datetime = field(default_factory=utcnow)
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Probe:
    """What a short connection check found (``Driver.probe``): who answered, in which version,
    and how much it holds, so an operator can tell before saving that the account reaches the
    platform they meant ("Connected to nova 2.96 at http://keystone:5000/v3: 3 servers, 2 projects").
    """

    product: str  # what answered: "nova", "libvirt", "Docker Engine", "LXD", "Kubernetes", "Proxmox VE"
    version: str  # its version as the platform states it ("2.96", "v1.31.0", "8.2.2")
    where: str  # the address that answered (the URI or URL of the settings)
    host: str = ""  # the name the platform gives itself (libvirt hostname, LXD server name), if any
    #: plural noun -> how many, in the order to show them ("servers": 3, "projects": 2)
    counts: Mapping[str, int] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
    #: counts that stopped at a cap (a probe reads one page, not a whole inventory): shown as "1,000+"
    capped: frozenset[str] = frozenset()
    note: str = ""  # anything else worth saying at once ("KubeVirt not installed: pods only")

    def summary(self) -> str:
        """One line for a person."""
        text = f"Connected to {' '.join(p for p in (self.product, self.version) if p)}"
        if self.where:
            text += f" at {self.where}"
        if self.host and self.host != self.where:
            text += f" (host {self.host})"
        counted = [count_phrase(noun, n, noun in self.capped) for noun, n in self.counts.items()]
        if counted:
            text += ": " + ", ".join(counted)
        return f"{text}; {self.note}" if self.note else text

    def as_json(self) -> dict[str, Any]:
        return {"product": self.product, "version": self.version, "where": self.where, "host": self.host,
                "counts": dict(self.counts), "capped": sorted(self.capped), "note": self.note,
                "details": dict(self.details)}


def count_phrase(noun: str, n: int, capped: bool = False) -> str:
    """3 servers, 1 server, 1,000+ pods (``noun`` is the plural)."""
    if n == 1 and not capped and noun.endswith("s"):
        noun = noun[:-1]
    return f"{n:,}{'+' if capped else ''} {noun}"


#: what a provisioning request may call each kind it can ask for; the API's choices, its schema and
#: admission all read this one mapping
KIND_ALIASES: Mapping[str, str] = {"vm": Kind.VM, "server": Kind.VM, "instance": Kind.VM,
                                   "container": Kind.CONTAINER, "volume": Kind.VOLUME}


class SpecError(ValueError):
    """A malformed provisioning request; ``errors`` maps each bad field to a message."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{name}: {msg}" for name, msg in self.errors.items()))


@dataclass(frozen=True)
class ProvisionSpec:
    """What a provisioning request asks for; a driver uses the fields that apply to it.

    ``parse`` is the one place a request is validated (the API serializer calls it; admission
    takes its result), so every field error is reported the same way wherever a request comes from.
    """

    name: str
    kind: str
    project: str  # the project reference the platform understands (slug or Keystone id)
    vcpus: Decimal | None = None
    ram_mb: int | None = None
    disk_gb: Decimal | None = None
    image: str = ""
    flavor: str = ""
    command: list[str] = field(default_factory=list)
    labels: Mapping[str, str] = field(default_factory=dict)
    network: str = ""

    FIELDS: ClassVar[tuple[str, ...]] = ("name", "kind", "vcpus", "ram_mb", "disk_gb", "image", "flavor", "command",
                                         "labels", "network")

    @classmethod
    def parse(cls, data: Mapping[str, Any], project: str = "") -> ProvisionSpec:
        """A spec from a request's fields; raises ``SpecError`` naming every bad field at once."""
        errors: dict[str, str] = {}
        name = str(data.get("name") or "").strip()
        if not name:
            errors["name"] = "is required"
        kind = KIND_ALIASES.get(str(data.get("kind") or "").lower())
        if kind is None:
            errors["kind"] = f"must be one of {', '.join(KIND_ALIASES)}, got {data.get('kind')!r}"
        vcpus = _positive(errors, data, "vcpus")
        ram_mb = _positive(errors, data, "ram_mb", whole=True)
        disk_gb = _positive(errors, data, "disk_gb")
        if kind == Kind.VM:
            for name_, value in (("vcpus", vcpus), ("ram_mb", ram_mb)):
                if value is None and name_ not in errors:
                    errors[name_] = "is required for a VM (give the flavor's size too)"
        if kind == Kind.VOLUME and disk_gb is None and "disk_gb" not in errors:
            errors["disk_gb"] = "is required for a volume"
        command = data.get("command") or []
        if not isinstance(command, list) or not all(isinstance(c, str) for c in command):
            errors["command"] = "must be a list of strings"
        labels = data.get("labels") or {}
        if not isinstance(labels, Mapping):
            errors["labels"] = "must be a mapping of strings"
        for unknown in sorted(set(data) - set(cls.FIELDS)):
            errors[unknown] = "unknown field"
        if errors:
            raise SpecError(errors)
        return cls(name=name, kind=kind, project=project, vcpus=vcpus, ram_mb=ram_mb, disk_gb=disk_gb,
                   image=str(data.get("image") or ""), flavor=str(data.get("flavor") or ""), command=list(command),
                   labels={str(k): str(v) for k, v in labels.items()}, network=str(data.get("network") or ""))

    def as_json(self) -> dict[str, Any]:
        """The request's fields as JSON (without the project reference, resolved at provisioning)."""
        return {"name": self.name, "kind": self.kind,
                "vcpus": None if self.vcpus is None else str(self.vcpus), "ram_mb": self.ram_mb,
                "disk_gb": None if self.disk_gb is None else str(self.disk_gb), "image": self.image,
                "flavor": self.flavor, "command": list(self.command), "labels": dict(self.labels),
                "network": self.network}


def _positive(errors: dict[str, str], data: Mapping[str, Any], name: str, *, whole: bool = False):
    raw = data.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        errors[name] = f"must be a number, got {raw!r}"
        return None
    if not value.is_finite() or value <= 0 or (whole and value != value.to_integral_value()):
        errors[name] = f"must be a positive {'whole ' if whole else ''}number, got {raw!r}"
        return None
    return int(value) if whole else value


@dataclass(frozen=True)
class LaunchChoice:
    """One image or network a platform offers for a new resource: ``value`` goes into the
    ``ProvisionSpec`` as it is; ``label`` is for a person."""

    value: str
    label: str = ""
    kinds: tuple[str, ...] = ()  # the kinds it applies to (empty: every kind)


@dataclass(frozen=True)
class LaunchFlavor:
    """A named size the platform defines (a Nova flavor); ``value`` is what ``ProvisionSpec.flavor``
    takes, the sizes are what admission counts (``with_flavor_sizes`` reads them the same way)."""

    value: str
    label: str
    vcpus: Decimal
    ram_mb: int
    disk_gb: Decimal | None = None


@dataclass(frozen=True)
class LaunchOptions:
    """What a launch form may offer on one account, as the platform has it right now.

    ``kinds`` are the kinds it provisions here (``Kind.VM``, ``Kind.CONTAINER``...). Empty
    ``flavors`` means sizes are free (vCPUs, RAM, disk typed in); empty ``networks`` means the
    platform's default is used. ``image_required``: a request without an image is refused.
    ``notes`` say, once each, what could not be listed (the form then takes typed values).
    """

    kinds: tuple[str, ...]
    images: tuple[LaunchChoice, ...] = ()
    flavors: tuple[LaunchFlavor, ...] = ()
    networks: tuple[LaunchChoice, ...] = ()
    image_required: bool = False
    notes: tuple[str, ...] = ()

    def images_for(self, kind: str) -> tuple[LaunchChoice, ...]:
        return tuple(c for c in self.images if not c.kinds or kind in c.kinds)

    def networks_for(self, kind: str) -> tuple[LaunchChoice, ...]:
        return tuple(c for c in self.networks if not c.kinds or kind in c.kinds)


@dataclass(frozen=True)
class UsageTotals:
    """The platform's own accounting for one project and period (Nova simple-tenant-usage)."""

    project_ref: str
    start: datetime
    end: datetime
    vcpu_hours: Decimal
    ram_mb_hours: Decimal
    disk_gb_hours: Decimal
    instance_hours: Decimal
    servers: int = 0


# -- the driver -------------------------------------------------------------------------------------


class Driver(abc.ABC):
    """Base class of every driver. Subclasses set the class attributes and the three methods.

    A driver instance is short-lived: the collector creates one per refresh with cleaned settings
    and decrypted credentials, uses it, and calls ``close()``.
    """

    kind: ClassVar[str] = ""
    label: ClassVar[str] = ""
    settings_schema: ClassVar[tuple[Setting, ...]] = ()
    credentials_schema: ClassVar[tuple[Setting, ...]] = ()
    capabilities: ClassVar[frozenset[str]] = frozenset()
    #: the provider-neutral quota contract: which of our quota keys the platform can hold as its own
    #: limits. A driver that declares any implements ``read_quotas`` and ``apply_quota`` and has
    #: ``Capability.APPLY_QUOTA``; nothing outside the driver's package knows the platform's names.
    quota_keys: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, settings: Mapping[str, Any], credentials: Mapping[str, Any] | None = None):
        self.settings = dict(settings)
        self.credentials = dict(credentials or {})

    @classmethod
    def validate(cls, settings: Mapping[str, Any], credentials: Mapping[str, Any] | None = None):
        """Clean settings and credentials; raise ``SettingsError`` naming every bad field."""
        errors: dict[str, str] = {}
        cleaned_settings, cleaned_credentials = {}, {}
        try:
            cleaned_settings = clean_settings(cls.settings_schema, settings)
        except SettingsError as exc:
            errors.update(exc.errors)
        try:
            cleaned_credentials = clean_settings(cls.credentials_schema, credentials or {}, "credential")
        except SettingsError as exc:
            errors.update(exc.errors)
        if errors:
            raise SettingsError(errors)
        return cleaned_settings, cleaned_credentials

    def supports(self, capability: str) -> bool:
        return capability in self.capabilities

    @abc.abstractmethod
    def health(self) -> Health:
        """Check reachability and credentials cheaply; never raise for an expected failure."""
        raise NotImplementedError("health")

    def probe(self) -> Probe:
        """A short check that the settings and credentials reach the platform: its version and a few
        counts (one page at most, never a whole inventory). Raises ``ProviderAuthError`` when the
        credentials are refused, ``ProviderUnavailable`` when it cannot be reached, ``ProviderDataError``
        when it answers something else than expected. Used before an account is saved
        (``providers.connection_check``).

        Every built-in driver has its own; this fallback, for a driver written before probes
        existed, reports what ``health()`` says.
        """
        health = self.health()
        if not health.ok:
            raise ProviderUnavailable(health.message)
        return Probe(product=self.label or self.kind, version="", where="", note=health.message,
                     details=dict(health.details))

    @abc.abstractmethod
    def inventory(self, since: datetime | None = None) -> Inventory:
        """Everything the account holds right now. Raise ``ProviderError`` if it cannot be had.

        ``since`` is the provider clock of the previous complete inventory: a driver whose platform
        can list deletions since then (Nova ``changes-since``) reports them in ``Inventory.deleted``
        with their real deletion time; others ignore it.
        """
        raise NotImplementedError("inventory")

    def samples(self, external_ids: Iterable[str] | None = None) -> list[UtilizationSample]:
        """Utilization of running resources (all, or those named)."""
        raise UnsupportedCapability(f"{self.kind} does not report utilization samples")

    def provision(self, spec: ProvisionSpec) -> ObservedResource:
        """Create a resource from ``spec`` and return it as observed right after creation."""
        raise UnsupportedCapability(f"{self.kind} cannot provision resources")

    def launch_options(self, project_ref: str | None = None) -> LaunchOptions:
        """What a new resource may be built from here (kinds, images, flavors, networks): the
        choices a launch form offers. Drivers with ``Capability.PROVISION`` implement it.

        ``project_ref`` is the platform's project the resource would be made in (what
        ``ProvisionSpec.project`` takes); a platform whose projects see different images or networks
        (OpenStack) offers that project's, others ignore it. ``None``: what the account itself sees."""
        raise UnsupportedCapability(f"{self.kind} cannot provision resources")

    def act(self, external_id: str, action: str) -> None:
        """Run one of ``Action.ALL`` on a resource."""
        raise UnsupportedCapability(f"{self.kind} does not support actions")

    def events(self, stop: Any = None, timeout: float | None = None) -> Iterator[ObservedEvent]:
        """Lifecycle events as they happen, until ``stop`` (a ``threading.Event``) is set or
        ``timeout`` seconds pass; see ``Capability.EVENTS``."""
        raise UnsupportedCapability(f"{self.kind} does not stream lifecycle events")

    def read_quotas(self, project_ref: str) -> Mapping[str, QuotaReading]:
        """The platform's own limits and usage for one of its projects, by our key."""
        raise UnsupportedCapability(f"{self.kind} holds no quotas")

    def apply_quota(self, project_ref: str, limits: Mapping[str, int]) -> Mapping[str, int]:
        """Push limits (our keys, a subset of ``quota_keys``) to the platform; return what it now has.

        Only the keys given are written: a key absent from ``limits`` leaves the platform's own limit
        exactly as it is. Keys the platform cannot hold (absent service) are skipped, not errors.
        """
        raise UnsupportedCapability(f"{self.kind} cannot apply quotas")

    def usage_report(self, project_ref: str, start: datetime, end: datetime) -> UsageTotals:
        """The platform's own usage totals for a project over [start, end)."""
        raise UnsupportedCapability(f"{self.kind} has no usage accounting of its own")

    def close(self) -> None:  # noqa: B027 - optional hook, most drivers have nothing to release
        """Release connections. Safe to call twice."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
