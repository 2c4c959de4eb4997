"""The member card on a phone: a till's scanner reads the same card code from the QR code and the barcode."""

import io

import pytest
from playwright.sync_api import expect

from fidelis.accounts.models import Role
from fidelis.customers.services import customer_create
from fidelis.loyalty.services import member_enrol
from fidelis.loyalty.templates import starter_program
from tests.e2e.conftest import PHONE

pytestmark = pytest.mark.e2e


def _read(png: bytes) -> dict[str, str]:
    """Return what a scanner reads in a screenshot, per symbol format (zxing-cpp, as a till's imager would)."""
    zxingcpp = pytest.importorskip("zxingcpp")
    image = pytest.importorskip("PIL.Image").open(io.BytesIO(png))
    return {found.format.name: found.text for found in zxingcpp.read_barcodes(image)}


def test_the_member_card_on_a_phone_is_read_by_a_scanner(browser, live_server, staff, log_in, artifacts):
    manager = staff[Role.MANAGER]
    program = starter_program(actor=manager, name="星河会员俱乐部")
    customer = customer_create(actor=manager, data={"name": "林晓", "phone": "13600136000"})
    member = member_enrol(actor=manager, program=program, customer=customer)[0]
    # The service desk opens the member page on a phone (390 x 844 points at three pixels a point, as a common
    # phone's screen) and the card from there.
    context = browser.new_context(viewport=PHONE, device_scale_factor=3, locale="zh-CN")
    page = context.new_page()
    log_in(page, "service")
    page.goto(f"{live_server.url}/loyalty/members/{member.public_id}/")
    page.click("[data-testid=member-card-link]")
    card = page.locator("[data-testid=member-card]")
    expect(card.locator("[data-testid=card-code]")).to_have_text(member.card_code)
    for symbol in ("card-qr", "card-barcode"):  # both drawn (an image that failed has no natural width)
        page.wait_for_function(f"document.querySelector('[data-testid={symbol}]').naturalWidth > 0")
    png = card.screenshot(path=str(artifacts / "member-card-phone.png"))
    context.close()
    assert _read(png) == {"QRCode": member.card_code, "Code128": member.card_code}
