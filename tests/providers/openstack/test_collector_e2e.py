"""The OpenStack driver through the real path, against the simulator: inventory, paging, deletion
at terminated_at, and Glasspane's usage against Nova's own os-simple-tenant-usage."""

import json
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from devsim.openstack import seed
from metering import collector
from metering.choices import Measure
from metering.models import ExternalProject, Project, ProviderUsage, Resource
from metering.reports import usage_report
from providers.models import ProviderAccount

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def add_cloud(server, interval=300):
    run("provider", "add", "cloud", "--kind", "openstack", "--setting", f"auth_url={server.auth_url}",
        "--setting", "auto_create_projects=true", "--credential", "username=admin",
        "--credential", "password=admin", "--credential", "project_name=admin", "--interval", str(interval))
    return ProviderAccount.objects.get(name="cloud")


def test_servers_with_flavor_sizes_projects_and_hosts(sim):
    add_cloud(sim)
    assert "ok" in run("refresh", "--provider", "cloud", "--wait")
    rows = json.loads(run("inventory", "--provider", "cloud", "--format", "json"))
    vms = {r["external_id"]: r for r in rows if r["kind"] == "vm"}
    live = sim.state.live_servers()
    assert set(vms) == {s.id for s in live}
    names = {p.id: p.name for p in sim.state.projects.values()}
    for server in live:
        row = vms[server.id]
        assert row["vcpus"] == f"{server.flavor.vcpus}.000" and row["ram_mb"] == server.flavor.ram
        assert Decimal(row["disk_gb"]) == server.flavor.disk + server.flavor.ephemeral
        assert row["project"] == names[server.project_id]  # auto-created from the Keystone project
        assert row["parent"] == server.hypervisor_hostname
    assert {"webshop", "analytics"} <= set(Project.objects.values_list("slug", flat=True))
    assert ExternalProject.objects.filter(account__name="cloud", facts__has_key="compute_quota").exists()


def test_2500_servers_page_through_completely(make_sim):
    server = make_sim(lambda state: (seed.demo(state), seed.generate(state, 2500)))
    add_cloud(server)
    run("refresh", "--provider", "cloud", "--wait")
    assert Resource.objects.filter(account__name="cloud", kind="vm").count() == len(server.state.live_servers())
    assert len(server.state.requests_to("/servers/detail")) >= 3


def test_deleted_server_ends_at_terminated_at_and_usage_matches_nova(sim):
    account = add_cloud(sim)
    clock = sim.state.clock
    t0 = clock.now()
    webshop = sim.state.project_named("webshop")
    victim = sim.state.live_servers(webshop.id)[0]
    for step in range(24):  # two hours, a refresh every 5 minutes
        collector.refresh(account)
        if step == 10:
            clock.advance(minutes=2, seconds=17)
            with sim.state.lock:
                sim.state.delete_server(victim)
            clock.advance(minutes=2, seconds=43)
        else:
            clock.advance(minutes=5)
    collector.refresh(account)
    t1 = clock.now()
    gone = Resource.objects.get(external_id=victim.id)
    assert gone.deleted_at == victim.terminated_at
    for slug in ("webshop", "analytics"):
        project = Project.objects.get(slug=slug)
        report = usage_report(t0, t1, project=project)
        ours = report.totals
        # Nova's local GB counts the servers' own disks; Cinder volumes are separate resources
        vm_disk = sum(r.measures[Measure.DISK_GB_HOURS] for r in report.rows if r.kind == "vm")
        ext = ExternalProject.objects.get(account=account, project=project)
        nova = sim.state.usage(t0, t1, ext.external_id)
        vcpu = sum(Decimal(str(line.hours)) * line.server.flavor.vcpus for line in nova)
        ram_mb = sum(Decimal(str(line.hours)) * line.server.flavor.ram for line in nova)
        disk = sum(Decimal(str(line.hours)) * (line.server.flavor.disk + line.server.flavor.ephemeral) for line in nova)
        assert abs(ours[Measure.VCPU_HOURS] - vcpu) <= vcpu * Decimal("0.001")
        assert abs(ours[Measure.RAM_GB_HOURS] * 1024 - ram_mb) <= ram_mb * Decimal("0.001")
        assert abs(vm_disk - disk) <= disk * Decimal("0.001")
    stored = ProviderUsage.objects.filter(account=account)
    assert stored.count() >= 2 and all(u.end == t1 for u in stored)
    assert t1 - t0 == timedelta(hours=2)


@pytest.mark.django_db(transaction=True)
def test_a_limit_set_in_glasspane_reaches_the_simulators_quota_sets(sim, eager):
    from metering.choices import ChangeSource
    from metering.quotas import drift, set_limits

    account = add_cloud(sim)
    collector.refresh(account)
    webshop = Project.objects.get(slug="webshop")
    tenant = ExternalProject.objects.get(account=account, project=webshop).external_id
    set_limits(webshop, {"vcpus": 33, "vms": 7, "disk_gb": 321}, user=None, source=ChangeSource.CLI)
    assert sim.state.compute_quota(tenant)["cores"] == 33
    assert sim.state.compute_quota(tenant)["instances"] == 7
    assert sim.state.volume_quota(tenant)["gigabytes"] == 321
    sim.state.clock.advance(minutes=1)
    collector.refresh(account)
    assert not [d for d in drift(webshop) if d.limit_differs]
