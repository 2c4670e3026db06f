"""Playwright (sync API) driving Debian's Chromium against pytest-django's live server.

No browser download: Chromium comes from the distribution (``/usr/bin/chromium``). Playwright's
sync API runs an event loop in this thread, so Django's async-safety guard is relaxed for the
test process (the ORM is still used from one thread at a time).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("GLASSPANE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "var" / "screenshots"


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, tmp_path):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True,
                                  timezone_id="UTC")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def dashboard(make_account, request):
    from devsim.fake import FakeDriver
    from tests.portal.web.conftest import build_dashboard

    name = f"browser-{request.node.name}"
    data = build_dashboard(make_account, name)
    yield data
    FakeDriver.worlds.pop(name, None)


@pytest.fixture
def login(page, live_server):
    from tests.portal.web.conftest import PASSWORD

    def sign_in(username: str):
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        return page

    return sign_in


def shoot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
