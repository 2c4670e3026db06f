"""The LXD driver against a real LXD daemon (``scripts/lxd-host.sh``): inventory, samples,
lifecycle, events, project limits, and provisioning through Glasspane's quota admission."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pylxd
import pylxd.exceptions
import pytest

from metering.accounting import Attrs, Obs, Seg, advance
from providers.base import EventAction, Kind, ProviderError, ProvisionSpec, State, utcnow
from providers.lxd.events import date_changes

pytestmark = pytest.mark.real_lxd


def by_id(inventory):
    return {r.external_id: r for r in inventory.resources}


def test_inventory_has_sizes_unlimited_projects_host_and_times(lxd_driver, lxd_project, launch):
    project = lxd_project("inv")
    before = utcnow()
    launch(project, "small", config={"limits.cpu": "1", "limits.memory": "64MiB", "user.team": "blue"}, size="1GiB")
    launch(project, "free")
    launch(project, "idle", start=False)
    inventory = lxd_driver.inventory()
    found = by_id(inventory)
    small, free, idle = found[f"{project}/small"], found[f"{project}/free"], found[f"{project}/idle"]
    assert (small.kind, small.state, small.vcpus, small.ram_mb, small.disk_gb) == (
        Kind.CONTAINER, State.RUNNING, Decimal(1), 64, Decimal(1))
    assert (free.vcpus, free.ram_mb, free.disk_gb) == (None, None, None)  # unlimited, never 0
    assert idle.state == State.STOPPED and idle.started_at is None
    assert small.project_hint == project and small.labels == {"team": "blue"}
    assert before - timedelta(seconds=2) <= small.created_at <= small.started_at <= utcnow()
    host = [r for r in inventory.resources if r.kind == Kind.HOST]
    assert len(host) == 1 and small.parent_external_id == host[0].external_id and host[0].vcpus > 0
    assert project in {p.external_id for p in inventory.projects}
    assert inventory.complete and inventory.issues == []


def test_the_project_key_overrides_the_lxd_project(lxd_driver, lxd_project, launch):
    project = lxd_project("key")
    launch(project, "tagged", config={"user.glasspane.project": "alpha"}, start=False)
    assert by_id(lxd_driver.inventory())[f"{project}/tagged"].project_hint == "alpha"


def test_samples_come_from_the_state_api(lxd_driver, lxd_project, launch):
    project = lxd_project("smp")
    instance = launch(project, "busy", config={"limits.memory": "64MiB"})
    ext = f"{project}/busy"
    first = {s.external_id: s for s in lxd_driver.samples([ext])}[ext]
    instance.execute(["sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"])
    second = lxd_driver.samples([ext])[0]
    assert second.cpu_time_ns > first.cpu_time_ns > 0
    assert Decimal(0) < second.memory_used_mb < Decimal(64) and second.memory_total_mb == Decimal(64)
    assert second.at > first.at


def test_start_stop_reboot_delete(lxd_driver, lxd_project, launch, lxd_client):
    project = lxd_project("act")
    launch(project, "c1")
    ext = f"{project}/c1"
    lxd_driver.act(ext, "stop")
    assert by_id(lxd_driver.inventory())[ext].state == State.STOPPED
    lxd_driver.act(ext, "stop")  # idempotent
    lxd_driver.act(ext, "start")
    running = by_id(lxd_driver.inventory())[ext]
    assert running.state == State.RUNNING
    lxd_driver.act(ext, "reboot")
    assert by_id(lxd_driver.inventory())[ext].state == State.RUNNING
    lxd_driver.act(ext, "delete")
    assert ext not in by_id(lxd_driver.inventory())
    lxd_driver.act(ext, "delete")  # already gone
    with pytest.raises(ProviderError, match="no longer exists"):
        lxd_driver.act(ext, "start")


def test_a_container_stopped_between_two_polls_is_dated_by_its_event(lxd_driver, lxd_project, launch):
    project = lxd_project("evt")
    launch(project, "c1", config={"limits.cpu": "1"})
    ext = f"{project}/c1"
    poll_1 = lxd_driver.inventory()
    assert by_id(poll_1)[ext].state == State.RUNNING
    stop = threading.Event()
    stream = lxd_driver.events(stop=stop, timeout=30)
    asked = utcnow()
    lxd_driver.act(ext, "stop")
    done = utcnow()
    time.sleep(1)
    poll_2 = lxd_driver.inventory()
    stop.set()
    seen = [event for event in stream if event.external_id == ext]
    stops = [event for event in seen if event.action == EventAction.STOPPED]
    assert len(stops) == 1 and asked <= stops[0].at <= done, seen
    observed = date_changes([by_id(poll_2)[ext]], seen)[0]
    assert observed.state == State.STOPPED and observed.finished_at == stops[0].at
    # the accounting closes the running segment at the event's time, not at the second poll
    attrs = Attrs(1, State.RUNNING, Decimal(1), None, None)
    change = advance(Seg(attrs, poll_1.observed_at, poll_1.observed_at),
                     Obs(poll_2.observed_at, Attrs(1, State.STOPPED, Decimal(1), None, None),
                         observed.started_at, observed.finished_at), max_gap=timedelta(minutes=15))
    assert change.current.end == stops[0].at
    assert abs((change.current.end - done).total_seconds()) < 1


def test_project_limits_are_read_and_only_the_keys_given_applied(lxd_driver, lxd_project, launch, lxd_client):
    project = lxd_project("lim", **{"limits.cpu": "4", "limits.memory": "512MiB", "limits.instances": "5"})
    launch(project, "c1", config={"limits.cpu": "1", "limits.memory": "64MiB"})
    readings = lxd_driver.read_quotas(project)
    assert (readings["vcpus"].limit, readings["vcpus"].used) == (4, 1)
    assert (readings["ram_mb"].limit, readings["ram_mb"].used) == (512, Decimal(64))
    assert readings["vms"].limit == -1 and readings["containers"].used == 1
    assert lxd_driver.inventory().quotas[project]["vcpus"].limit == 4
    applied = lxd_driver.apply_quota(project, {"containers": 3, "ram_mb": 1024})
    assert applied["containers"] == 3 and applied["ram_mb"] == 1024 and applied["vcpus"] == 4
    config = lxd_client.api.projects[project].get().json()["metadata"]["config"]
    assert config["limits.containers"] == "3" and config["limits.memory"] == "1024MiB"
    assert config["limits.instances"] == "5" and config["features.images"] == "false"  # untouched
    assert lxd_driver.apply_quota(project, {"containers": -1})["containers"] == -1
    assert "limits.containers" not in lxd_client.api.projects[project].get().json()["metadata"]["config"]
    with pytest.raises(ProviderError, match="too low") as below:
        lxd_driver.apply_quota(project, {"vcpus": 0})
    assert type(below.value) is ProviderError  # LXD's refusal: not retried as "unavailable"


def test_lxds_own_limit_refuses_provisioning_with_its_words(lxd_driver, lxd_project):
    project = lxd_project("own", **{"limits.memory": "64MiB", "limits.cpu": "2", "limits.disk": "1GiB"})
    made = lxd_driver.provision(ProvisionSpec(name="c1", kind=Kind.CONTAINER, project=project, vcpus=Decimal("0.5"),
                                              ram_mb=48, disk_gb=Decimal("0.5")))
    assert (made.state, made.vcpus, made.ram_mb, made.disk_gb) == (State.RUNNING, Decimal("0.5"), 48, Decimal("0.5"))
    with pytest.raises(ProviderError, match='Reached maximum aggregate value "64MiB" for "limits.memory"'):
        lxd_driver.provision(ProvisionSpec(name="c2", kind=Kind.CONTAINER, project=project, vcpus=Decimal(1),
                                           ram_mb=32, disk_gb=Decimal("0.25")))


def test_a_missing_image_says_so(lxd_driver, lxd_project):
    project = lxd_project("img")
    with pytest.raises(ProviderError, match="image 'no-such-image' is not on the LXD server"):
        lxd_driver.provision(ProvisionSpec(name="c1", kind=Kind.CONTAINER, project=project, image="no-such-image"))


def test_a_vm_is_a_vm_with_lxds_default_size_where_the_host_runs_them(lxd_driver, lxd_project, lxd_socket):
    project = lxd_project("vm")
    scoped = pylxd.Client(endpoint=lxd_socket, project=project, timeout=60)
    try:  # an empty VM (no image needed); its kind and size are what is under test
        scoped.instances.create({"name": "v1", "type": "virtual-machine", "source": {"type": "none"},
                                 "config": {"limits.cpu": "2"}}, wait=True)
    except pylxd.exceptions.LXDAPIException as exc:
        if "is not supported on this server" in str(exc):
            pytest.skip(f"this LXD host cannot run virtual machines: {exc}")
        raise
    vm = by_id(lxd_driver.inventory())[f"{project}/v1"]
    assert (vm.kind, vm.vcpus, vm.ram_mb) == (Kind.VM, Decimal(2), 1024)  # 1 GiB: LXD's VM default


@pytest.mark.django_db(transaction=True)
def test_provisioning_goes_through_quota_admission(lxd_socket, lxd_project, queued):
    from metering.choices import ChangeSource, RequestState
    from metering.models import Project, Resource
    from metering.quotas import QuotaExceeded, set_limits, submit
    from metering.quotas.provisioning import provision
    from providers.models import ProviderAccount

    lxd_name = lxd_project("adm")
    project = Project.objects.create(slug=lxd_name, name="Admission")
    account = ProviderAccount(name="lxd-local", kind="lxd", settings={"endpoint": f"unix://{lxd_socket}",
                                                                       "default_image": "busybox"})
    account.credentials = {}
    account.save()
    set_limits(project, {"containers": 1, "vcpus": 2}, user=None, source=ChangeSource.CLI)
    spec = {"name": "c1", "kind": "container", "vcpus": 1, "ram_mb": 32}
    request = submit(project, account, spec, user=None, source=ChangeSource.API)
    assert queued == [request.pk]
    done = provision(request.pk)
    assert done.state == RequestState.DONE, done.message
    created = Resource.objects.get(account=account, external_id=f"{lxd_name}/c1")
    assert created.project == project and created.vcpus == Decimal(1) and created.ram_mb == 32
    assert created.state == State.RUNNING
    with pytest.raises(QuotaExceeded) as refused:
        submit(project, account, {**spec, "name": "c2"}, user=None, source=ChangeSource.API)
    assert refused.value.message == "Quota exceeded for containers: Requested 1, but already used 1 of 1 containers"
    assert len(pylxd.Client(endpoint=lxd_socket, project=lxd_name).instances.all()) == 1


@pytest.mark.django_db
def test_the_demo_connects_the_local_lxd(lxd_socket):
    from metering import collector
    from metering.models import Project, Resource
    from portal.demo import lxd_account

    for slug in ("research", "analytics"):
        Project.objects.create(slug=slug, name=slug)
    client = pylxd.Client(endpoint=lxd_socket, timeout=60)
    try:
        account = lxd_account(lxd_socket)
        assert lxd_account(lxd_socket) == account  # idempotent: no second account, no second containers
        collector.refresh(account)
        notebook = Resource.objects.get(account=account, external_id="default/lab-notebook")
        assert notebook.project.slug == "research" and notebook.ram_mb == 128 and notebook.state == State.RUNNING
        assert Resource.objects.get(account=account, external_id="default/etl-batch").vcpus is None
    finally:
        for name in ("lab-notebook", "etl-batch"):
            if client.instances.exists(name):
                instance = client.instances.get(name)
                if instance.status != "Stopped":
                    instance.stop(force=True, wait=True)
                instance.delete(wait=True)


def test_inventory_lists_without_state_and_samples_with_it(lxd_driver, lxd_project, launch, monkeypatch):
    project = lxd_project("one")
    launch(project, "c1")
    calls = []
    fetch = lxd_driver._instances
    monkeypatch.setattr(lxd_driver, "_instances", lambda with_state=False: calls.append(with_state) or fetch(with_state))
    assert by_id(lxd_driver.inventory())[f"{project}/c1"].state == State.RUNNING  # from the listing's status
    assert f"{project}/c1" in {s.external_id for s in lxd_driver.samples()}
    assert calls == [False, True]


def test_closing_the_driver_ends_an_unread_event_stream(lxd_socket):
    from providers.lxd.driver import LXDDriver

    driver = LXDDriver({"endpoint": lxd_socket})
    stream = driver.events()
    driver.close()
    assert stream._socket.terminated and not stream._reader.is_alive()
    assert list(stream) == []
