"""``make run``'s demo cluster: the simulator's demo seed, connected by ``portal.demo``, maps its pods
and two KubeVirt VMs onto the demo projects."""

import socket
import subprocess
import sys
import time

import pytest
import requests

from devsim.kubernetes import seed
from metering import collector
from metering.models import Project, Resource
from portal.demo import kubernetes_account

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_demo_cluster_lands_in_the_demo_projects(cluster):
    for slug in ("webshop", "analytics"):
        Project.objects.get_or_create(slug=slug, defaults={"name": slug})
    account = kubernetes_account(cluster.url)
    assert kubernetes_account(cluster.url).pk == account.pk  # idempotent
    run = collector.refresh(account)
    assert run.status == "ok", run.error
    found = {r.name: r for r in Resource.objects.filter(account=account).select_related("project")}
    assert {n for n, r in found.items() if r.kind == "vm"} == {"webshop/testvm", "analytics/fedora"}
    assert {n for n, r in found.items() if r.kind == "container"} == {
        "webshop/frontend", "webshop/nginx", "analytics/report-builder"}
    assert found["webshop/testvm"].project.slug == "webshop"  # namespace label glasspane.project
    assert found["analytics/fedora"].project.slug == "analytics"  # namespace name = project slug
    assert found["webshop/testvm"].parent.kind == "host"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_simulator_runs_as_a_module_for_make_run():
    unused_port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "devsim.kubernetes", "--port", str(unused_port)],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert "API server http://127.0.0.1:" in process.stdout.readline()
        url = f"http://127.0.0.1:{unused_port}"
        for _ in range(40):
            try:
                response = requests.get(f"{url}/version", headers={"Authorization": f"Bearer {seed.ADMIN_TOKEN}"},
                                        timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert response.json()["gitVersion"].startswith("v1.")
        assert requests.get(f"{url}/version", timeout=2).status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=10)
