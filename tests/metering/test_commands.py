"""Management commands: provider add/list/remove, project, refresh, inventory; errors exit 2."""

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from providers.models import ProviderAccount
from tests.conftest import vm

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_provider_add_list_remove(world, request):
    out = run("provider", "add", "lab", "--kind", "fake", "--setting", f"world={request.node.name}",
              "--credential", "token=abc", "--interval", "60")
    assert "added fake account 'lab'" in out
    account = ProviderAccount.objects.get(name="lab")
    assert account.settings == {"world": request.node.name} and account.credentials == {"token": "abc"}
    assert account.refresh_interval == 60
    listed = json.loads(run("provider", "list", "--format", "json"))
    assert listed[0]["name"] == "lab" and "token" not in json.dumps(listed)
    assert "removed" in run("provider", "remove", "lab")
    assert not ProviderAccount.objects.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--kind", "vmware"], "--kind: unknown provider kind 'vmware'"),
        (["--kind", "fake"], "--setting world: is required"),
        (["--kind", "fake", "--setting", "world"], "--setting 'world': expected key=value"),
        (["--kind", "fake", "--setting", "world=w", "--interval", "5"], "--interval 5: must be at least 10"),
        (["--kind", "fake", "--setting", "world=w", "--setting", "colour=red"], "--setting colour: unknown setting"),
    ],
)
def test_provider_add_errors_name_what_is_wrong(args, message):
    with pytest.raises(CommandError) as err:
        call_command("provider", "add", "lab", *args)
    assert message in str(err.value) and err.value.returncode == 2
    assert not ProviderAccount.objects.exists()


def test_refresh_then_inventory_json(fake_account, world, project):
    world.put(vm("v1", name="web-1", vcpus="1.5", ram_mb=1536, disk_gb="10.5", labels={"tier": "web"}))
    out = run("refresh", "--provider", fake_account.name, "--wait")
    assert "ok" in out and "created 1" in out
    [row] = json.loads(run("inventory", "--provider", fake_account.name, "--format", "json"))
    assert row | {} == row
    assert (row["name"], row["project"], row["vcpus"], row["ram_mb"], row["disk_gb"], row["labels"]) == (
        "web-1", "alpha", "1.500", 1536, "10.500", {"tier": "web"})
    assert row["kind"] == "vm" and row["state"] == "running" and row["provider"] == fake_account.name
    table = run("inventory", "--project", "alpha")
    assert "web-1" in table and "alpha" in table


def test_inventory_unknown_project_is_a_usage_error():
    with pytest.raises(CommandError) as err:
        call_command("inventory", "--project", "nope")
    assert err.value.returncode == 2 and "--project 'nope': no such project" in str(err.value)


def test_bad_arguments_print_one_line_and_exit_2():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.test"}
    proc = subprocess.run([sys.executable, "manage.py", "inventory", "--format", "yaml"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--format" in lines[0] and "yaml" in lines[0]


def test_project_add_and_list():
    assert "added project 'web-shop'" in run("project", "add", "web-shop", "--name", "Web shop")
    assert json.loads(run("project", "list", "--format", "json"))[0]["name"] == "Web shop"
    with pytest.raises(CommandError) as err:
        call_command("project", "add", "Bad_Slug")
    assert err.value.returncode == 2 and "slug 'Bad_Slug'" in str(err.value)
