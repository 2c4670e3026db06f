"""Refresh end to end (driver + collector + database) against the floor: the bare platform calls
for the same data plus a bulk insert of the same rows."""

from __future__ import annotations

import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from django.db import transaction

from bench import docker_floor, kubernetes_floor, libvirt_floor, openstack_floor, proxmox_floor
from bench.harness import Figure, best_of
from devsim import proxmox
from devsim.kubernetes import seed as kubernetes_seed
from devsim.kubernetes.server import start_in_thread as start_kubernetes
from devsim.libvirt_nodes import write_node_xml
from devsim.openstack import seed
from devsim.openstack.server import start_in_thread
from devsim.openstack.state import CloudState
from metering import collector
from metering import samples as raw_samples
from metering.collector import lookback_start
from metering.models import LastSample, Project, RawSample, Resource, UsageSegment
from metering.models.collection import CollectionState
from providers.heap import gc_paused
from providers.libvirt import connection as libvirt_connection
from providers.libvirt.driver import forget_parsed
from providers.models import ProviderAccount

PROJECTS = ["bench-a", "bench-b", "bench-c", "bench-d"]


def bulk_insert_floor(account: ProviderAccount, resources: int, samples: int) -> float:
    """Seconds to bulk-insert ``resources`` resources with one segment each and ``samples`` samples,
    in a transaction that is rolled back."""
    now = datetime.now(UTC)
    started = time.perf_counter()
    with gc_paused(), transaction.atomic():
        rows = Resource.objects.bulk_create(
            [Resource(account=account, external_id=f"floor-{i}", kind="vm", name=f"floor-{i}", state="running",
                      vcpus=2, ram_mb=2048, disk_gb=20, first_seen=now, last_seen=now) for i in range(resources)],
            batch_size=1000)
        UsageSegment.objects.bulk_create(
            [UsageSegment(resource=r, account=account, kind="vm", state="running", vcpus=2, ram_mb=2048, disk_gb=20,
                          start=now, end=now) for r in rows], batch_size=1000)
        RawSample.objects.bulk_create(
            [RawSample(resource=rows[i % len(rows)], at=now, cpu_time_ns=i) for i in range(samples)],
            batch_size=1000)
        transaction.set_rollback(True)
    return time.perf_counter() - started


def _floor(fn, *args):
    """A floor's platform calls with the cyclic garbage collector paused throughout
    (``providers.heap.gc_paused``; a refresh pauses only its plain-data work), so a collection never
    makes the floor look slow."""
    with gc_paused():
        return fn(*args)


def _copy(row, **changes):
    """A new unsaved row holding ``row``'s column values (primary key cleared), ``changes`` applied."""
    values = {f.attname: getattr(row, f.attname) for f in row._meta.concrete_fields if not f.primary_key}
    values.update(changes)
    return type(row)(**values)


def same_rows_floor(account: ProviderAccount) -> float:
    """Seconds to bulk-insert and commit copies of the rows a refresh of ``account`` stored (deleted
    again, untimed): every resource as stored (names, labels, properties), each one's latest
    segment, its latest sample and its last counters. The rows are read before the clock starts;
    samples and counters go in as the collector writes them (``metering.samples``), resources and
    segments with ``bulk_create``.

    This is the "bulk insert of the same rows" the refresh lines are held to: ``bulk_insert_floor``
    inserts blank rows of the same number, which store less than the refresh must (a libvirt
    domain's properties alone are some 300 bytes of JSON); it is kept and printed beside it."""
    resources = list(Resource.objects.filter(account=account).order_by("pk"))
    segments = {s.resource_id: s for s in UsageSegment.objects.filter(account=account).order_by("resource_id", "start")}
    samples = {row[0]: row for row in RawSample.objects.filter(resource__account=account)
               .order_by("resource_id", "at").values_list(*raw_samples.SAMPLE_COLUMNS)}
    last = list(LastSample.objects.filter(resource__account=account).values_list(*raw_samples.LAST_COLUMNS))
    started = time.perf_counter()
    with gc_paused(), transaction.atomic():  # committed, as a refresh's writes are
        copies = Resource.objects.bulk_create(
            [_copy(r, external_id=f"floor-{r.pk}", parent_id=None) for r in resources], batch_size=1000)
        new_pk = {r.pk: c.pk for r, c in zip(resources, copies, strict=True)}
        UsageSegment.objects.bulk_create(
            [_copy(s, resource_id=new_pk[s.resource_id]) for s in segments.values()], batch_size=1000)
        raw_samples.insert([(new_pk[pk], *rest) for pk, *rest in samples.values()])
        raw_samples.store_last([(new_pk[pk], *rest) for pk, *rest in last])
    took = time.perf_counter() - started
    Resource.objects.filter(pk__in=[c.pk for c in copies]).delete()  # untimed
    return took


def _blank_note(first: float, second: float | None, blank: float) -> str:
    """What the ratios would be against the old floor that inserted blank rows (kept for comparison)."""
    ratios = f"{first / blank:.2f}x" + (f" / {second / blank:.2f}x" if second is not None else "")
    return f"floor with blank rows inserted {blank:.3f} s: {ratios}"


def _reset(account: ProviderAccount) -> None:
    Resource.objects.filter(account=account).delete()
    CollectionState.objects.filter(account=account).update(last_observed_at=None)


def libvirt_figures(domains: int = 2000) -> list[Figure]:
    for slug in PROJECTS:
        Project.objects.get_or_create(slug=slug, defaults={"name": slug})
    path = Path(tempfile.mkdtemp()) / "node.xml"
    write_node_xml(path, domains, PROJECTS, seed=11)
    uri = f"test://{path}"
    account = ProviderAccount.objects.create(name="bench-libvirt", kind="libvirt", settings={"uri": uri},
                                             refresh_interval=300)
    libvirt_connection.connect(uri)  # opening parses the node file: timed apart on both sides
    def cold():  # a first refresh: nothing stored, and a worker that has parsed none of this host's domains
        _reset(account)
        forget_parsed(uri)

    first = best_of(lambda: collector.refresh(account), repeat=3, setup=cold)
    second = best_of(lambda: collector.refresh(account), repeat=3,
                     setup=lambda: CollectionState.objects.filter(account=account).update(last_observed_at=None))
    samples = RawSample.objects.filter(resource__account=account).count() // 4 or domains
    bare = min((lambda r: r["inventory"] + r["samples"])(_floor(libvirt_floor.bare_calls, uri)) for _ in range(3))
    floor = bare + min(same_rows_floor(account) for _ in range(3))
    blank = bare + min(bulk_insert_floor(account, domains + 1, samples) for _ in range(3))
    libvirt_connection.forget(uri)
    note = f"{domains} test-driver domains; {_blank_note(first, second, blank)}"
    return [Figure("refresh, libvirt (first: creates)", first, floor, "s", "<= 1.5x", note),
            Figure("refresh, libvirt (steady state)", second, floor, "s", "<= 1.2x", note)]


def openstack_figures(servers: int = 5000) -> list[Figure]:
    """First refresh of ``servers`` servers against the floor (``bench.openstack_floor``): the same
    requests made with plain ``requests`` over one keystoneauth session, plus one bulk insert of the
    same rows; taken in turns, best of three."""
    state = CloudState()
    seed.demo(state)
    seed.generate(state, servers)
    server, auth_url = start_in_thread(state=state)
    try:
        account = ProviderAccount(name="bench-openstack", kind="openstack", settings={"auth_url": auth_url})
        account.credentials = {"username": "admin", "password": "admin", "project_name": "admin"}
        account.save()
        ours, floors, blanks, requests = [], [], [], {}
        for _ in range(3):
            _reset(account)
            before = server.served
            ours.append(best_of(lambda: collector.refresh(account), repeat=1))
            requests["ours"] = server.served - before
            rows = Resource.objects.filter(account=account).count()
            since = lookback_start(datetime.now(UTC))
            bare = _floor(openstack_floor.raw_floor, auth_url, since, since.replace(day=1))
            requests["floor"] = bare["requests"]
            floors.append(bare["seconds"] + same_rows_floor(account))
            blanks.append(bare["seconds"] + bulk_insert_floor(account, rows, 0))
    finally:
        server.stop()
    return [Figure("refresh, OpenStack (first: creates)", min(ours), min(floors), "s", "<= 1.5x",
                   f"{servers} servers, {rows} resources; floor = the same {requests['floor']} requests with "
                   f"raw requests over one keystoneauth session + bulk insert (ours made {requests['ours']}); "
                   f"{_blank_note(min(ours), None, min(blanks))}")]


def docker_figures(base_url: str | None, containers: int = 100) -> list[Figure]:
    if not base_url:
        return [Figure("refresh, Docker", None, None, "s", "<= 1.5x", "no Docker-API engine: not measured")]
    label = uuid.uuid4().hex[:8]
    docker_floor.populate(base_url, containers, label)
    try:
        account = ProviderAccount.objects.create(name="bench-docker", kind="docker", settings={"base_url": base_url})
        ours = best_of(lambda: collector.refresh(account), repeat=2, setup=lambda: _reset(account))
        bare = min((lambda r: r["inventory_s"] + r["samples_s"])(_floor(docker_floor.floor, base_url)) for _ in range(2))
    finally:
        docker_floor.clear(base_url, label)
    return [Figure("refresh, Docker", ours, bare, "s", "<= 1.5x", f"{containers} containers with stats")]


def kubernetes_figures(pods: int = 2000, vms: int = 200) -> list[Figure]:
    server = start_kubernetes(kubernetes_floor.make_cluster(pods, vms))
    try:
        account = ProviderAccount(name="bench-kubernetes", kind="kubernetes",
                                  settings={"server": server.url, "watch_seconds": 0})
        account.credentials = {"token": kubernetes_seed.ADMIN_TOKEN}
        account.save()
        first = best_of(lambda: collector.refresh(account), repeat=2, setup=lambda: _reset(account))
        second = best_of(lambda: collector.refresh(account), repeat=2,
                         setup=lambda: CollectionState.objects.filter(account=account).update(last_observed_at=None))
        resources = Resource.objects.filter(account=account).count()
        samples = resources  # a refresh samples every node, pod and VM once
        bare = best_of(lambda: _floor(kubernetes_floor.client_floor, server.url), repeat=2)
        floor = bare + min(same_rows_floor(account) for _ in range(2))
        blank = bare + min(bulk_insert_floor(account, resources, samples) for _ in range(2))
    finally:
        server.stop()
    note = (f"{pods} pods + {vms} KubeVirt VMs ({resources} resources, memory samples); floor = the client paging "
            f"the same 9 lists (metrics too) as raw JSON + bulk insert; {_blank_note(first, second, blank)}")
    return [Figure("refresh, Kubernetes (first: creates)", first, floor, "s", "<= 1.5x", note),
            Figure("refresh, Kubernetes (steady state)", second, floor, "s", "<= 1.5x", note)]
def proxmox_figures(guests: int = 300) -> list[Figure]:
    """A fake cluster (fakepve, HTTPS on loopback) of ``guests`` guests; the floor is the same
    requests made bare (``bench.proxmox_floor``) plus the bulk insert of the same rows."""
    if not proxmox.available():
        return [Figure("refresh, Proxmox", None, None, "s", "<= 1.5x", "fakepve (test extra) not installed")]
    cluster = proxmox.spawn(tempfile.mkdtemp(), seed=f"gen:{guests}")  # its own process, like a real cluster
    try:
        account = ProviderAccount(name="bench-proxmox", kind="proxmox", settings=cluster.provider_settings(),
                                  refresh_interval=300)
        account.credentials = {"username": "root@pam", "password": "secret"}
        account.save()
        # interleaved rounds (ours first run, ours steady, the floor), best of each: on a shared
        # machine a load spike then hits all three instead of one side
        first, second, bare, blanks, calls = [], [], [], [], []
        for _ in range(5):
            first.append(best_of(lambda: collector.refresh(account), repeat=1, setup=lambda: _reset(account)))
            second.append(best_of(lambda: collector.refresh(account), repeat=1))
            calls.append(_floor(proxmox_floor.bare_calls, cluster))
            rows = Resource.objects.filter(account=account).count()
            samples = RawSample.objects.filter(resource__account=account).count() // 2 or guests
            bare.append(calls[-1]["seconds"] + same_rows_floor(account))
            blanks.append(calls[-1]["seconds"] + bulk_insert_floor(account, rows, samples))
        first, second, floor = min(first), min(second), min(bare)
    finally:
        cluster.stop()
    note = (f"{guests} guests ({calls[0]['running']} running), fakepve in its own process, HTTPS; "
            f"{_blank_note(first, second, min(blanks))}")
    return [Figure("refresh, Proxmox (first: creates)", first, floor, "s", "<= 1.5x", note),
            Figure("refresh, Proxmox (steady state)", second, floor, "s", "<= 1.5x", note)]
