"""The Docker driver through the real path: containers on the real engine -> refresh -> inventory."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from metering.choices import AccountHealth
from metering.models import CollectionState, Project, RawSample, Resource

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def refresh(name="engine"):
    CollectionState.objects.filter(account__name=name).update(last_observed_at=None)  # engines' clocks tick in seconds
    return run("refresh", "--provider", name, "--wait")


@pytest.fixture
def engine(docker_base_url):
    Project.objects.create(slug="shop", name="Shop")
    run("provider", "add", "engine", "--kind", "docker", "--setting", f"base_url={docker_base_url}")
    return docker_base_url


def test_labels_and_limits_reach_the_inventory_and_lifecycle_shows(engine, make_container):
    limited = make_container(labels={"glasspane.project": "shop"}, nano_cpus=500_000_000, mem_limit="64m")
    free = make_container(labels={"glasspane.project": "shop"})
    busy = make_container(["sh", "-c", "trap 'exit 0' TERM; while :; do :; done"],
                          labels={"glasspane.project": "shop"}, nano_cpus=1_000_000_000)
    assert "ok" in refresh()
    rows = {r["external_id"]: r for r in json.loads(run("inventory", "--provider", "engine", "--format", "json"))}
    row = rows[limited.id]
    assert (row["project"], row["vcpus"], row["ram_mb"], row["state"]) == ("shop", "0.500", 64, "running")
    assert rows[free.id]["vcpus"] is None and rows[free.id]["ram_mb"] is None
    assert rows[limited.id]["parent"] is not None  # the engine's host
    refresh()  # a second sample gives CPU deltas
    busy_row = Resource.objects.get(external_id=busy.id)
    sample = RawSample.objects.filter(resource=busy_row, cpu_core_seconds__isnull=False).latest("at")
    assert sample.cpu_core_seconds > 0 and sample.memory_used_mb is not None
    idle = RawSample.objects.filter(resource__external_id=limited.id, cpu_core_seconds__isnull=False)
    assert all(s.cpu_core_seconds < sample.cpu_core_seconds for s in idle)

    limited.stop(timeout=1)
    free.remove(force=True)
    refresh()
    stopped = Resource.objects.get(external_id=limited.id)
    assert stopped.state == "stopped" and stopped.finished_at is not None
    gone = Resource.objects.get(external_id=free.id)
    assert gone.state == "deleted" and gone.deleted_at is not None


def test_engine_unreachable_is_unhealthy_and_others_refresh(engine, tmp_path, make_container):
    make_container(labels={"glasspane.project": "shop"})
    run("provider", "add", "dead", "--kind", "docker", "--setting", f"base_url=unix://{tmp_path}/none.sock")
    out = StringIO()
    with pytest.raises(Exception):  # noqa: B017 - refresh exits non-zero when one account failed
        call_command("refresh", "--wait", stdout=out)
    assert "engine: ok" in out.getvalue() and "dead: failed" in out.getvalue()
    dead = CollectionState.objects.get(account__name="dead")
    assert dead.health == AccountHealth.UNHEALTHY and "none.sock" in dead.health_message
    assert CollectionState.objects.get(account__name="engine").health == AccountHealth.OK
