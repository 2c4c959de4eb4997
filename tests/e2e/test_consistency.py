"""What the pages agree on, in a browser: the system's words in the viewer's language, the lifecycle funnel with
the membership, the sales report's stores on a phone, and an archived record brought back."""

from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from fidelis.accounts.models import Role, User
from fidelis.customers import cleanup
from fidelis.customers.services import customer_tag_add
from fidelis.sales.services import category_save, order_create, product_save, store_save
from tests.e2e.conftest import PHONE
from tests.factories import CustomerFactory

pytestmark = pytest.mark.e2e


def _product(manager):
    coffee = category_save(actor=manager, data={"name": "咖啡"})
    return product_save(actor=manager, data={"sku": "CF-001", "name": "咖啡机", "category": coffee,
                                             "list_price": Decimal("3680.00")})


def test_timeline_and_audit_log_switch_to_english_with_the_viewer(new_page, live_server, staff, log_in, artifacts):
    manager = User.objects.get(username=Role.MANAGER)
    customer = CustomerFactory(name="李娜")
    customer_tag_add(actor=manager, customer=customer, tag_name="兴趣:咖啡")
    store_save(actor=manager, data={"code": "1F-01", "name": "悦享咖啡"})
    order_create(actor=manager, customer=customer, channel="store", store="1F-01", payment_method="cash",
                 lines=[{"product": _product(manager), "quantity": 1}])
    page = new_page()
    log_in(page, Role.MANAGER)
    page.goto(f"{live_server.url}/customers/{customer.public_id}/")
    order_line = page.locator("#timeline li.event[data-type='order.paid']")
    expect(order_line).to_contain_text("订单")
    # the viewer switches to English: the same stored events read in English
    with page.expect_navigation():
        page.select_option("#language-select", "en")
    expect(order_line).to_contain_text("Order")
    expect(order_line).to_contain_text("¥3,680.00")
    expect(page.locator("#timeline li.event[data-type='tag.added']")).to_contain_text("兴趣:咖啡")  # as entered
    page.screenshot(path=str(artifacts / "timeline-en.png"), full_page=True)
    page.goto(f"{live_server.url}/accounts/audit/")
    table = page.locator("#audit-table")
    expect(table).to_contain_text("Tag")
    expect(table).not_to_contain_text("customer.tag_add")


def test_a_buyer_who_never_joined_has_the_member_stage_not_reached(new_page, live_server, staff, log_in):
    manager = User.objects.get(username=Role.MANAGER)
    customer = CustomerFactory(name="赵磊")
    order_create(actor=manager, customer=customer, channel="online", store=None, payment_method="alipay",
                 lines=[{"product": _product(manager), "quantity": 1}])
    page = new_page(viewport=PHONE)
    log_in(page, Role.MANAGER)
    page.goto(f"{live_server.url}/customers/{customer.public_id}/")
    funnel = page.locator("#lifecycle-funnel li")
    expect(page.locator("#lifecycle-funnel li[aria-current=step]")).to_have_text("购买者")
    expect(funnel.filter(has_text="会员").first).to_have_class("skipped")
    expect(page.locator("#stage-reason")).to_contain_text("首次购买")


def test_the_sales_report_names_nine_stores_and_the_others_and_its_table_scrolls_on_a_phone(
        new_page, live_server, staff, log_in, artifacts):
    manager = User.objects.get(username=Role.MANAGER)
    product = _product(manager)
    customer = CustomerFactory(name="孙丽")
    for n in range(13):
        store_save(actor=manager, data={"code": f"S{n:02d}", "name": f"店铺{n:02d}"})
        order_create(actor=manager, customer=customer, channel="store", store=f"S{n:02d}", payment_method="cash",
                     paid_at=timezone.now(), lines=[{"product": product, "quantity": 1 + n}])
    page = new_page(viewport=PHONE)
    log_in(page, Role.MANAGER)
    page.goto(f"{live_server.url}/sales/reports/?dimension=store&period=day")
    rows = page.locator("#report-table tbody tr")
    expect(rows).to_have_count(10)
    expect(rows.last).to_contain_text("其他")
    wrap = page.locator("#report-table-wrap")
    assert wrap.evaluate("el => el.scrollWidth > el.clientWidth")  # the table is wider than the phone …
    wrap.evaluate("el => el.scrollBy(200, 0)")
    assert wrap.evaluate("el => el.scrollLeft") > 0  # … and scrolls inside its card
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # not the whole page
    page.screenshot(path=str(artifacts / "sales-report-phone.png"), full_page=True)


def test_an_archived_record_leaves_the_list_and_comes_back_from_its_page(new_page, live_server, staff, log_in):
    marketing = User.objects.get(username=Role.MARKETING)
    kept, gone = CustomerFactory(name="在用客户"), CustomerFactory(name="归档客户")
    cleanup.customers_archive(actor=marketing, customers=[gone])
    page = new_page()
    log_in(page, Role.MARKETING)
    page.goto(f"{live_server.url}/customers/")
    table = page.locator("#customer-table")
    expect(table).to_contain_text(kept.name)
    expect(table).not_to_contain_text(gone.name)
    page.goto(f"{live_server.url}/customers/{gone.public_id}/")
    expect(page.locator("#archived-badge")).to_be_visible()
    with page.expect_navigation():
        page.click("#restore-customer")
    expect(page.locator("#archived-badge")).to_have_count(0)
    page.goto(f"{live_server.url}/customers/")
    expect(table).to_contain_text(gone.name)
