"""``provider test`` and ``provider add --test``: the portal's Test connection on the command line.
One line saying what the provider answered (exit 0) or its error (exit 1); bad arguments exit 2;
nothing is saved by a test, and ``add --test`` adds nothing when the test fails."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from providers.models import ProviderAccount

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_an_unsaved_account_is_tested_without_saving(world, request):
    out = run("provider", "test", "--kind", "fake", "--setting", f"world={request.node.name}", "--credential", "token=t")
    assert out.strip() == f"ok: Connected to fake 1.0 at world {request.node.name}: 0 resources, 0 projects"
    assert not ProviderAccount.objects.exists()


def test_libvirt_test_driver():
    out = run("provider", "test", "--kind", "libvirt", "--setting", "uri=test:///default")
    assert out.startswith("ok: Connected to libvirt ") and out.strip().endswith(": 1 domain, 1 active")


def test_a_saved_account_with_its_stored_credentials_and_changes(make_account, world, request):
    make_account(name="acc", world_name=request.node.name)
    assert run("provider", "test", "acc").startswith("ok: Connected to fake 1.0")
    with pytest.raises(CommandError) as err:  # a new endpoint: the stored token is not sent there
        run("provider", "test", "acc", "--setting", "world=elsewhere")
    assert err.value.returncode == 2 and "--credential token: enter it again" in str(err.value)
    with pytest.raises(CommandError) as err:
        run("provider", "test", "acc", "--setting", "world=elsewhere", "--credential", "token=t2")
    assert err.value.returncode == 1
    assert str(err.value) == "cannot reach the provider (unreachable): fake world 'elsewhere' does not exist"
    assert ProviderAccount.objects.get(name="acc").settings == {"world": request.node.name}


def test_a_failed_test_exits_1_with_the_providers_error():
    with pytest.raises(CommandError) as err:
        run("provider", "test", "--kind", "libvirt", "--setting", "uri=qemu+tcp://127.0.0.1:1/system")
    assert err.value.returncode == 1
    assert str(err.value).startswith("cannot reach the provider (unreachable): cannot connect to libvirt at "
                                     "qemu+tcp://127.0.0.1:1/system")


@pytest.mark.parametrize("args,message", [
    ((), "give a saved account's name, or --kind with --setting and --credential"),
    (("nope",), "name 'nope': no such provider account"),
    (("--kind", "nope"), "--kind: unknown provider kind 'nope'"),
    (("--kind", "docker", "--setting", "base_url=tcp://127.0.0.1:99999"),
     "--setting base_url: the port must be a whole number from 1 to 65535"),
    (("--kind", "fake", "--setting", "world=w", "--timeout", "0"), "--timeout 0: must be more than 0"),
])
def test_bad_arguments_are_one_line_and_exit_2(args, message):
    with pytest.raises(CommandError) as err:
        run("provider", "test", *args)
    assert err.value.returncode == 2 and message in str(err.value)


def test_add_with_test_adds_only_what_connects(world, request):
    out = run("provider", "add", "good", "--kind", "fake", "--setting", f"world={request.node.name}", "--test")
    assert out.splitlines() == [f"ok: Connected to fake 1.0 at world {request.node.name}: 0 resources, 0 projects",
                                "added fake account 'good' (refresh every 300s)"]
    with pytest.raises(CommandError) as err:
        run("provider", "add", "bad", "--kind", "fake", "--setting", "world=nowhere", "--test")
    assert err.value.returncode == 1
    assert str(err.value) == "not added: cannot reach the provider (unreachable): fake world 'nowhere' does not exist"
    assert list(ProviderAccount.objects.values_list("name", flat=True)) == ["good"]


def test_from_a_shell_one_line_and_the_exit_status():
    """Testing an unsaved account reads no table: it works before ``migrate`` too."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.test"}
    ok = subprocess.run([sys.executable, "manage.py", "provider", "test", "--kind", "libvirt", "--setting",
                         "uri=test:///default"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and len(ok.stdout.splitlines()) == 1 and ok.stdout.startswith("ok: Connected to libvirt")
    failed = subprocess.run([sys.executable, "manage.py", "provider", "test", "--kind", "docker", "--setting",
                             "base_url=tcp://127.0.0.1:1"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert [line for line in failed.stderr.splitlines() if line.strip()] == [
        "CommandError: cannot reach the provider (unreachable): cannot reach the Docker engine at tcp://127.0.0.1:1: "
        "connection refused. Check that the engine (dockerd or 'podman system service') is running and that this "
        "address is right and reachable from the Glasspane workers."]
