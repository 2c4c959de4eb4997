"""Imports in a real browser: a GBK-encoded CSV with bad rows (read the report, then import the good rows), and a
workbook whose sheet the user chooses."""

from openpyxl import Workbook

from fidelis.accounts.models import Role
from fidelis.customers.models import Customer

CSV_GBK = (
    "姓名,手机,邮箱,城市,标签\n"
    "王芳,138 0013 8000,wangfang@example.cn,深圳,宠物品种:泰迪\n"
    ",13900139000,noname@example.cn,广州,\n"
    "李强,12345,liqiang@example.cn,上海,\n"
    "赵敏,+86-137-0013-7000,zhaomin@example.cn,杭州,VIP\n"
).encode("gbk")


def test_import_with_bad_rows_reports_them_and_imports_the_good_ones(page, staff, log_in, live_server, tmp_path,
                                                                   artifacts):
    # given a marketer and a GBK file where rows 3 and 4 are bad
    source = tmp_path / "会员名单.csv"
    source.write_bytes(CSV_GBK)
    log_in(page, staff[Role.MARKETING].username)
    page.goto(f"{live_server.url}/customers/import/")
    page.set_input_files("input[name=file]", str(source))
    with page.expect_navigation():
        page.locator("form:has(input[name=file]) [type=submit]").click()
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
    page.goto(f"{live_server.url}/customers/import/")
    page.set_input_files("input[name=file]", str(source))
    with page.expect_navigation():
        page.locator("form:has(input[name=file]) [type=submit]").click()
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
