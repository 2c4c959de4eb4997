"""Imports in a real browser: a GBK-encoded CSV with bad rows (read the report, then import the good rows), a
workbook whose sheet the user chooses, and a file with a duplicate whose "all or nothing" run fails before the good
rows are imported and the job is found in the list of imports; the same for orders, with a stored order number."""

from decimal import Decimal

from django.urls import reverse
from openpyxl import Workbook

from fidelis.accounts.models import Role
from fidelis.customers.models import Customer
from fidelis.sales.models import Order
from fidelis.sales.services import category_save, order_create, product_save, store_save
from tests.factories import CustomerFactory

CSV_GBK = (
    "姓名,手机,邮箱,城市,标签\n"
    "王芳,138 0013 8000,wangfang@example.cn,深圳,宠物品种:泰迪\n"
    ",13900139000,noname@example.cn,广州,\n"
    "李强,12345,liqiang@example.cn,上海,\n"
    "赵敏,+86-137-0013-7000,zhaomin@example.cn,杭州,VIP\n"
).encode("gbk")


def _upload(page, url: str, path) -> None:
    """Open the list of imports at `url` and upload the file: the job's page opens."""
    page.goto(url)
    page.set_input_files("input[name=file]", str(path))
    with page.expect_navigation():
        page.locator("form:has(input[name=file]) [type=submit]").click()


def test_import_with_bad_rows_reports_them_and_imports_the_good_ones(page, staff, log_in, live_server, tmp_path,
                                                                   artifacts):
    # given a marketer and a GBK file where rows 3 and 4 are bad
    source = tmp_path / "会员名单.csv"
    source.write_bytes(CSV_GBK)
    log_in(page, staff[Role.MARKETING].username)
    _upload(page, f"{live_server.url}/customers/import/", source)
    # when the file is checked in all-or-nothing mode
    with page.expect_navigation():
        page.click("button[name=action][value=validate]")
    # then every bad row is listed with its row number, column and a reason in Chinese, and nothing is written
    errors = page.locator("#import-errors tbody tr")
    assert errors.count() == 2
    rows = [errors.nth(i).locator("td").first.inner_text() for i in range(2)]
    assert rows == ["3", "4"]
    assert "手机" in errors.nth(1).inner_text()
    page.screenshot(path=str(artifacts / "import-report.png"), full_page=True)
    assert Customer.objects.count() == 0
    # when the good rows are imported, skipping the bad ones
    page.check("input[name=mode][value=skip]")
    with page.expect_navigation():
        page.click("button[name=action][value=validate]")
    with page.expect_navigation():
        page.click("button[name=action][value=run]")
    # then the two good customers exist, read correctly from GBK, with normalised phones
    assert page.locator("#created-count").inner_text() == "2"
    assert set(Customer.objects.values_list("name", "phone")) == {("王芳", "+8613800138000"),
                                                                 ("赵敏", "+8613700137000")}
    assert Customer.objects.get(name="王芳").tags.filter(name="泰迪").exists()


def test_import_of_a_workbook_reads_the_sheet_the_user_chooses(page, staff, log_in, live_server, tmp_path,
                                                              artifacts):
    # given a workbook whose first sheet is empty, with customers on the second and third sheets
    workbook = Workbook()
    workbook.active.title = "说明"
    second = workbook.create_sheet("三月")
    second.append(["姓名", "城市"])
    second.append(["张三", "上海"])
    third = workbook.create_sheet("四月")
    third.append(["城市", "姓名"])
    third.append(["深圳", "王五"])
    third.append(["杭州", "赵六"])
    source = tmp_path / "客户.xlsx"
    workbook.save(source)
    log_in(page, staff[Role.MARKETING].username)
    _upload(page, f"{live_server.url}/customers/import/", source)
    # the second sheet is read by default
    assert page.locator("select[name=sheet]").input_value() == "三月"
    # when the user chooses the third sheet
    page.select_option("select[name=sheet]", "四月")
    with page.expect_navigation():
        page.click("button[name=action][value=sheet]")
    # then its columns are read and mapped again
    assert page.locator("select[name=sheet]").input_value() == "四月"
    assert page.locator("select[name=map-0]").input_value() == "city"
    assert page.locator("select[name=map-1]").input_value() == "name"
    page.screenshot(path=str(artifacts / "import-sheet.png"), full_page=True)
    # when it is checked and imported
    with page.expect_navigation():
        page.click("button[name=action][value=validate]")
    with page.expect_navigation():
        page.click("button[name=action][value=run]")
    # then the third sheet's customers, and only them, exist
    assert page.locator("#created-count").inner_text() == "2"
    assert set(Customer.objects.values_list("name", "city")) == {("王五", "深圳"), ("赵六", "杭州")}


def test_import_hints_at_a_duplicate_and_after_a_failed_run_imports_the_good_rows_then_lists_the_job(
        page, staff, log_in, live_server, tmp_path, artifacts):
    # given a customer already in the archive, and a file with a bad row and a row with her phone number
    existing = CustomerFactory(name="王芳", phone="+8613800138000", number="C-0001")
    source = tmp_path / "三月会员.csv"
    source.write_text("姓名,手机,邮箱\n王芳芳,138 0013 8000,\n李强,12345,\n赵敏,13700137000,zm@example.cn\n",
                      encoding="utf-8")
    log_in(page, staff[Role.MARKETING].username)
    _upload(page, f"{live_server.url}/customers/import/", source)
    # when the file is checked in "all or nothing"
    with page.expect_navigation():
        page.click("#import-check")
    # then the check names the row that looks like the stored customer, with a link to her
    hint = page.locator("#import-hints tbody tr")
    assert hint.count() == 1
    assert hint.locator("td").first.inner_text() == "2" and "C-0001 王芳" in hint.inner_text()
    assert hint.locator("a").get_attribute("href") == f"/customers/{existing.public_id}/"
    page.screenshot(path=str(artifacts / "import-hints.png"), full_page=True)
    # when it is imported in "all or nothing"
    with page.expect_navigation():
        page.click("#import-run")
    # then nothing is imported
    assert page.locator("#import-status").inner_text() == "失败"
    assert Customer.objects.count() == 1
    # when "skip the bad rows" is chosen and it is imported again, without checking again
    page.check("input[name=mode][value=skip]")
    with page.expect_navigation():
        page.click("#import-run")
    # then the good rows are imported
    assert page.locator("#created-count").inner_text() == "2"
    assert set(Customer.objects.values_list("name", flat=True)) == {"王芳", "王芳芳", "赵敏"}
    # and the list of imports shows the job, who ran it and its counts
    with page.expect_navigation():
        page.click("#import-back")
    row = page.locator("#import-list tbody tr", has_text="三月会员.csv")
    assert row.count() == 1
    assert staff[Role.MARKETING].username in row.inner_text() and "已导入" in row.inner_text()
    page.screenshot(path=str(artifacts / "import-list.png"), full_page=True)
    with page.expect_navigation():
        row.locator("a").click()
    assert page.locator("#created-count").inner_text() == "2"


def test_order_import_hints_at_a_stored_order_number_skips_the_bad_rows_and_lists_the_job(
        page, staff, log_in, live_server, tmp_path, artifacts):
    # given a store, a product, a customer and an order already stored under number H-9
    manager = staff[Role.MANAGER]
    store_save(actor=manager, data={"code": "1F-01", "name": "悦享咖啡"})
    product = product_save(actor=manager, data={"sku": "CF-001", "name": "美式咖啡", "list_price": Decimal("28.00"),
                                                "category": category_save(actor=manager, data={"name": "咖啡"})})
    buyer = CustomerFactory(number="T-A", name="李静")
    stored = order_create(actor=manager, customer=buyer, channel="store", store="1F-01", payment_method="cash",
                          order_no="H-9", lines=[{"product": product, "quantity": 1}])
    source = tmp_path / "历史订单.csv"
    source.write_text("订单号,客户编号,支付时间,门店,商品编码,数量\n"
                      "H-1,T-A,2025-03-08 14:20,1F-01,CF-001,2\n"
                      "H-9,T-A,2025-03-09 10:00,1F-01,CF-001,1\n"
                      "H-2,T-A,2025-03-10 11:00,1F-01,NO-SUCH,1\n", encoding="utf-8")
    log_in(page, manager.username)
    _upload(page, f"{live_server.url}/sales/import/", source)
    with page.expect_navigation():
        page.click("#import-check")
    # then the check points at the stored order H-9
    hint = page.locator("#import-hints tbody tr")
    assert hint.count() == 1 and "H-9" in hint.inner_text()
    assert hint.locator("a").get_attribute("href") == reverse("sales:order_detail", args=[stored.public_id])
    # when imported in "all or nothing", nothing is; then with "skip the bad rows", the good order is
    with page.expect_navigation():
        page.click("#import-run")
    assert page.locator("#import-status").inner_text() == "失败" and Order.objects.count() == 1
    page.check("input[name=mode][value=skip]")
    with page.expect_navigation():
        page.click("#import-run")
    assert set(Order.objects.values_list("order_no", flat=True)) == {"H-9", "H-1"}
    # and the list of imports shows the job
    with page.expect_navigation():
        page.click("#import-back")
    row = page.locator("#import-list tbody tr", has_text="历史订单.csv")
    assert row.count() == 1 and "已导入" in row.inner_text()
    page.screenshot(path=str(artifacts / "order-import-list.png"), full_page=True)
