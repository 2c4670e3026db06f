"""SIGKILL of a real Celery worker mid-provision (issue 17, fault injection): the request it was
provisioning ends failed with its reservation released by the sweeper (a redelivered task finds it
claimed and leaves it), and the reservation invariants hold. The mid-refresh kill is
``tests/metering/test_worker_integration.py``; this reuses its worker fixtures."""

from __future__ import annotations

import signal

import pytest

from devsim.libvirt_nodes import write_node_xml
from metering import quotas
from metering.choices import ChangeSource, RequestState
from metering.models import Project, ProvisionRequest, Reservation
from metering.tasks import sweep_requests
from providers.models import ProviderAccount
from tests.hostile.invariants import violations
from tests.metering.test_worker_integration import redis_broker, wait_for, workers  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_worker_killed_mid_provision_leaves_no_reservation_behind(workers, tmp_path, monkeypatch,  # noqa: F811
                                                                  settings):
    from metering.quotas import admission

    project = Project.objects.create(slug="alpha", name="alpha")
    path = tmp_path / "node.xml"
    write_node_xml(path, 1500, ["alpha"], seed=5)  # opening 1,500 domains takes the worker seconds
    account = ProviderAccount.objects.create(name="lab", kind="libvirt", settings={"uri": f"test://{path}"})
    monkeypatch.setattr(admission, "enqueue_provision", lambda request_id: workers.client.send_task(
        "metering.provision_request", args=(request_id,), queue=workers.queue))
    request = quotas.submit(project, account, {"name": "fresh-vm", "kind": "vm", "vcpus": "1", "ram_mb": 256},
                            user=None, source=ChangeSource.API)
    assert Reservation.objects.get(request=request).active
    first = workers.start()
    wait_for(lambda: ProvisionRequest.objects.get(pk=request.pk).state != RequestState.PENDING, 90,
             "the worker to claim the request")
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    request.refresh_from_db()
    assert request.state == RequestState.PROVISIONING, (request.state, request.message)
    assert Reservation.objects.get(request=request).active  # held by a request nobody works on
    workers.start()  # the message comes back after the visibility timeout; the claim makes it a no-op
    settings.GLASSPANE_PROVISION_TIMEOUT = 0  # what waiting out the stated timeout does
    assert sweep_requests() == 1
    request.refresh_from_db()
    assert request.state == RequestState.FAILED and "timeout" in request.message
    assert not Reservation.objects.get(request=request).active
    assert violations() == []
