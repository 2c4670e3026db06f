"""``make run``'s Proxmox demo: ``python -m devsim.proxmox`` serves the cluster run.sh starts, and
the demo's account reaches it (two nodes, VMs and containers in the pools webshop and analytics)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devsim import proxmox
from metering import collector
from metering.models import Project, Resource
from portal.demo import proxmox_account

pytestmark = [pytest.mark.integration, pytest.mark.django_db]
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def served(tmp_path):
    """What run.sh starts: ``python -m devsim.proxmox --seed demo``, its line read back."""
    cluster = proxmox.spawn(tmp_path, seed="demo")
    yield f"127.0.0.1:{cluster.port}:{cluster.cafile}"
    cluster.stop()
    assert cluster.process.returncode == 0  # SIGTERM stops it cleanly


def test_the_demo_cluster_is_served_and_collected(served):
    for slug in ("webshop", "analytics"):
        Project.objects.create(slug=slug, name=slug)
    account = proxmox_account(served)
    assert collector.refresh(account).status == "ok"
    guests = Resource.objects.filter(account=account, kind__in=["vm", "container"])
    assert guests.count() == 6
    assert {r.project.slug for r in guests} == {"webshop", "analytics"}
    assert set(Resource.objects.filter(account=account, kind="host").values_list("name", flat=True)) == {"pve1", "pve2"}
    assert proxmox_account(served).pk == account.pk  # run again: the same account, settings refreshed


def test_a_bad_seed_is_one_line_and_exit_2(tmp_path):
    done = subprocess.run([sys.executable, "-m", "devsim.proxmox", "--seed", "lots", "--cert-dir", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0 and "--seed" in done.stderr
