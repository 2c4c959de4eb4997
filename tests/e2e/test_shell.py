"""The page shell in a browser: the phone menu opens from the keyboard, and no page asks for a missing icon."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PHONE

pytestmark = pytest.mark.e2e


def test_on_a_phone_the_menu_opens_from_the_keyboard(new_page, live_server, staff, log_in):
    page = new_page(viewport=PHONE)
    log_in(page, "manager")
    nav = page.locator("#main-nav")
    expect(nav).to_be_hidden()
    page.locator("body").focus()
    page.keyboard.press("Tab")  # the menu comes first
    expect(page.locator("#nav-toggle")).to_be_focused()
    page.keyboard.press("Space")
    expect(nav).to_be_visible()
    page.keyboard.press("Tab")  # the brand, then the menu's first entry
    page.keyboard.press("Tab")
    expect(nav.locator("a").first).to_be_focused()


def test_pages_and_favicon_ico_answer_without_a_missing_icon(new_page, live_server, staff, log_in):
    page = new_page()
    missing = []
    page.on("response", lambda response: missing.append(response.url) if response.status == 404 else None)
    log_in(page, "manager")
    page.goto(f"{live_server.url}/customers/")
    response = page.goto(f"{live_server.url}/favicon.ico")
    assert response.ok and response.headers["content-type"].startswith("image/svg+xml")
    assert missing == []
