"""Issue 19 item 1 in a real browser: the add/edit provider form answers an empty or half-filled
form with field errors (never a 500), labels its fields in words, and its Test connection button
shows what the provider answered (the OpenStack simulator, libvirt's test driver) or the provider's
own error, in place and without saving. Screenshots at 1280 and 390 px (``var/screenshots/``)."""

from __future__ import annotations

import re
import socket

import pytest

from providers.models import ProviderAccount
from tests.portal.browser.conftest import shoot

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

#: elements whose right edge leaves the viewport
OUTSIDE = """() => [...document.querySelectorAll('main *')].filter(el => {
  const r = el.getBoundingClientRect(); return r.width && r.right > window.innerWidth + 1;
}).map(el => el.tagName + '.' + el.className)"""


@pytest.fixture
def staff(db):
    from django.contrib.auth import get_user_model

    from tests.portal.web.conftest import PASSWORD

    return get_user_model().objects.create_user("admin", password=PASSWORD, is_staff=True)


@pytest.fixture
def openstack():
    from devsim.openstack import seed
    from devsim.openstack.server import start_in_thread
    from devsim.openstack.state import CloudState
    from tests.providers.openstack.conftest import frozen_clock

    state = CloudState(clock=frozen_clock())
    seed.demo(state)
    server, _ = start_in_thread(state=state)
    yield server
    server.stop()


def label(page, text: str):
    """The input labelled exactly ``text`` (a required field's label ends with a "*")."""
    return page.get_by_label(re.compile(rf"^{re.escape(text)}( \*)?$"))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_box(page):
    box = page.locator("#connection-check")
    box.locator(".check-title").wait_for()
    page.wait_for_function("() => !document.getElementById('test-connection').disabled")
    return box


def test_test_connection_shows_what_openstack_answered_and_its_refusal(staff, login, live_server, openstack):
    page = login("admin")
    page.goto(f"{live_server.url}/providers/add/")
    page.get_by_role("link", name="OpenStack (Keystone, Nova, Cinder)").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Add a provider: OpenStack (Keystone, Nova, Cinder)"
    label(page, "Name").fill("cloud")
    page.get_by_label("Auth URL").fill(openstack.auth_url)
    page.get_by_label("Username").fill("admin")
    label(page, "Password").fill("admin")
    page.get_by_label("Project name").fill("admin")
    page.get_by_role("button", name="Test connection").click()
    box = check_box(page)
    servers, projects = len(openstack.state.live_servers()), len(openstack.state.projects)
    assert box.locator(".check-title").inner_text() == "Connection works"
    assert box.locator(".check-message").inner_text() == \
        f"Connected to nova 2.96 at {openstack.auth_url}: {servers} servers, {projects} projects"
    assert "check-ok" in box.get_attribute("class")
    assert label(page, "Password").input_value() == "admin"  # still typed: nothing reloaded
    assert not ProviderAccount.objects.exists()
    shoot(page, "provider-test-ok-1280")

    label(page, "Password").fill("not-the-password")
    page.get_by_role("button", name="Test connection").click()
    page.wait_for_function("() => document.querySelector('#connection-check .check-title')"
                           ".textContent === 'Credentials refused'")
    box = check_box(page)
    assert box.locator(".check-message").inner_text() == (
        f"Keystone at {openstack.auth_url} refused the credentials of user admin (domain Default, project admin) (401)")
    assert "check-failed" in box.get_attribute("class") and "not-the-password" not in box.inner_text()
    shoot(page, "provider-test-refused-1280")
    page.set_viewport_size({"width": 390, "height": 900})
    assert page.evaluate(OUTSIDE) == []
    shoot(page, "provider-test-refused-390")

    page.set_viewport_size({"width": 1280, "height": 900})
    label(page, "Password").fill("admin")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{live_server.url}/providers/")
    assert ProviderAccount.objects.get().name == "cloud"


def test_test_connection_on_libvirt_and_an_unreachable_engine(staff, login, live_server):
    page = login("admin")
    page.goto(f"{live_server.url}/providers/add/?kind=libvirt")
    page.get_by_label("Connection URI").fill("test:///default")
    page.get_by_role("button", name="Test connection").click()
    box = check_box(page)
    assert box.locator(".check-title").inner_text() == "Connection works"
    assert re.fullmatch(r"Connected to libvirt \d+\.\d+\.\d+ at test:///default \(host .+\): 1 domain, 1 active",
                        box.locator(".check-message").inner_text())
    page.set_viewport_size({"width": 390, "height": 900})
    assert page.evaluate(OUTSIDE) == []
    shoot(page, "provider-test-libvirt-390")

    port = closed_port()
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/providers/add/?kind=docker")
    page.get_by_label("Engine address").fill(f"tcp://127.0.0.1:{port}")
    page.get_by_role("button", name="Test connection").click()
    box = check_box(page)
    assert box.locator(".check-title").inner_text() == "Cannot reach the provider"
    assert box.locator(".check-message").inner_text().startswith(
        f"cannot reach the Docker engine at tcp://127.0.0.1:{port}: connection refused")
    shoot(page, "provider-test-unreachable-1280")


def test_test_connection_marks_the_fields_it_needs(staff, login, live_server):
    page = login("admin")
    page.goto(f"{live_server.url}/providers/add/?kind=openstack")
    page.get_by_label("Auth URL").fill("http://127.0.0.1:99999/v3")
    page.get_by_role("button", name="Test connection").click()
    box = check_box(page)
    assert box.locator(".check-title").inner_text() == "Fix the marked fields first"
    auth_url = page.locator(".field", has=page.get_by_label("Auth URL"))
    assert "the port must be a whole number from 1 to 65535" in auth_url.locator(".field-error").inner_text()
    password = page.locator(".field", has=label(page, "Password"))
    assert password.locator(".field-error").inner_text().startswith("is required (or give Application credential ID")
    assert page.locator(".field.invalid").count() >= 3
    assert not ProviderAccount.objects.exists()


def test_an_empty_or_half_filled_form_shows_field_errors_not_500(staff, login, live_server):
    page = login("admin")
    for kind in ("openstack", "libvirt", "docker", "lxd", "kubernetes", "proxmox"):
        page.goto(f"{live_server.url}/providers/add/?kind={kind}")
        with page.expect_navigation() as empty:
            page.get_by_role("button", name="Save").click()
        assert empty.value.status == 200, kind
        assert page.locator(".field-error").count() >= 2, kind
        assert "This field is required." in page.locator(".field", has=label(page, "Name")).inner_text()
    page.goto(f"{live_server.url}/providers/add/?kind=openstack")
    label(page, "Name").fill("half")
    page.get_by_label("Auth URL").fill("http://keystone.example.org:5000/v3")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Timeout (seconds)").fill("thirty")
    with page.expect_navigation() as half:
        page.get_by_role("button", name="Save").click()
    assert half.value.status == 200
    errors = {page.locator(".field", has=label(page, name)).locator(".field-error").inner_text()
              for name in ("Password", "Project name", "Timeout (seconds)")}
    assert errors == {"is required (or give Application credential ID and Application credential secret)",
                      "must be a whole number, got 'thirty'"}
    assert page.get_by_label("Auth URL").input_value() == "http://keystone.example.org:5000/v3"
    shoot(page, "provider-form-errors-1280")
    page.set_viewport_size({"width": 390, "height": 900})
    assert page.evaluate(OUTSIDE) == []
    shoot(page, "provider-form-errors-390")
    assert not ProviderAccount.objects.exists()


def test_labels_are_words_not_setting_keys(staff, login, live_server):
    page = login("admin")
    for kind in ("openstack", "libvirt", "docker", "lxd", "kubernetes", "proxmox"):
        page.goto(f"{live_server.url}/providers/add/?kind={kind}")
        labels = [text.strip().rstrip("*").strip() for text in page.locator("form label").all_inner_texts()]
        assert len(labels) >= 5 and not [text for text in labels if "_" in text], (kind, labels)
    page.goto(f"{live_server.url}/providers/add/?kind=openstack")
    for name in ("Auth URL", "Project domain", "User domain", "Application credential ID", "Endpoint interface",
                 "Verify TLS certificates"):
        assert label(page, name).count() == 1, name
    shoot(page, "provider-form-openstack-1280")
    page.set_viewport_size({"width": 390, "height": 900})
    assert page.evaluate(OUTSIDE) == []
    shoot(page, "provider-form-openstack-390")


def test_without_the_script_the_answer_is_rendered_and_nothing_is_saved(staff, browser, live_server):
    from tests.portal.web.conftest import PASSWORD

    context = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto(f"{live_server.url}/providers/add/?kind=libvirt")
        label(page, "Name").fill("kvm")
        page.get_by_label("Connection URI").fill("test:///default")
        with page.expect_navigation() as tested:
            page.get_by_role("button", name="Test connection").click()
        assert tested.value.status == 200
        box = page.locator("#connection-check")
        assert box.locator(".check-title").inner_text() == "Connection works"
        assert label(page, "Name").input_value() == "kvm"
        assert not ProviderAccount.objects.exists()
    finally:
        context.close()


def test_edit_tests_with_the_stored_password(staff, login, live_server, openstack):
    account = ProviderAccount(name="cloud")
    account.configure({"auth_url": openstack.auth_url}, {"username": "admin", "password": "admin",
                                                         "project_name": "admin"}, kind="openstack")
    page = login("admin")
    page.goto(f"{live_server.url}/providers/{account.pk}/edit/")
    assert label(page, "Password").input_value() == ""  # never sent back
    page.get_by_role("button", name="Test connection").click()
    box = check_box(page)
    assert box.locator(".check-title").inner_text() == "Connection works"
    shoot(page, "provider-edit-test-ok-1280")
