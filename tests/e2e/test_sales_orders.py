"""A sales rep records an order in the browser; it shows on the customer's 360° page and earns points."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from fidelis.accounts.models import Role
from fidelis.customers.services import customer_create
from fidelis.loyalty.models import Member
from fidelis.loyalty.services import member_enrol
from fidelis.loyalty.templates import starter_program
from fidelis.sales.models import Order
from fidelis.sales.services import category_save, product_save, store_save

pytestmark = pytest.mark.e2e


def _number(n: int) -> re.Pattern:
    return re.compile("^" + f"{n:,}".replace(",", ",?") + "$")


@pytest.mark.smoke
def test_sales_rep_records_an_order_that_shows_on_the_360_page_and_earns_points(page, live_server, staff, log_in,
                                                                                artifacts):
    # given: the mall's club, a member, and a small catalogue
    manager, rep = staff[Role.MANAGER], staff[Role.SALES]
    program = starter_program(actor=manager, name="星河会员俱乐部")
    customer = customer_create(actor=manager, owner=rep, data={"name": "林晓", "phone": "13600136000"})
    member_enrol(actor=manager, program=program, customer=customer, channel="store")
    store_save(actor=manager, data={"code": "2F-01", "name": "时尚女装馆"})
    women = category_save(actor=manager, data={"name": "女装"})
    product_save(actor=manager, data={"sku": "WF-101", "name": "真丝连衣裙", "category": women, "list_price": "1299"})
    product_save(actor=manager, data={"sku": "WF-102", "name": "羊毛开衫", "category": women, "list_price": "899"})
    assert Member.objects.get(customer=customer).balance == 500
    # when: the rep opens the new-order form, finds the customer by phone, adds two lines and records it
    log_in(page, "sales")
    page.goto(f"{live_server.url}/sales/orders/new/")
    page.fill("#customer-q", "136 0013")
    page.locator(".customer-option input[type=radio]").first.check()
    page.select_option("#line-0-sku", "WF-101")
    page.click("#add-line")
    expect(page.locator("#line-1-sku")).to_be_visible()
    page.select_option("#line-1-sku", "WF-102")
    page.fill("#line-1-quantity", "2")
    page.fill("#line-1-discount", "97")
    page.select_option("#id_store", "2F-01")
    page.select_option("#id_payment_method", "alipay")
    with page.expect_navigation():
        page.click("#order-save")
    # then: the order page
    order = Order.objects.get(customer=customer)
    assert (order.paid_amount, order.created_by) == (Decimal("3000.00"), rep)
    expect(page.locator("#order-no")).to_have_text(order.order_no)
    expect(page.locator("#order-paid")).to_have_text(re.compile(r"^¥3,?000\.00$"))
    expect(page.locator(".order-line-row")).to_have_count(2)
    page.screenshot(path=str(artifacts / "sales-order.png"), full_page=True)
    # and the 360° page: the order in the orders panel, the purchase on the timeline, the points in the member card
    page.click("#order-customer")
    expect(page.locator(f"#orders-panel [data-order='{order.order_no}']")).to_be_visible()
    expect(page.locator("[data-testid=orders-paid]")).to_have_text(re.compile(r"^¥3,?000\.00$"))
    expect(page.locator("#timeline .event[data-type='order.paid']")).to_have_count(1)
    expect(page.locator("[data-testid=panel-balance]")).to_have_text(_number(3500))
    page.screenshot(path=str(artifacts / "sales-customer-360.png"), full_page=True)
    member = Member.objects.get(customer=customer)
    assert member.balance == 3500 and member.tier.name == "银卡"
