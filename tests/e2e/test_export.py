"""The customer list's export in a real browser: the XLSX a marketer downloads reads as they read the archive."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from openpyxl import load_workbook
from playwright.sync_api import expect

from fidelis.accounts.models import AuditEntry, Role
from fidelis.customers.services import consent_set, customer_create
from fidelis.sales.services import category_save, order_create, product_save, store_save
from fidelis.work.services import task_create

pytestmark = pytest.mark.e2e


@pytest.fixture
def customers(staff):
    manager = staff[Role.MANAGER]
    zhang = customer_create(actor=manager, data={"name": "张三", "phone": "13800138000", "category": "key",
                                                 "value_tier": "high", "gender": "male"}, tags=["VIP"])
    consent_set(actor=manager, customer=zhang, channel="sms", granted=True, source="门店登记")
    consent_set(actor=manager, customer=zhang, channel="email", granted=False, source="电话退订")
    customer_create(actor=manager, data={"name": "李四", "phone": "13900139000", "category": "basic"})
    return zhang


def test_xlsx_export_of_the_filtered_list_has_chinese_headers_national_phones_and_consents(
        page, live_server, staff, customers, log_in, tmp_path):
    # given a marketer on the customer list filtered to key customers, in a Chinese browser
    log_in(page, "marketing")
    page.goto(f"{live_server.url}/customers/?category=key")
    expect(page.locator("#export-csv")).to_be_visible()
    # when they click the XLSX export
    with page.expect_download() as download_info:
        page.click("#export-xlsx")
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    # then the workbook holds the filtered customers with Chinese headers and labels
    rows = list(load_workbook(path).active.iter_rows(values_only=True))
    header, *body = rows
    assert len(body) == 1
    cells = dict(zip(header, body[0], strict=True))
    assert cells["名称"] == "张三" and cells["手机"] == "138 0013 8000"
    assert cells["客户类别"] == "重点" and cells["价值等级"] == "高价值" and cells["性别"] == "男"
    assert cells["营销授权：短信"] == "已同意" and cells["营销授权：电子邮件"] == "已撤回"
    assert cells["营销授权：微信"] == "未询问" and cells["标签"] == "VIP"
    assert not any(isinstance(value, str) and value.startswith("'") for value in body[0])
    export = AuditEntry.objects.get(action="customer.export")
    assert export.changes["format"] == [None, "xlsx"] and export.changes["filter"] == [None, {"category": "key"}]


def test_personal_data_export_from_the_360_page_holds_orders_and_tasks(page, live_server, staff, customers, log_in,
                                                                       tmp_path):
    # given a customer with an order and a task about them
    manager = staff[Role.MANAGER]
    store_save(actor=manager, data={"code": "1F-01", "name": "悦享咖啡"})
    product = product_save(actor=manager, data={"sku": "CF-001", "name": "拿铁", "list_price": Decimal("32.00"),
                                                "category": category_save(actor=manager, data={"name": "咖啡"})})
    order = order_create(actor=manager, customer=customers, channel="store", store="1F-01", payment_method="cash",
                         lines=[{"product": product, "quantity": 2}])
    task_create(actor=manager, title="回访张三", due_at=timezone.now() + timedelta(days=1), customer=customers)
    # when the manager downloads the person's data from the 360° page
    log_in(page, "manager")
    page.goto(f"{live_server.url}/customers/{customers.public_id}/")
    with page.expect_download() as download_info:
        page.click("#privacy-export")
    path = tmp_path / "person.json"
    download_info.value.save_as(path)
    # then the file holds the profile, the consents, the order with its lines and the task
    data = json.loads(path.read_text("utf-8"))
    assert data["customer"]["name"] == "张三"
    assert {c["channel"] for c in data["consents"]} >= {"sms", "email"}
    assert [o["order_no"] for o in data["sales"]["orders"]] == [order.order_no]
    assert data["sales"]["orders"][0]["lines"] and data["work"]["tasks"][0]["title"] == "回访张三"
    assert AuditEntry.objects.filter(action="customer.personal_export").count() == 1
