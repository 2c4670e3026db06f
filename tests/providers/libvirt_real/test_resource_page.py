"""The resource detail page draws real CPU and memory charts from a real QEMU guest."""

from __future__ import annotations

import json
import re
import time

import pytest
from django.contrib.auth import get_user_model

from metering import collector
from metering.models import Project, Resource
from providers.models import ProviderAccount
from tests.providers.libvirt_real.conftest import QEMU_URI

pytestmark = [pytest.mark.real_libvirt, pytest.mark.integration, pytest.mark.django_db]


def chart(content: str, chart_id: str) -> dict:
    match = re.search(rf'<script id="{chart_id}" type="application/json">(.*?)</script>', content, re.S)
    assert match, f"no json_script {chart_id}"
    return json.loads(match.group(1))


def test_detail_page_of_a_real_guest_has_cpu_and_memory_charts(client, guests):
    dom = guests.make()
    Project.objects.create(slug="alpha", name="Alpha")
    account = ProviderAccount.objects.create(name="kvm-page", kind="libvirt", settings={"uri": QEMU_URI},
                                             refresh_interval=60)
    collector.refresh(account)
    time.sleep(2)
    collector.refresh(account)
    resource = Resource.objects.get(account=account, external_id=dom.UUIDString())
    client.force_login(get_user_model().objects.create_user("root-admin", password="x", is_staff=True))
    page = client.get(f"/resources/{resource.pk}/")
    assert page.status_code == 200
    content = page.content.decode()
    assert dom.name() in content

    cpu = chart(content, "chart-cpu")
    assert cpu["labels"], "no CPU points"
    average = [v for v in cpu["datasets"][0]["data"] if v is not None]
    assert average and all(0 < v <= 100 for v in average)  # an emulated guest in its BIOS, 1 vCPU

    memory = chart(content, "chart-memory")
    assert memory["labels"] == cpu["labels"]
    used = [v for v in memory["datasets"][0]["data"] if v is not None]
    assert used and all(0.001 < v <= 0.1875 for v in used)  # GiB of a 128 MiB guest, host-side (<= 192 MiB)
