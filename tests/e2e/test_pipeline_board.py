"""A sales rep follows an opportunity in the browser: created from the customer's 360° page, dragged on the board
to 方案报价 (filling the fields that stage needs), won with an order that then shows on the 360° page."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from fidelis.accounts.models import Role
from fidelis.customers.services import customer_create
from fidelis.pipeline.models import Opportunity
from fidelis.sales.models import Order
from fidelis.sales.services import category_save, product_save, store_save

pytestmark = pytest.mark.e2e


def test_rep_creates_drags_and_wins_an_opportunity_with_an_order(page, live_server, staff, log_in, artifacts,
                                                                 win_with_order):
    # given: a customer of the rep and a small catalogue
    manager, rep = staff[Role.MANAGER], staff[Role.SALES]
    customer = customer_create(actor=manager, owner=rep, data={"name": "林晓", "phone": "13600136000"})
    store_save(actor=manager, data={"code": "6F-01", "name": "金饰珠宝"})
    jewels = category_save(actor=manager, data={"name": "黄金珠宝"})
    product_save(actor=manager, data={"sku": "JW-001", "name": "足金手链", "category": jewels, "list_price": "3680"})
    log_in(page, "sales")
    # when: the rep opens the 360° page and records an opportunity from its panel
    page.goto(f"{live_server.url}/customers/{customer.public_id}/")
    page.click("#opportunities-panel-new")
    page.fill("#id_title", "婚庆金饰套装")
    page.select_option("#id_source", "referral")
    with page.expect_navigation():
        page.click("#opportunity-save")
    opportunity = Opportunity.objects.get(customer=customer)
    assert (opportunity.owner, opportunity.stage.name) == (rep, "初步接触")
    expect(page.locator("#opportunity-stage")).to_have_text("初步接触")
    # and drags its card on the board to 方案报价, which asks for the amount and the close date first
    page.goto(f"{live_server.url}/sales/pipeline/")
    card = page.locator(f".board-card[data-opportunity='{opportunity.public_id}']")
    target = page.locator(".board-col[data-stage-name='方案报价']")
    card.drag_to(target)
    expect(page.locator("#board-error")).to_be_visible()
    expect(page.locator(".board-col[data-stage-name='初步接触'] .board-card")).to_have_count(1)
    page.fill("#move-expected-amount", "3680")
    page.fill("#move-expected-close-date", "2026-12-31")
    page.click("#move-save")
    expect(page.locator(f".board-col[data-stage-name='方案报价'] [data-opportunity='{opportunity.public_id}']")) \
        .to_be_visible()
    expect(page.locator("#board-error")).to_have_count(0)
    expect(page.locator(".board-col[data-stage-name='方案报价'] .col-count")).to_have_text("1")
    page.screenshot(path=str(artifacts / "sales-pipeline-board.png"), full_page=True)
    opportunity.refresh_from_db()
    assert (opportunity.stage.name, opportunity.expected_amount) == ("方案报价", Decimal("3680.00"))
    # and marks it won, recording the order
    win_with_order(page, opportunity, sku="JW-001", store="6F-01", payment="card")
    # then: the opportunity is won with its order, and the order shows on the 360° page
    order = Order.objects.get(customer=customer)
    expect(page.locator("#opportunity-stage")).to_have_text("赢单")
    expect(page.locator("#opportunity-order")).to_have_text(order.order_no)
    page.click("#opportunity-customer")
    expect(page.locator(f"#orders-panel [data-order='{order.order_no}']")).to_be_visible()
    expect(page.locator(f"#opportunities-panel [data-opportunity='{opportunity.public_id}']")).to_contain_text("赢单")
    page.screenshot(path=str(artifacts / "sales-pipeline-won.png"), full_page=True)
    assert order.paid_amount == Decimal("3680.00") and order.created_by == rep


def test_on_a_phone_the_board_swipes_inside_itself_and_the_page_does_not_scroll_sideways(new_page, live_server,
                                                                                          staff, log_in):
    from fidelis.pipeline.services import opportunity_create
    from tests.e2e.conftest import PHONE

    rep = staff[Role.SALES]
    customer = customer_create(actor=rep, owner=rep, data={"name": "欧阳明月", "phone": "13600136001"})
    for i in range(3):
        opportunity_create(actor=rep, customer=customer, title=f"婚庆金饰套装与对戒定制方案第{i}版（含刻字）",
                           expected_amount="128000")
    page = new_page(viewport=PHONE)
    log_in(page, "sales")
    page.goto(f"{live_server.url}/sales/pipeline/")
    board = page.locator(".board")
    expect(board).to_be_visible()
    widths = page.evaluate("""() => { const root = document.scrollingElement, board = document.querySelector('.board');
        return {page: root.scrollWidth, view: root.clientWidth, board: board.scrollWidth, shown: board.clientWidth}; }""")
    assert widths["page"] <= widths["view"], widths  # the page itself stays as wide as the screen
    assert widths["board"] > widths["shown"], widths  # the stages swipe inside the board
