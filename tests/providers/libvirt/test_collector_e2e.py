"""The libvirt driver through the real path: provider add -> refresh --wait -> inventory --format json."""

import json
from io import StringIO

import libvirt
import pytest
from django.core.management import call_command

from devsim.libvirt_nodes import write_node_xml
from metering.choices import AccountHealth
from metering.models import CollectionState, Project, Resource, UsageSegment
from providers.libvirt import connection
from providers.models import ProviderAccount

pytestmark = [pytest.mark.integration, pytest.mark.django_db]
PROJECTS = ["alpha", "beta", "gamma"]


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def lab(tmp_path):
    for slug in PROJECTS:
        Project.objects.create(slug=slug, name=slug)
    path = tmp_path / "node.xml"
    facts = write_node_xml(path, 240, PROJECTS, seed=7)
    uri = f"test://{path}"
    run("provider", "add", "lab", "--kind", "libvirt", "--setting", f"uri={uri}", "--interval", "60")
    yield uri, facts
    connection.forget(uri)


def test_every_domain_is_listed_exactly(lab):
    uri, facts = lab
    assert "ok" in run("refresh", "--provider", "lab", "--wait")
    rows = json.loads(run("inventory", "--provider", "lab", "--format", "json"))
    hosts = [r for r in rows if r["kind"] == "host"]
    assert len(hosts) == 1
    by_id = {r["external_id"]: r for r in rows if r["kind"] != "host"}
    assert len(by_id) == len(facts)
    for fact in facts:
        row = by_id[fact["uuid"]]
        assert row["name"] == fact["name"] and row["kind"] == fact["kind"]
        assert row["vcpus"] == f"{fact['vcpus']}.000" and row["ram_mb"] == fact["ram_mb"]
        assert row["disk_gb"] == str(fact["disk_gb"]) and row["state"] == fact["state"]
        assert row["project"] == fact["project"]
        assert row["parent_external_id"] == hosts[0]["external_id"]


def test_destroyed_shows_stopped_and_undefined_shows_deleted(lab):
    uri, facts = lab
    run("refresh", "--provider", "lab", "--wait")
    conn = connection.connect(uri)
    running = [f for f in facts if f["state"] == "running"]
    victim, gone = conn.lookupByUUIDString(running[0]["uuid"]), conn.lookupByUUIDString(running[1]["uuid"])
    victim.destroy()
    gone.destroy()
    gone.undefine()
    account = ProviderAccount.objects.get(name="lab")
    CollectionState.objects.filter(account=account).update(last_observed_at=None)  # allow a same-second refresh
    run("refresh", "--provider", "lab", "--wait")
    assert Resource.objects.get(external_id=running[0]["uuid"]).state == "stopped"
    deleted = Resource.objects.get(external_id=running[1]["uuid"])
    assert deleted.state == "deleted" and deleted.deleted_at is not None
    assert not UsageSegment.objects.filter(resource=deleted, open=True).exists()
    listed = json.loads(run("inventory", "--provider", "lab", "--format", "json", "--include-deleted"))
    assert any(r["external_id"] == deleted.external_id and r["deleted_at"] for r in listed)


def test_unreachable_uri_is_unhealthy_and_others_still_refresh(lab, tmp_path):
    run("provider", "add", "broken", "--kind", "libvirt", "--setting", f"uri=test://{tmp_path}/missing.xml")
    out = StringIO()
    with pytest.raises(Exception):  # noqa: B017 - the command exits non-zero after reporting
        call_command("refresh", "--wait", stdout=out)
    text = out.getvalue()
    assert "lab: ok" in text and "broken: failed" in text
    broken = CollectionState.objects.get(account__name="broken")
    assert broken.health == AccountHealth.UNHEALTHY and "missing.xml" in broken.health_message
    assert CollectionState.objects.get(account__name="lab").health == AccountHealth.OK
    assert Resource.objects.filter(account__name="lab").count() == 241
    assert libvirt.getVersion() > 0
