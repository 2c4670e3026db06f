"""Which provider accounts serve a project's launch form, and what a platform that cannot be asked
says."""

from __future__ import annotations

import pytest

from metering.launching import options_for, serving_accounts
from metering.models import ExternalProject, Project
from providers.base import Kind, ProviderUnavailable

pytestmark = pytest.mark.django_db


def test_accounts_without_tenants_serve_every_project_mapped_ones_only_theirs(make_account, project):
    beta = Project.objects.create(slug="beta", name="Beta")
    make_account(name="plain", world_name="w1")
    cloud = make_account(name="cloud", world_name="w2")
    ExternalProject.objects.create(account=cloud, external_id="kp-1", name="alpha-tenant", project=project)
    ExternalProject.objects.create(account=cloud, external_id="kp-2", name="unmapped")
    off = make_account(name="off", world_name="w3")
    off.enabled = False
    off.save()
    assert [a.name for a in serving_accounts(project)] == ["cloud", "plain"]
    assert [a.name for a in serving_accounts(beta)] == ["plain"]


def test_options_or_the_platforms_reason(fake_account, world):
    world.images = ["debian-12"]
    options, error = options_for(fake_account)
    assert error == "" and options.kinds == (Kind.VM, Kind.CONTAINER, Kind.VOLUME)
    assert [c.value for c in options.images] == ["debian-12"]
    world.fail = ProviderUnavailable("cloud unreachable\nTraceback...")
    options, error = options_for(fake_account)
    assert options is None
    assert error == f"{fake_account.name} could not list its images, flavors and networks: cloud unreachable …"


def test_tenants_seen_but_none_mapped_narrow_nothing(make_account, project):
    """An LXD refresh (or a quota push) records the platform's projects before the operator maps
    any: the account still serves every project, as one without tenants does (the real-LXD
    admission test was refused "none is mapped" before)."""
    lxd = make_account(name="lxd", world_name="w4")
    ExternalProject.objects.create(account=lxd, external_id="default", name="default")
    assert [a.name for a in serving_accounts(project)] == ["lxd"]
