"""``quota show``, ``quota set`` and ``quota defaults``; bad arguments exit 2 naming the field."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from metering import collector
from metering.models import Quota, QuotaAudit, QuotaDefault
from tests.conftest import vm

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command("quota", *args, stdout=out)
    return out.getvalue()


def test_set_then_show_as_json(fake_account, world, project):
    world.put(vm("v1", vcpus="4"))
    collector.refresh(fake_account)
    out = run("set", "alpha", "vcpus=2", "vms=-1")
    assert "vcpus: default -> 2" in out and "vms: default -> unlimited" in out
    assert "now over: vcpus uses 4 of 2" in out
    shown = json.loads(run("show", "alpha", "--format", "json"))
    vcpus = next(q for q in shown["quotas"] if q["key"] == "vcpus")
    assert (vcpus["limit"], vcpus["used"], vcpus["over"], vcpus["available"]) == (2, 4, True, 0)
    assert QuotaAudit.objects.filter(source="cli").count() == 2


def test_set_narrowed_to_an_account(fake_account, project):
    run("set", "alpha", "ram_mb=1024", "--account", fake_account.name)
    assert Quota.objects.get().account == fake_account
    assert "ram_mb" in run("show", "alpha", "--account", fake_account.name)


def test_defaults_show_and_set():
    assert "vms          unlimited" in run("defaults")
    out = run("defaults", "vms=10")
    assert "default vms: unlimited -> 10" in out and QuotaDefault.objects.get().limit == 10


@pytest.mark.parametrize("args, message", [
    (["set", "alpha", "vcpus=lots"], "vcpus: must be a whole number, -1 (unlimited) or more, got 'lots'"),
    (["set", "alpha", "vcpus=-3"], "vcpus: must be -1 (unlimited) or more, got -3"),
    (["set", "alpha", "gpus=1"], "gpus: unknown quota key"),
    (["set", "alpha", "vcpus"], "'vcpus': expected key=value"),
    (["set", "nope", "vcpus=1"], "slug 'nope': no such project"),
    (["set", "alpha", "vcpus=1", "--account", "nope"], "--account 'nope': no such provider account"),
    (["show", "nope"], "slug 'nope': no such project"),
    (["defaults", "vms=x"], "vms: must be a whole number"),
])
def test_bad_arguments_exit_2_naming_the_field(project, args, message):
    with pytest.raises(CommandError) as err:
        run(*args)
    assert message in str(err.value) and err.value.returncode == 2
    assert not Quota.objects.exists() and not QuotaDefault.objects.exists()
