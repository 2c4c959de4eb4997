"""Browser tests: Playwright (sync API) driving Debian's Chromium against pytest-django's live server."""

import os
import shutil
from pathlib import Path

import pytest

from fidelis.accounts.models import Role
from tests.factories import PASSWORD, UserFactory

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make around it are
# ordinary blocking calls, which Django would otherwise refuse inside a running loop.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("FIDELIS_CHROMIUM", "/usr/bin/chromium")
# Without the networking switches Chromium keeps trying hosts that a closed network refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser):
    """Return a factory of pages in fresh browser contexts (a Chinese-speaking browser, desktop size by default)."""
    contexts = []

    def _new(viewport=DESKTOP, locale="zh-CN"):
        context = browser.new_context(viewport=viewport, locale=locale)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield _new
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def staff(transactional_db):
    """One user per role, with the test password, named after the role."""
    return {role: UserFactory(username=role, role=role, display_name=f"{role} user") for role in Role.values}


@pytest.fixture
def log_in(live_server):
    """Log a user in through the login form; return the page on the home page."""

    def _log_in(page, username: str, password: str = PASSWORD):
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        with page.expect_navigation():
            page.click("form.login-card button[type=submit]")
        return page

    return _log_in


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def win_with_order(live_server):
    """Mark an opportunity won on its page, recording an order of one product there (the won form)."""

    def _win(page, opportunity, *, sku: str, store: str, payment: str):
        page.goto(f"{live_server.url}/sales/opportunities/{opportunity.public_id}/")
        page.click("#opportunity-won")
        page.check("#id_create_order")
        page.select_option("#id_product", sku)
        page.select_option("#id_store", store)
        page.select_option("#id_payment_method", payment)
        with page.expect_navigation():
            page.click("#won-save")
        return page

    return _win
