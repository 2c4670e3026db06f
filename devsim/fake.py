"""An in-memory driver for fast unit tests of the collector and the pages.

Tests put a ``FakeWorld`` under a name in ``FakeDriver.worlds`` and point an account at it with the
setting ``world=NAME``. It never replaces the real-engine integration tests of the real drivers.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import ClassVar

from providers.base import (
    Capability,
    Driver,
    Health,
    Inventory,
    Kind,
    LaunchChoice,
    LaunchFlavor,
    LaunchOptions,
    ObservedProject,
    ObservedResource,
    ProviderDataError,
    ProviderError,
    ProviderUnavailable,
    ProvisionSpec,
    QuotaReading,
    Setting,
    State,
    UtilizationSample,
    utcnow,
)


@dataclass
class FakeWorld:
    resources: dict[str, ObservedResource] = field(default_factory=dict)
    samples: list[UtilizationSample] = field(default_factory=list)
    projects: list[ObservedProject] = field(default_factory=list)
    deleted: list[ObservedResource] = field(default_factory=list)
    now: datetime | None = None  # the provider's clock; None = real time
    fail: ProviderError | None = None  # raised by inventory() and health()
    quotas: dict[str, dict] = field(default_factory=dict)
    images: list[str] = field(default_factory=list)  # what launch_options offers
    flavors: list[LaunchFlavor] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    #: raised by apply_quota, one per call, first first (a refusal, an outage); empty: it applies
    quota_failures: list[ProviderError] = field(default_factory=list)
    quota_calls: int = 0  # how many times apply_quota was called

    def put(self, resource: ObservedResource) -> None:
        self.resources[resource.external_id] = resource

    def remove(self, external_id: str) -> None:
        self.resources.pop(external_id, None)


class FakeDriver(Driver):
    kind = "fake"
    label = "Fake (tests)"
    settings_schema = (Setting("world", required=True, endpoint=True, help="name of a FakeWorld in FakeDriver.worlds"),)
    credentials_schema = (Setting("token", secret=True),)
    capabilities = frozenset(
        {Capability.SAMPLES, Capability.PROVISION, Capability.ACTIONS, Capability.APPLY_QUOTA}
    )
    quota_keys = frozenset({"vms", "vcpus", "ram_mb", "disk_gb", "volumes"})
    worlds: ClassVar[dict[str, FakeWorld]] = {}

    @property
    def world(self) -> FakeWorld:
        try:
            return self.worlds[self.settings["world"]]
        except KeyError:
            raise ProviderUnavailable(f"fake world {self.settings.get('world')!r} does not exist") from None

    def health(self) -> Health:
        try:
            world = self.world
        except ProviderError as exc:
            return Health(False, str(exc))
        if world.fail:
            return Health(False, str(world.fail))
        return Health(True, f"{len(world.resources)} resources")

    def probe(self):
        from providers.base import Probe

        world = self.world
        if world.fail:
            raise world.fail
        return Probe(product="fake", version="1.0", where=f"world {self.settings['world']}",
                     counts={"resources": len(world.resources), "projects": len(world.projects)})

    def inventory(self, since=None) -> Inventory:
        world = self.world
        if world.fail:
            raise world.fail
        return Inventory(
            resources=list(world.resources.values()),
            observed_at=world.now or utcnow(),
            deleted=list(world.deleted),
            projects=list(world.projects),
            quotas={p.external_id: self.read_quotas(p.external_id) for p in world.projects},
        )

    def samples(self, external_ids=None) -> list[UtilizationSample]:
        wanted = set(external_ids) if external_ids is not None else None
        return [s for s in self.world.samples if wanted is None or s.external_id in wanted]

    def provision(self, spec: ProvisionSpec) -> ObservedResource:
        world = self.world
        if world.fail:
            raise world.fail
        resource = ObservedResource(
            external_id=f"fake-{len(world.resources) + 1}-{spec.name}",
            kind=spec.kind,
            name=spec.name,
            state=State.RUNNING,
            vcpus=spec.vcpus,
            ram_mb=spec.ram_mb,
            disk_gb=spec.disk_gb,
            project_hint=spec.project,
            image=spec.image,
            labels=dict(spec.labels),
            created_at=world.now or utcnow(),
            started_at=world.now or utcnow(),
        )
        world.put(resource)
        return resource

    def launch_options(self, project_ref: str | None = None) -> LaunchOptions:
        world = self.world
        if world.fail:
            raise world.fail
        return LaunchOptions(kinds=(Kind.VM, Kind.CONTAINER, Kind.VOLUME),
                             images=tuple(LaunchChoice(i, i) for i in world.images),
                             flavors=tuple(world.flavors), networks=tuple(LaunchChoice(n, n) for n in world.networks))

    def flavor_size(self, ref: str):
        for flavor in self.world.flavors:
            if flavor.value == ref:
                return flavor.vcpus, flavor.ram_mb, flavor.disk_gb
        raise ProviderDataError(f"the fake world has no flavor {ref!r}")

    def act(self, external_id: str, action: str) -> None:
        world = self.world
        resource = world.resources[external_id]
        if action == "delete":
            world.remove(external_id)
        elif action == "stop":
            world.put(replace(resource, state=State.STOPPED))
        elif action in ("start", "reboot"):
            world.put(replace(resource, state=State.RUNNING))

    def read_quotas(self, project_ref):
        """The limits last applied (only keys given were written; the rest are unset), no usage."""
        held = self.world.quotas.get(project_ref, {})
        return {key: QuotaReading(key, held.get(key)) for key in sorted(self.quota_keys)}

    def apply_quota(self, project_ref, limits):
        self.world.quota_calls += 1
        if self.world.quota_failures:
            raise self.world.quota_failures.pop(0)
        self.world.quotas[project_ref] = {**self.world.quotas.get(project_ref, {}), **limits}
        return dict(self.world.quotas[project_ref])
