"""``make run``'s Proxmox demo: ``python -m devsim.proxmox`` serves the cluster run.sh starts, and
the demo's account reaches it (two nodes, VMs and containers in the pools webshop and analytics)."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from metering import collector
from metering.models import Project, Resource
from portal.demo import proxmox_account

pytestmark = [pytest.mark.integration, pytest.mark.django_db]
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def served(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "devsim.proxmox", "--port", "0", "--cert-dir", str(tmp_path),
                                "--seed", "demo"], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("GLASSPANE_DEMO_PROXMOX="), line
        yield line.split("=", 1)[1]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0


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
