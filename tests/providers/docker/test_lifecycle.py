"""Provisioning and actions through the driver, observed through its own inventory."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from providers.base import Kind, ProviderError, ProvisionSpec, State
from tests.providers.docker.conftest import SESSION, TEST_LABEL

pytestmark = pytest.mark.integration

# busybox sh as PID 1 ignores SIGTERM unless told; this one stops promptly on `docker stop`.
POLITE = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]


def observe(driver, container_id):
    return {r.external_id: r for r in driver.inventory().resources}.get(container_id)


def test_provision_then_stop_start_reboot_delete(docker_driver, busybox_image):
    driver = docker_driver()
    spec = ProvisionSpec(
        name=f"gp-provision-{SESSION}",
        kind=Kind.CONTAINER,
        project="alpha",
        vcpus=Decimal("0.5"),
        ram_mb=32,
        image=busybox_image,
        command=POLITE,
        labels={TEST_LABEL: SESSION},
        network="none",
    )
    made = driver.provision(spec)
    try:
        assert made.state == State.RUNNING and made.name == spec.name
        assert (made.vcpus, made.ram_mb, made.project_hint) == (Decimal("0.500"), 32, "alpha")
        assert made.labels["glasspane.project"] == "alpha"
        assert observe(driver, made.external_id).parent_external_id == made.parent_external_id

        driver.act(made.external_id, "stop")
        stopped = observe(driver, made.external_id)
        assert stopped.state == State.STOPPED and stopped.finished_at is not None

        driver.act(made.external_id, "start")
        started = observe(driver, made.external_id)
        assert started.state == State.RUNNING and started.started_at > made.started_at

        time.sleep(0.05)
        driver.act(made.external_id, "reboot")
        rebooted = observe(driver, made.external_id)
        assert rebooted.state == State.RUNNING and rebooted.started_at > started.started_at
    finally:
        driver.act(made.external_id, "delete")
    assert observe(driver, made.external_id) is None
    driver.act(made.external_id, "delete")  # deleting twice is fine
    with pytest.raises(ProviderError, match="no longer exists"):
        driver.act(made.external_id, "start")


def test_provision_with_a_missing_image_says_so(docker_driver):
    spec = ProvisionSpec(name="", kind=Kind.CONTAINER, project="alpha", image="localhost/nope:1")
    with pytest.raises(ProviderError, match="not on the engine"):
        docker_driver().provision(spec)
