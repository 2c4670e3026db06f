"""The launch page and the request page (issue 19 item 3) with Django's test client: members only,
the same spec, admission and task as the API, the preview's numbers, Nova's refusal wording, and
the request's progress as JSON."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from metering.choices import ChangeSource, RequestState
from metering.models import ProvisionRequest
from metering.quotas import set_limits
from metering.quotas.admission import build_spec
from metering.quotas.provisioning import provision
from providers.base import LaunchFlavor

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    ids: list[int] = []
    monkeypatch.setattr("metering.quotas.admission.enqueue_provision", ids.append)
    return ids


@pytest.fixture
def offers(dashboard):
    world = dashboard["world"]
    world.images = ["debian-12", "alpine-3"]
    world.flavors = [LaunchFlavor("m1.small", "m1.small (2 vCPU, 2048 MB)", Decimal(2), 2048, Decimal(20))]
    world.networks = ["private"]
    return world


def test_viewers_get_403_and_no_launch_link(as_user, offers):
    client = as_user("viewer")
    assert client.get("/projects/alpha/launch/").status_code == 403
    assert client.post("/projects/alpha/launch/", {"intent": "launch"}).status_code == 403
    assert b">Launch</a>" not in client.get("/projects/alpha/").content
    member = as_user("member")
    assert b'href="/projects/alpha/launch/"' in member.get("/projects/alpha/").content


def test_the_form_offers_the_accounts_choices_and_shows_the_impact(as_user, offers, dashboard):
    set_limits(dashboard["alpha"], {"vcpus": 9}, user=None, source=ChangeSource.CLI)
    response = as_user("member").get("/projects/alpha/launch/")
    assert response.status_code == 200
    form = response.context["form"]
    assert [v for v, _ in form.fields["image"].choices] == ["", "debian-12", "alpine-3"]
    assert [v for v, _ in form.fields["flavor"].choices] == ["m1.small"]
    assert "vcpus" not in form.fields  # the flavor says the size
    assert [v for v, _ in form.fields["network"].choices] == ["", "private"]
    rows = {r["key"]: r for r in response.context["impacts"] if r["account"] is None}
    # alpha holds 2 + 4 vCPUs of VMs and 0.5 of a container; m1.small adds 2
    assert (rows["vcpus"]["in_use"], rows["vcpus"]["requested"], rows["vcpus"]["after"], rows["vcpus"]["limit"],
            rows["vcpus"]["state"]) == ("6.5", "2", "8.5", "9", "near")


def test_launching_builds_the_apis_spec_and_goes_through_admission(as_user, offers, queued, dashboard,
                                                                   django_capture_on_commit_callbacks):
    fields = {"kind": "vm", "name": "alpha-new", "image": "debian-12", "flavor": "m1.small", "network": "private"}
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user("member").post("/projects/alpha/launch/", {"account": "fake1", "intent": "launch",
                                                                     "token": "t-1", **fields})
    made = ProvisionRequest.objects.get(spec__name="alpha-new")
    assert response.status_code == 302 and response["Location"] == f"/projects/alpha/requests/{made.pk}/"
    assert queued == [made.pk]  # the provisioning task, queued after commit
    expected = build_spec(dashboard["account"], fields).as_json()  # what the API serializer builds
    assert {k: v for k, v in made.spec.items() if k != "source"} == expected
    assert made.spec["source"] == "portal" and made.requested_by.username == "mia"
    assert made.reservation.vcpus == 2 and made.reservation.ram_mb == 2048

    status = as_user("member").get(f"/projects/alpha/requests/{made.pk}/status/").json()
    assert (status["phase"], status["final"], status["resource_url"]) == ("Queued", False, "")
    page = as_user("viewer").get(f"/projects/alpha/requests/{made.pk}/")  # viewers may follow it
    assert page.status_code == 200 and [s["mark"] for s in page.context["steps"]] == ["current", "todo", "todo"]
    offers.now += timedelta(minutes=5)  # the fake platform's clock: the refresh after provisioning is newer
    provision(made.pk)
    status = as_user("member").get(f"/projects/alpha/requests/{made.pk}/status/").json()
    assert status["phase"] == "Done" and status["final"] is True
    assert status["resource_url"].startswith("/resources/") and status["resource_name"] == "alpha-new"


def test_a_refusal_is_worded_as_nova_does(as_user, offers, queued, dashboard):
    set_limits(dashboard["alpha"], {"vcpus": 7}, user=None, source=ChangeSource.CLI)
    body = {"account": "fake1", "kind": "vm", "name": "too-big", "image": "debian-12", "flavor": "m1.small",
            "intent": "launch"}
    response = as_user("member").post("/projects/alpha/launch/", body)
    assert response.status_code == 403
    message = "Quota exceeded for vcpus: Requested 2, but already used 6.5 of 7 vcpus"
    assert response.context["refused"] == message
    assert message in response.content.decode()
    assert ProvisionRequest.objects.get(spec__name="too-big").state == RequestState.REFUSED
    assert queued == []


def test_bad_sizes_are_reported_by_the_spec_parser(as_user, dashboard, queued):
    response = as_user("member").post("/projects/alpha/launch/", {
        "account": "fake1", "kind": "vm", "name": "x", "vcpus": "lots", "ram_mb": "", "intent": "launch"})
    assert response.status_code == 200
    assert response.context["form"].errors == {"vcpus": ["must be a number, got 'lots'"],
                                               "ram_mb": ["is required for a VM (give the flavor's size too)"]}
    assert not ProvisionRequest.objects.filter(spec__name="x").exists()


def test_the_preview_fragment_for_the_form_script(as_user, offers):
    response = as_user("member").post("/projects/alpha/launch/", {
        "account": "fake1", "kind": "container", "name": "c1", "image": "alpine-3", "vcpus": "1", "ram_mb": "256",
        "fragment": "preview", "intent": "preview"})
    assert response.status_code == 200
    text = response.content.decode()
    assert "<html" not in text and 'id="impact-table"' in text and 'data-key="containers"' in text



def test_the_same_page_sent_twice_makes_one_request_and_a_corrected_one_a_new_one(as_user, offers, queued,
                                                                                  dashboard):
    client = as_user("member")
    set_limits(dashboard["alpha"], {"vcpus": 7}, user=None, source=ChangeSource.CLI)
    base = {"account": "fake1", "kind": "vm", "name": "twice", "image": "debian-12", "flavor": "m1.small",
            "intent": "launch", "token": "same-page"}
    refused = client.post("/projects/alpha/launch/", base)
    assert refused.status_code == 403
    fresh = refused.context["form"].data["token"]
    assert fresh != "same-page"  # the corrected form is a new request
    set_limits(dashboard["alpha"], {"vcpus": 20}, user=None, source=ChangeSource.CLI)
    first = client.post("/projects/alpha/launch/", {**base, "token": fresh})
    again = client.post("/projects/alpha/launch/", {**base, "token": fresh})  # a double click
    assert first.status_code == again.status_code == 302 and first["Location"] == again["Location"]
    assert [r.state for r in ProvisionRequest.objects.filter(spec__name="twice").order_by("pk")] == [
        RequestState.REFUSED, RequestState.PENDING]


def test_a_provider_that_cannot_be_asked_says_why_and_takes_typed_values(as_user, dashboard, queued):
    from providers.base import ProviderUnavailable

    dashboard["world"].fail = ProviderUnavailable("the fake cloud is down")
    response = as_user("member").get("/projects/alpha/launch/")
    assert response.status_code == 200
    assert "fake1 could not list its images, flavors and networks: the fake cloud is down" in (
        response.content.decode())
    form = response.context["form"]
    assert "flavor" not in form.fields and not hasattr(form.fields["network"], "choices")
