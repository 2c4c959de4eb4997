"""The customer list's export in a real browser: the XLSX a marketer downloads reads as they read the archive."""

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from fidelis.accounts.models import AuditEntry, Role
from fidelis.customers.services import consent_set, customer_create

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
