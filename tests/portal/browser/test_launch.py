"""Launch from the portal in a real browser (issue 19 item 3), end to end on real engines: the
local Docker-API engine (``scripts/docker-engine.sh``) and libvirt's test driver
(``test:///default``). The page offers the provider's own images and networks, shows the quota
impact before submitting (and again as fields change), refuses in Nova's words, and the request
page follows the request to done with a link to the new resource. Screenshots at 1280 and 390 px
go to ``var/screenshots/launch-*.png``.

The provisioning task is the real Celery task run in-process, as the other browser tests run
Celery work: admission's hand-off is captured, so the page can be seen queued first, and
``tasks.provision_request.apply`` then runs it (the same task body a worker runs).
"""

from __future__ import annotations

import re
import threading
import uuid
from decimal import Decimal

import pytest

from metering import tasks
from metering.choices import ChangeSource, RequestState, Role
from metering.models import Membership, Project, ProvisionRequest, Rate, RatePlan, Resource
from metering.quotas import set_limits
from providers.models import ProviderAccount
from tests.conftest import T0
from tests.portal.browser.conftest import shoot

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

RUN = uuid.uuid4().hex[:6]
OUTSIDE = """() => [...document.querySelectorAll('main *')].filter(el => !el.closest('.table-wrap')
  && el.getBoundingClientRect().width && el.getBoundingClientRect().right > window.innerWidth + 1)
  .map(el => el.tagName + '#' + el.id)"""


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def team(django_user_model):
    from tests.portal.web.conftest import PASSWORD

    alpha = Project.objects.create(slug="alpha", name="Alpha")
    users = {"member": django_user_model.objects.create_user("mia", password=PASSWORD),
             "viewer": django_user_model.objects.create_user("vera", password=PASSWORD)}
    Membership.objects.create(user=users["member"], project=alpha, role=Role.MEMBER)
    Membership.objects.create(user=users["viewer"], project=alpha, role=Role.VIEWER)
    return alpha


@pytest.fixture
def handed_off(monkeypatch):
    """Request ids admission hands to the provisioning task, held until the test runs them."""
    ids: list[int] = []
    monkeypatch.setattr("metering.quotas.admission.enqueue_provision", ids.append)
    return ids


@pytest.fixture
def engine(docker_host):
    import docker

    account = ProviderAccount(name="engine")
    account.configure(kind="docker", settings={"base_url": docker_host}, credentials={})
    client = docker.DockerClient(base_url=docker_host, version="auto", timeout=60)
    yield account
    for container in client.containers.list(all=True, filters={"name": f"alpha-box-{RUN}"}):
        container.remove(force=True)
    client.close()


@pytest.fixture
def lab():
    account = ProviderAccount(name="lab")
    account.configure(kind="libvirt", settings={"uri": "test:///default"}, credentials={})
    return account


def run_task(request_id: int) -> None:
    """The provisioning task, run by Celery in this process (its body is what a worker runs)."""
    tasks.provision_request.apply(args=(request_id,), throw=True)


def impact(page, key: str, account: str | None = None) -> list[str]:
    row = page.locator(f"#impact-table tr[data-key='{key}']" + (f"[data-account='{account}']" if account else
                                                                ":not([data-account])"))
    return row.locator("td").all_inner_texts()


def follow_to_done(page, request_id: int, gate: threading.Event | None = None) -> None:
    """Queued, then the task runs; with a ``gate`` (held by the driver call), the page is first seen
    provisioning while the task waits inside the provider."""
    progress = page.locator("#request-progress")
    assert page.locator("#request-phase").inner_text() == "Queued"
    assert progress.locator("li.current").inner_text() == "Queued"
    if gate is None:
        run_task(request_id)
    else:
        worker = threading.Thread(target=run_task, args=(request_id,))
        worker.start()
        page.wait_for_function("() => document.querySelector('#request-progress').dataset.state === "
                               "'provisioning'", timeout=30_000)
        assert page.locator("#request-phase").inner_text() == "Provisioning"
        assert progress.locator("li.current").inner_text() == "Provisioning"
        assert progress.locator("li.done").all_inner_texts() == ["Queued"]
        shoot(page, "launch-provisioning-1280")
        gate.set()
        worker.join(60)
    page.wait_for_function("() => document.querySelector('#request-progress').dataset.final === 'true'",
                           timeout=30_000)
    assert page.locator("#request-phase").inner_text() == "Done"
    assert progress.locator("li.done").all_inner_texts() == ["Queued", "Provisioning", "Done"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", page.locator("#request-finished").inner_text())


@pytest.fixture
def gated(monkeypatch):
    """The Docker driver's real ``provision`` waits for the test to open the gate, so the request is
    seen in its provisioning phase (the call itself is unchanged)."""
    from providers.docker.driver import DockerDriver

    gate = threading.Event()
    real = DockerDriver.provision

    def provision(self, spec):
        gate.wait(60)
        return real(self, spec)

    monkeypatch.setattr(DockerDriver, "provision", provision)
    yield gate
    gate.set()


def test_launch_a_container_on_the_docker_engine(team, engine, handed_off, gated, login, live_server, page):
    plan = RatePlan.objects.create(name="standard", currency="EUR", is_default=True)
    Rate.objects.create(plan=plan, measure="vcpu_hours", unit_price=Decimal("0.04"), effective_from=T0)
    set_limits(team, {"containers": 2, "vcpus": 4, "ram_mb": 4096}, user=None, source=ChangeSource.CLI)
    login("mia")
    page.goto(f"{live_server.url}/projects/alpha/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Launch").click()
    page.wait_for_load_state()
    assert page.url == f"{live_server.url}/projects/alpha/launch/"
    assert page.get_by_label("Provider account").input_value() == "engine"
    assert page.get_by_label("Kind").locator("option").all_inner_texts() == ["Container"]
    images = page.get_by_label("Image").locator("option").all_inner_texts()
    assert "localhost/busybox:latest" in images  # the engine's own images, nothing from a registry
    networks = page.get_by_label("Network").locator("option").all_inner_texts()
    assert networks[0] == "the provider's default" and "no network" in networks
    page.get_by_label("Name").fill(f"alpha-box-{RUN}")
    page.get_by_label("Image").select_option("localhost/busybox:latest")
    page.get_by_label("Network").select_option("none")
    page.get_by_label("Command").fill("sleep 3600")
    page.get_by_label("vCPUs").fill("0.5")
    page.get_by_label("RAM (MiB)").fill("256")
    page.get_by_label("RAM (MiB)").blur()
    # the impact follows the fields: 0.5 of 4 vCPUs, 256 MiB of 4 GiB, one container of two
    page.wait_for_function("() => document.querySelector(\"#impact-table tr[data-key='vcpus'] td:nth-child(3)\")"
                           ".textContent.trim() === '+ 0.5'")
    assert impact(page, "vcpus") == ["0", "+ 0.5", "0.5", "4", "ok"]
    assert impact(page, "ram_mb") == ["0", "+ 0.25", "0.25", "4", "ok"]
    assert impact(page, "containers") == ["0", "+ 1", "1", "2", "ok"]
    budget = impact(page, "budget")
    assert budget[0] == "0.00 EUR" and budget[3] == "unlimited"
    assert re.fullmatch(r"\+ \d+\.\d\d EUR", budget[1]) and Decimal(budget[1][2:-4]) > 0  # 0.5 vCPU at 0.04/h
    assert page.locator("#preview-fits").is_visible()
    shoot(page, "launch-docker-form-1280")
    page.set_viewport_size({"width": 390, "height": 900})
    assert page.evaluate(OUTSIDE) == []
    shoot(page, "launch-docker-form-390")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_role("button", name="Launch").click()
    page.wait_for_load_state()
    made = ProvisionRequest.objects.get(spec__name=f"alpha-box-{RUN}")
    assert page.url == f"{live_server.url}/projects/alpha/requests/{made.pk}/"
    assert handed_off == [made.pk]
    assert made.spec["command"] == ["sleep", "3600"] and made.spec["network"] == "none"
    shoot(page, "launch-docker-queued-1280")
    follow_to_done(page, made.pk, gated)
    link = page.locator("#request-resource a")
    assert link.inner_text() == f"alpha-box-{RUN}"
    shoot(page, "launch-docker-done-1280")
    page.set_viewport_size({"width": 390, "height": 900})
    assert page.evaluate(OUTSIDE) == []
    shoot(page, "launch-docker-done-390")
    link.click()
    page.wait_for_load_state()
    resource = Resource.objects.get(name=f"alpha-box-{RUN}")
    assert page.url == f"{live_server.url}/resources/{resource.pk}/"
    assert (resource.project, resource.state, resource.kind) == (team, "running", "container")
    assert page.locator("h1").inner_text() == f"alpha-box-{RUN} Container on engine"


def test_launch_a_vm_on_libvirt_then_a_refusal_in_novas_words(team, lab, handed_off, login, live_server, page):
    name = f"alpha-vm-{RUN}"
    login("mia")
    page.goto(f"{live_server.url}/projects/alpha/launch/")
    with page.expect_navigation():
        page.get_by_label("Provider account").select_option("lab")  # reloads with libvirt's choices
    assert page.get_by_label("Kind").locator("option").all_inner_texts() == ["Virtual machine"]
    assert page.get_by_label("Network").locator("option").all_inner_texts() == ["the provider's default", "default"]
    page.get_by_label("Name").fill(name)
    page.get_by_label("vCPUs").fill("1")
    page.get_by_label("RAM (MiB)").fill("256")
    page.get_by_label("Disk (GiB)").fill("1")
    page.get_by_label("Network").select_option("default")
    page.get_by_role("button", name="Preview quota impact").click()
    page.wait_for_load_state()
    assert impact(page, "vms") == ["0", "+ 1", "1", "unlimited", "ok"]
    assert impact(page, "disk_gb") == ["0", "+ 1", "1", "unlimited", "ok"]
    page.get_by_role("button", name="Launch").click()
    page.wait_for_load_state()
    made = ProvisionRequest.objects.get(spec__name=name)
    follow_to_done(page, made.pk)
    shoot(page, "launch-libvirt-done-1280")
    page.locator("#request-resource a").click()
    page.wait_for_load_state()
    vm = Resource.objects.get(name=name, account=lab)
    assert (vm.kind, vm.vcpus, vm.ram_mb, vm.project) == ("vm", 1, 256, team)

    # a second VM that does not fit: the preview says so, and launching is refused in Nova's words
    set_limits(team, {"vcpus": 2}, user=None, source=ChangeSource.CLI)
    page.goto(f"{live_server.url}/projects/alpha/launch/?account=lab")
    page.get_by_label("Name").fill(f"{name}-big")
    page.get_by_label("vCPUs").fill("4")
    page.get_by_label("RAM (MiB)").fill("256")
    page.get_by_label("RAM (MiB)").blur()
    page.wait_for_selector("#preview-refusal")
    assert impact(page, "vcpus") == ["1", "+ 4", "5", "2", "over the limit"]
    wording = "Quota exceeded for vcpus: Requested 4, but already used 1 of 2 vcpus"
    assert page.locator("#preview-refusal").inner_text() == f"Would be refused: {wording}"
    page.get_by_role("button", name="Launch").click()
    page.wait_for_load_state()
    assert page.locator("#refusal").inner_text() == f"Refused: {wording}"
    assert ProvisionRequest.objects.get(spec__name=f"{name}-big").state == RequestState.REFUSED
    assert handed_off == [made.pk]  # the refused one was never handed to the task
    shoot(page, "launch-refused-1280")
    page.set_viewport_size({"width": 390, "height": 900})
    assert page.evaluate(OUTSIDE) == []
    shoot(page, "launch-refused-390")
    # the refused request is in the project's recent requests, and its page says why
    page.get_by_role("link", name=f"{name}-big").click()
    page.wait_for_load_state()
    assert page.locator("#request-phase").inner_text() == "Refused by quota"
    assert page.locator("#request-message").inner_text() == wording
    assert page.locator("#request-progress li.failed").inner_text() == "Refused by quota"
    lab.driver().act(vm.external_id, "delete")


def test_a_failed_launch_shows_the_providers_message(team, lab, handed_off, login, live_server, page):
    login("mia")
    page.goto(f"{live_server.url}/projects/alpha/launch/?account=lab")
    page.get_by_label("Name").fill("test")  # test:///default already has a domain named "test"
    page.get_by_label("vCPUs").fill("1")
    page.get_by_label("RAM (MiB)").fill("128")
    page.get_by_role("button", name="Launch").click()
    page.wait_for_load_state()
    made = ProvisionRequest.objects.get(spec__name="test")
    run_task(made.pk)
    page.wait_for_function("() => document.querySelector('#request-progress').dataset.final === 'true'")
    assert page.locator("#request-phase").inner_text() == "Failed"
    assert "a domain of that name exists" in page.locator("#request-message").inner_text()
    assert page.locator("#request-progress li.failed").inner_text() == "Failed"
    shoot(page, "launch-failed-1280")


def test_viewers_cannot_see_or_use_the_launch_form(team, engine, login, live_server, page):
    login("vera")
    page.goto(f"{live_server.url}/projects/alpha/")
    assert page.get_by_role("navigation", name="Main").get_by_role("link", name="Launch").count() == 0
    response = page.goto(f"{live_server.url}/projects/alpha/launch/")
    assert response.status == 403 and page.title() == "Not allowed · Glasspane"
    shoot(page, "launch-viewer-403-1280")
