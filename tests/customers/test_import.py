import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference

from fidelis.accounts.models import AuditEntry
from fidelis.core.errors import DomainError, PermissionDenied
from fidelis.core.imports import ImportStatus
from fidelis.customers.imports import (
    import_job_create,
    import_job_run,
    import_job_sheet_choose,
    import_job_validate,
)
from fidelis.customers.models import Customer, CustomerTag, DuplicateCandidate, ImportJob
from fidelis.events.models import Event
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

HEADER = "姓名,手机,邮箱,公司,标签,价值等级,客户编号\n"


def upload(text: str, name: str = "customers.csv", encoding: str = "utf-8") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(encoding))


def run(manager, text: str, mode: str = "all", **kwargs):
    job = import_job_create(actor=manager, uploaded_file=upload(text, **kwargs))
    job = import_job_validate(actor=manager, job=job, mapping=job.mapping, mode=mode)
    return import_job_run(actor=manager, job=job)


def test_import_job_create_guesses_chinese_and_english_headers(manager):
    job = import_job_create(actor=manager, uploaded_file=upload("姓名,手机号,Email,微信,生日,city,标签\n张三,13800138000,,,,,\n"))
    assert job.mapping == {"0": "name", "1": "phone", "2": "email", "3": "wechat_id", "4": "birthday",
                           "5": "city", "6": "tags"}
    assert job.total_rows == 1 and job.status == ImportStatus.UPLOADED


def test_import_job_run_creates_customers_like_the_ui(manager):
    job = run(manager, HEADER + "张三,138 0013 8000,ZS@Example.com,星辰科技有限公司,vip；新客,高价值,\n")
    customer = Customer.objects.get()
    assert job.status == ImportStatus.IMPORTED and job.created_count == 1
    assert customer.phone == "+8613800138000" and customer.phone_digits == "13800138000"
    assert customer.email == "zs@example.com" and customer.name_pinyin == "zhangsan"
    assert customer.company_key == "星辰科技" and customer.value_tier == "high"
    assert customer.number.startswith("C")
    assert sorted(CustomerTag.objects.values_list("tag__name", flat=True)) == ["vip", "新客"]
    event = Event.objects.get(customer=customer)
    assert event.type == "customer.created" and event.channel == "import"
    audit = AuditEntry.objects.get(action="customer.import")
    assert audit.changes["created"] == [None, 1]


def test_import_job_validate_reports_bad_rows_and_writes_nothing(manager):
    text = HEADER + "张三,12345,,,,,\n,13800138000,,,,,\n李四,13800138001,not-an-email,,,,\n王五,13800138002,,,,超级,\n"
    job = import_job_create(actor=manager, uploaded_file=upload(text))
    job = import_job_validate(actor=manager, job=job, mapping=job.mapping, mode="all")
    errors = [(e["row"], e["column"]) for e in job.report["errors"]]
    assert errors == [(2, "手机"), (3, "姓名"), (4, "邮箱"), (5, "价值等级")]
    assert job.error_rows == 4 and Customer.objects.count() == 0


def test_import_job_run_refuses_duplicate_numbers_in_file_and_database(manager):
    CustomerFactory(number="C99")
    text = HEADER + "张三,,,,,,A1\n李四,,,,,,a1\n王五,,,,,,C99\n赵六,,,,,,B2\n"
    job = run(manager, text, mode="skip")
    assert [(e["row"], e["column"]) for e in job.report["errors"]] == [(3, "客户编号"), (4, "客户编号")]
    assert set(Customer.objects.values_list("number", flat=True)) == {"C99", "A1", "B2"}


def test_import_job_create_refuses_a_file_over_the_limit(manager):
    with override_settings(FIDELIS_IMPORT_MAX_BYTES=1000), pytest.raises(DomainError) as exc:
        import_job_create(actor=manager, uploaded_file=upload(HEADER + "张三,,,,,,\n" * 200))
    assert exc.value.code == "too_large"


def test_import_job_create_refuses_a_binary_file_named_csv(manager):
    with pytest.raises(DomainError) as exc:
        import_job_create(actor=manager, uploaded_file=SimpleUploadedFile("x.csv", b"PK\x03\x04\x00\x00\xff" * 100))
    assert exc.value.code == "not_text"


def test_import_job_run_reads_gbk(manager):
    run(manager, "姓名,手机\n张三,13800138000\n", encoding="gbk")
    assert Customer.objects.get().name == "张三"


def test_import_job_run_reads_utf8_with_bom_and_xlsx(manager):
    run(manager, "\ufeff姓名,手机\n李四,13800138001\n")
    workbook = Workbook()
    workbook.active.append(["name", "phone", "birthday"])
    workbook.active.append(["Wang Wu", 13800138002, "1990-02-03"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    job = import_job_create(actor=manager, uploaded_file=SimpleUploadedFile("c.xlsx", buffer.getvalue()))
    import_job_validate(actor=manager, job=job, mapping=job.mapping, mode="all")
    import_job_run(actor=manager, job=job)
    assert set(Customer.objects.values_list("name", flat=True)) == {"李四", "Wang Wu"}
    assert str(Customer.objects.get(name="Wang Wu").birthday) == "1990-02-03"


def test_import_job_create_refuses_a_header_without_rows(manager):
    with pytest.raises(DomainError) as exc:
        import_job_create(actor=manager, uploaded_file=upload("姓名,手机\n"))
    assert exc.value.code == "no_rows"


def _big_file(bad_rows: set[int]) -> str:
    lines = ["姓名,手机"]
    for i in range(10_000):
        lines.append(f"客户{i},{'bad' if i in bad_rows else f'139{i:08d}'}")
    return "\n".join(lines) + "\n"


def test_import_job_run_all_or_nothing_imports_nothing_when_rows_are_bad(manager):
    job = run(manager, _big_file({10, 500, 9000}), mode="all")
    assert job.status == ImportStatus.FAILED and Customer.objects.count() == 0
    assert [e["row"] for e in job.report["errors"]] == [12, 502, 9002]


def test_import_job_run_skip_imports_the_good_rows(manager):
    job = run(manager, _big_file({10, 500, 9000}), mode="skip")
    assert job.status == ImportStatus.IMPORTED and job.created_count == 9_997
    assert Customer.objects.count() == 9_997 and Event.objects.filter(type="customer.created").count() == 9_997
    assert AuditEntry.objects.filter(action="customer.import").count() == 1


def test_import_job_run_flags_duplicates_in_file_and_against_database(manager):
    existing = CustomerFactory(name="王芳", phone="+8613900000001")
    text = "姓名,手机,邮箱\n王芳,13900000001,\n张伟,13900000002,zw@example.com\n张伟二,13900000003,ZW@example.com\n"
    job = run(manager, text)
    new = {c.name: c.pk for c in Customer.objects.exclude(pk=existing.pk)}
    pairs = set(DuplicateCandidate.objects.values_list("customer_id", "other_id", "reason"))
    assert (existing.pk, new["王芳"], "phone") in pairs
    assert (new["张伟"], new["张伟二"], "email") in pairs
    assert all(a < b for a, b, _r in pairs) and job.duplicate_count == 3


def test_import_job_create_needs_the_import_capability(sales):
    with pytest.raises(PermissionDenied):
        import_job_create(actor=sales, uploaded_file=upload("姓名\n张三\n"))


def _checked_file(job) -> str:
    return f"{job.file.name}.checked"


def test_import_job_run_takes_the_rows_stored_by_the_check_and_removes_them(
        manager, django_capture_on_commit_callbacks):
    # given: a checked file
    job = import_job_create(actor=manager, uploaded_file=upload(HEADER + "张三,13800138000,,,vip,,\n李四,,,,,,\n"))
    job = import_job_validate(actor=manager, job=job, mapping=job.mapping, mode="all")
    assert job.file.storage.exists(_checked_file(job))
    # when
    with django_capture_on_commit_callbacks(execute=True):
        job = import_job_run(actor=manager, job=job)
    # then
    assert job.status == ImportStatus.IMPORTED and job.created_count == 2
    assert Customer.objects.get(name="张三").phone_digits == "13800138000"
    assert list(CustomerTag.objects.values_list("customer__name", flat=True)) == ["张三"]
    assert not job.file.storage.exists(_checked_file(job))


def test_import_job_run_reads_the_file_again_when_the_stored_rows_are_of_another_file(manager):
    # given: a checked file whose stored rows were replaced by those of another checked file, or by garbage
    other = import_job_create(actor=manager, uploaded_file=upload("姓名,手机\n王五,13800138005\n"))
    import_job_validate(actor=manager, job=other, mapping=other.mapping, mode="all")
    with other.file.storage.open(_checked_file(other), "rb") as stored:
        others_rows = stored.read()
    jobs = []
    for replacement in (others_rows, b"\x00garbage"):
        job = import_job_create(actor=manager, uploaded_file=upload("姓名,手机\n张三,13800138000\n"))
        job = import_job_validate(actor=manager, job=job, mapping=job.mapping, mode="all")
        with job.file.storage.open(_checked_file(job), "wb") as stored:
            stored.write(replacement)
        jobs.append(job)
    # when
    for job in jobs:
        import_job_run(actor=manager, job=job)
    # then: the file's own rows are imported
    assert sorted(Customer.objects.values_list("name", flat=True)) == ["张三", "张三"]


def test_import_job_run_refuses_numbers_taken_since_the_check(manager):
    # given: a checked file, then one of its numbers is given to a new customer
    job = import_job_create(actor=manager, uploaded_file=upload(HEADER + "张三,,,,,,A1\n李四,,,,,,B2\n"))
    job = import_job_validate(actor=manager, job=job, mapping=job.mapping, mode="skip")
    assert job.report["errors"] == []
    CustomerFactory(number="A1", name="赵六")
    # when
    job = import_job_run(actor=manager, job=job)
    # then
    assert [(e["row"], e["column"]) for e in job.report["errors"]] == [(2, "客户编号")]
    assert job.created_count == 1 and Customer.objects.get(number="A1").name == "赵六"
    assert Customer.objects.get(number="B2").name == "李四"


def test_import_job_run_reports_in_the_language_of_the_run(manager):
    # given: a file checked in English
    job = import_job_create(actor=manager, uploaded_file=upload(HEADER + "张三,,,,,,\n,13800138001,,,,,\n"))
    with translation.override("en"):
        job = import_job_validate(actor=manager, job=job, mapping=job.mapping, mode="skip")
    assert job.report["errors"][0]["message"] == "A customer needs a name."
    # when
    with translation.override("zh-hans"):
        job = import_job_run(actor=manager, job=job)
    # then
    assert job.report["errors"][0]["message"] == "客户必须有名称。"
    assert job.created_count == 1


def test_import_job_run_keeps_each_rows_values_through_the_stored_check(manager):
    # given: a checked file whose columns vary from row to row, some of them empty, and one column the same
    text = "姓名,生日,城市,手机\n张三,1990-02-03,上海,13800138000\n李四,,上海,\n王五,1985/12/01,上海,13800138002\n"
    job = import_job_create(actor=manager, uploaded_file=upload(text))
    job = import_job_validate(actor=manager, job=job, mapping=job.mapping, mode="all")
    # when
    import_job_run(actor=manager, job=job)
    # then
    rows = {c.name: (str(c.birthday), c.city, c.phone_digits) for c in Customer.objects.all()}
    assert rows == {"张三": ("1990-02-03", "上海", "13800138000"), "李四": ("None", "上海", ""),
                    "王五": ("1985-12-01", "上海", "13800138002")}


@pytest.mark.parametrize("address", [
    "zs@example.com", "a.b+c@sub.example.cn", "user@localhost", "user@[127.0.0.1]", "user@[::1]",
    '"quoted name"@example.com', "bad@", "@example.com", "no-at", "a@b", "a..b@example.com", "a@-example.com",
    "x" * 310 + "@example.com", "user@exa_mple.com",
])
def test_import_email_check_agrees_with_validate_email(address):
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    from fidelis.customers.imports import _email_valid

    try:
        validate_email(address)
        expected = True
    except ValidationError:
        expected = False
    assert _email_valid(address) is expected


# Files as real businesses send them


@pytest.mark.parametrize("text", [
    "sep=;\n姓名;手机;城市\n张三;13800138000;上海\n李四;13800138001;北京\n",   # Excel's hint line
    "sep=,\r\n姓名,手机,城市\r\n张三,13800138000,上海\r\n李四,13800138001,北京\r\n",
    "姓名;手机;城市\n张三;13800138000;上海\n李四;13800138001;北京\n",          # a European Excel
    "姓名\t手机\t城市\n张三\t13800138000\t上海\n李四\t13800138001\t北京\n",
    "姓名|手机|城市\n张三|13800138000|上海\n李四|13800138001|北京\n",
    '姓名;手机;城市\n"张三";13800138000;"上海,浦东"\n李四;13800138001;北京\n',
])
def test_import_reads_excels_csv_dialects(manager, text):
    # when
    job = run(manager, text)
    # then
    assert job.status == ImportStatus.IMPORTED and job.headers == ["姓名", "手机", "城市"]
    rows = dict(Customer.objects.values_list("name", "phone_digits"))
    assert rows == {"张三": "13800138000", "李四": "13800138001"}
    assert Customer.objects.get(name="李四").city == "北京"


def test_import_normalises_full_width_digits_so_that_search_and_duplicates_find_the_customer(manager):
    # given: a stored customer, and a file whose phone and e-mail mix full-width characters in
    from fidelis.customers.selectors import customer_search

    existing = CustomerFactory(name="王芳", phone="+8613800138024")
    text = "姓名,手机,邮箱\n王芳芳,138００１３８０２４,ＷＦ＠example.com\n"
    # when
    job = run(manager, text)
    # then
    imported = Customer.objects.get(name="王芳芳")
    assert (imported.phone, imported.phone_digits, imported.email) == ("+8613800138024", "13800138024",
                                                                       "wf@example.com")
    assert job.duplicate_count == 1
    assert DuplicateCandidate.objects.filter(customer=existing, other=imported, reason="phone").exists()
    assert {c.pk for c in customer_search(manager, "13800138024")} == {existing.pk, imported.pk}
    assert {c.pk for c in customer_search(manager, "１３８００１３８０２４")} == {existing.pk, imported.pk}


def test_import_guesses_traditional_chinese_headers(manager):
    # given
    text = "姓名,手機,電子郵件,備註,地址,公司,生日,性別,標籤,客戶編號,微信號,行動電話\n張三,,,,,,,,,,,\n"
    # when
    job = import_job_create(actor=manager, uploaded_file=upload(text))
    # then
    assert [job.mapping[str(i)] for i in range(12)] == [
        "name", "phone", "email", "notes", "address", "company_name", "birthday", "gender", "tags", "number",
        "wechat_id", "ignore"]  # the second mobile-phone column is left to the user


def test_import_reads_traditional_chinese_choice_words(manager):
    run(manager, "姓名,性別,價值等級\n張三,男,高價值\n")
    assert Customer.objects.values_list("gender", "value_tier").get() == ("male", "high")


def test_import_refuses_a_nul_character_past_the_first_64_kib_naming_its_row(manager):
    # given
    lines = ["姓名,手机"] + [f"客户{i},139{i:08d}" for i in range(5000)]
    lines[4000] = "客户\x00,13900000000"
    # when
    with translation.override("en"), pytest.raises(DomainError) as refused:
        import_job_create(actor=manager, uploaded_file=upload("\n".join(lines) + "\n"))
    # then
    assert refused.value.code == "nul_character" and "Row 4001 " in str(refused.value.message)
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize(("limits", "text", "code"), [
    ({"FIDELIS_IMPORT_MAX_ROWS": 3}, "姓名\n" + "张三\n" * 4, "too_many_rows"),
    ({"FIDELIS_IMPORT_MAX_COLUMNS": 3}, "姓名,a,b,c\n张三,,,\n", "too_many_columns"),
    ({"FIDELIS_IMPORT_MAX_COLUMNS": 3}, "姓名,a\n张三,,,x\n", "too_many_columns"),
    ({"FIDELIS_IMPORT_MAX_CELL_CHARS": 5}, "姓名,备注\n张三,这个备注太长了\n", "cell_too_long"),
])
def test_import_refuses_a_file_beyond_the_caps_with_a_clear_message(manager, limits, text, code):
    with override_settings(**limits), pytest.raises(DomainError) as refused:
        import_job_create(actor=manager, uploaded_file=upload(text))
    assert refused.value.code == code and refused.value.field == "file"


def test_import_keeps_a_file_at_the_caps(manager):
    with override_settings(FIDELIS_IMPORT_MAX_ROWS=3, FIDELIS_IMPORT_MAX_COLUMNS=2, FIDELIS_IMPORT_MAX_CELL_CHARS=2):
        job = run(manager, "姓名,城市\n张三,上海\n李四,北京\n\n")
    assert job.created_count == 2


def test_import_page_refuses_a_file_of_10000_columns_with_a_message(client_for, manager):
    # given
    header = ",".join(["姓名"] + [f"c{i}" for i in range(10_000)])
    # when
    response = client_for(manager).post(reverse("customers:import_start"), {
        "file": SimpleUploadedFile("wide.csv", f"{header}\n张三\n".encode())})
    # then: the upload page, in the user's language, says why
    assert response.status_code == 400
    assert "第 1 行超过 200 列" in response.content.decode() and not ImportJob.objects.exists()


def test_import_reads_the_first_sheet_with_data_and_warns_of_formulas_without_a_value(manager, tmp_path):
    # given: a workbook whose first sheet is empty; on the second, a formula openpyxl wrote (no computed value)
    workbook = Workbook()
    workbook.active.title = "说明"
    data = workbook.create_sheet("客户")
    data.append(["姓名", "城市"])
    data.append(["张三", "上海"])
    data.append(["李四", '=UPPER("bj")'])
    buffer = io.BytesIO()
    workbook.save(buffer)
    # when
    job = import_job_create(actor=manager, uploaded_file=SimpleUploadedFile("c.xlsx", buffer.getvalue()))
    with translation.override("en"):
        job = import_job_validate(actor=manager, job=job, mapping=job.mapping, mode="all")
    # then
    assert job.headers == ["姓名", "城市"] and job.total_rows == 2
    assert job.report["warnings"] == [{"row": 3, "column": "城市", "message": (
        "A formula without a computed value is read as empty: open the file in Excel and save it again.")}]
    import_job_run(actor=manager, job=job)
    assert dict(Customer.objects.values_list("name", "city")) == {"张三": "上海", "李四": ""}


def three_sheet_workbook() -> bytes:
    """Return a workbook: an empty first sheet, customers on the second, other customers (other columns) on the
    third, and a chart sheet."""
    workbook = Workbook()
    workbook.active.title = "说明"
    second = workbook.create_sheet("客户")
    second.append(["姓名", "城市"])
    second.append(["张三", "上海"])
    second.append(["李四", "北京"])
    third = workbook.create_sheet("VIP 客户")
    third.append(["手机", "姓名", "城市"])
    third.append(["13800138000", "王五", "深圳"])
    chart = BarChart()
    chart.add_data(Reference(third, min_col=1, min_row=1, max_row=2))
    workbook.create_chartsheet("图表").add_chart(chart)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def upload_workbook(client) -> ImportJob:
    response = client.post(reverse("customers:import_start"), {
        "file": SimpleUploadedFile("客户.xlsx", three_sheet_workbook())})
    assert response.status_code == 302
    return ImportJob.objects.get()


def test_import_page_offers_the_sheets_and_reads_the_first_with_data_by_default(client_for, manager):
    # given
    client = client_for(manager)
    # when
    job = upload_workbook(client)
    page = client.get(reverse("customers:import_detail", args=[job.public_id])).content.decode()
    client.post(reverse("customers:import_detail", args=[job.public_id]), {
        "action": "validate", "mode": "all", "map-0": "name", "map-1": "city"})
    client.post(reverse("customers:import_detail", args=[job.public_id]), {"action": "run"})
    # then: the chart sheet is no choice; the second sheet was read and imported
    assert job.sheets == ["说明", "客户", "VIP 客户"] and job.sheet == "客户"
    assert job.headers == ["姓名", "城市"] and job.total_rows == 2
    assert 'name="sheet"' in page and '<option value="客户" selected>' in page and "图表" not in page
    job.refresh_from_db()
    assert job.status == ImportStatus.IMPORTED
    assert dict(Customer.objects.values_list("name", "city")) == {"张三": "上海", "李四": "北京"}


def test_import_page_choosing_another_sheet_reads_its_columns_and_imports_its_rows(client_for, manager):
    # given: the default sheet already checked
    client = client_for(manager)
    job = upload_workbook(client)
    job = import_job_validate(actor=manager, job=job, mapping=job.mapping, mode="all")
    url = reverse("customers:import_detail", args=[job.public_id])
    # when
    response = client.post(url, {"action": "sheet", "sheet": "VIP 客户"})
    # then: the third sheet's columns, a new guess, to be checked again
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.sheet, job.headers, job.total_rows) == ("VIP 客户", ["手机", "姓名", "城市"], 1)
    assert job.mapping == {"0": "phone", "1": "name", "2": "city"}
    assert job.status == ImportStatus.UPLOADED and job.report == {}
    assert AuditEntry.objects.get(action="customer.import_sheet").changes["sheet"] == ["客户", "VIP 客户"]
    page = client.get(url).content.decode()
    assert '<option value="VIP 客户" selected>' in page and 'name="map-2"' in page
    # when it is checked and imported
    client.post(url, {"action": "validate", "mode": "all", "map-0": "phone", "map-1": "name", "map-2": "city"})
    client.post(url, {"action": "run"})
    # then the third sheet's rows, and only them, are customers
    job.refresh_from_db()
    assert job.status == ImportStatus.IMPORTED and job.created_count == 1
    assert list(Customer.objects.values_list("name", "city", "phone")) == [("王五", "深圳", "+8613800138000")]


def test_import_page_refuses_a_sheet_not_in_the_workbook_with_a_message(client_for, manager):
    # given
    client = client_for(manager)
    job = upload_workbook(client)
    url = reverse("customers:import_detail", args=[job.public_id])
    # when
    response = client.post(url, {"action": "sheet", "sheet": "图表"})
    empty = client.post(url, {"action": "sheet", "sheet": "说明"})
    # then: refused in the user's language; the job still reads the second sheet
    assert response.status_code == 400 and empty.status_code == 400
    assert "该工作簿没有名为“图表”的工作表。" in response.content.decode()
    assert 'aria-invalid="true"' in response.content.decode()
    job.refresh_from_db()
    assert (job.sheet, job.headers) == ("客户", ["姓名", "城市"])
    assert not AuditEntry.objects.filter(action="customer.import_sheet").exists()
    with pytest.raises(DomainError) as exc:
        import_job_sheet_choose(actor=manager, job=job, sheet="Sheet9")
    assert (exc.value.code, exc.value.field) == ("no_sheet", "sheet")


def test_import_sheet_choice_applies_the_caps_to_the_chosen_sheet(manager):
    # given
    job = import_job_create(actor=manager, uploaded_file=SimpleUploadedFile("c.xlsx", three_sheet_workbook()))
    # when the third sheet is chosen with a cap of two columns
    with override_settings(FIDELIS_IMPORT_MAX_COLUMNS=2), pytest.raises(DomainError) as exc:
        import_job_sheet_choose(actor=manager, job=job, sheet="VIP 客户")
    # then
    assert (exc.value.code, exc.value.field) == ("too_many_columns", "sheet")
    job.refresh_from_db()
    assert job.sheet == "客户"


def test_import_of_a_csv_offers_no_sheet(client_for, manager):
    # given
    client = client_for(manager)
    client.post(reverse("customers:import_start"), {"file": upload("姓名\n张三\n")})
    job = ImportJob.objects.get()
    # when
    page = client.get(reverse("customers:import_detail", args=[job.public_id])).content.decode()
    response = client.post(reverse("customers:import_detail", args=[job.public_id]), {"action": "sheet",
                                                                                     "sheet": "Sheet1"})
    # then
    assert (job.sheets, job.sheet) == ([], "") and 'name="sheet"' not in page
    assert response.status_code == 400


# After a failed "all or nothing" run; duplicate hints of the check


BAD_AND_GOOD = "姓名,手机\n张三,13800138000\n李四,bad\n王五,13800138002\n"


def test_import_job_run_after_a_failed_all_or_nothing_run_skips_the_bad_rows_when_asked(manager):
    # given: a run in "all or nothing" that failed on row 3
    job = run(manager, BAD_AND_GOOD, mode="all")
    assert job.status == ImportStatus.FAILED and Customer.objects.count() == 0
    assert job.file.storage.exists(_checked_file(job))  # the check's rows are kept for the next run
    # when it is run again, skipping the bad rows, without a new check
    job = import_job_run(actor=manager, job=job, mode="skip")
    # then the good rows are imported and the report names the skipped one
    assert (job.status, job.mode, job.created_count, job.error_rows) == (ImportStatus.IMPORTED, "skip", 2, 1)
    assert [e["row"] for e in job.report["errors"]] == [3]
    assert sorted(Customer.objects.values_list("name", flat=True)) == ["张三", "王五"]
    assert AuditEntry.objects.get(action="customer.import").changes["mode"] == [None, "skip"]


def test_import_job_run_after_a_failed_run_reads_the_file_again_when_the_stored_rows_are_gone(manager):
    # given
    job = run(manager, BAD_AND_GOOD, mode="all")
    job.file.storage.delete(_checked_file(job))
    # when
    job = import_job_run(actor=manager, job=job, mode="skip")
    # then
    assert job.status == ImportStatus.IMPORTED and job.created_count == 2


def test_import_job_run_refuses_an_unknown_mode_and_a_job_never_checked(manager):
    # given
    job = import_job_create(actor=manager, uploaded_file=upload(BAD_AND_GOOD))
    # when / then
    with pytest.raises(DomainError) as exc:
        import_job_run(actor=manager, job=job, mode="skip")
    assert exc.value.code == "not_validated"
    job = import_job_validate(actor=manager, job=job, mapping=job.mapping, mode="all")
    with pytest.raises(DomainError) as exc:
        import_job_run(actor=manager, job=job, mode="maybe")
    assert (exc.value.code, exc.value.field) == ("invalid_mode", "mode")
    assert Customer.objects.count() == 0


def test_import_page_after_a_failed_run_imports_the_good_rows_in_the_mode_chosen(client_for, manager):
    # given: the page of a job whose "all or nothing" run failed
    client = client_for(manager)
    job = run(manager, BAD_AND_GOOD, mode="all")
    url = reverse("customers:import_detail", args=[job.public_id])
    page = client.get(url).content.decode()
    assert 'id="import-run"' in page and "导入正确的行，跳过错误行" in page
    # when "skip the bad rows" is chosen and "Import" pressed, the columns as they were
    response = client.post(url, {"action": "run", "mode": "skip", "map-0": "name", "map-1": "phone"})
    # then: imported, no request to check the file again
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.status, job.mode, job.created_count) == (ImportStatus.IMPORTED, "skip", 2)


def test_import_page_run_with_columns_mapped_otherwise_checks_them_first(client_for, manager):
    # given: a job checked with the phone column ignored
    client = client_for(manager)
    job = import_job_create(actor=manager, uploaded_file=upload(BAD_AND_GOOD))
    job = import_job_validate(actor=manager, job=job, mapping={"0": "name", "1": "ignore"}, mode="all")
    url = reverse("customers:import_detail", args=[job.public_id])
    # when the phone column is mapped again and "Import" pressed in "all or nothing"
    client.post(url, {"action": "run", "mode": "all", "map-0": "name", "map-1": "phone"})
    # then the new mapping was checked and its bad row stops the import
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED and job.mapping["1"] == "phone"
    assert [e["row"] for e in job.report["errors"]] == [3] and Customer.objects.count() == 0


def test_import_job_validate_hints_at_stored_customers_with_the_same_phone_or_email(manager):
    # given: customers whose phone and e-mail rows of the file share, written otherwise
    by_phone = CustomerFactory(name="王芳", phone="+8613900000001", number="C-P")
    by_email = CustomerFactory(name="张伟", email="zw@example.com", number="C-E")
    by_alt = CustomerFactory(name="李娜", phone="+8613900000009", phone_alt="+8613900000003", number="C-A")
    text = ("姓名,手机,邮箱\n王芳芳,139 0000 0001,\n张先生,,ZW@Example.com\n李四,+86 139-0000-0003,\n"
            "赵六,13900000004,zl@example.com\n")
    job = import_job_create(actor=manager, uploaded_file=upload(text))
    # when
    with CaptureQueriesContext(connection) as queries:
        job = import_job_validate(actor=manager, job=job, mapping=job.mapping, mode="all")
    # then: each row names the customer it looks like, with number and name; one query looks them all up
    hints = [(h["row"], h["reason"], h["value"], h["customer"]) for h in job.report["duplicate_hints"]]
    assert hints == [(2, "phone", "13900000001", [by_phone.public_id, "C-P", "王芳"]),
                     (3, "email", "zw@example.com", [by_email.public_id, "C-E", "张伟"]),
                     (4, "phone", "13900000003", [by_alt.public_id, "C-A", "李娜"])]
    assert job.report["duplicate_hint_count"] == 3
    lookups = [q["sql"] for q in queries.captured_queries if "email_normalized" in q["sql"] and "SELECT" in q["sql"]]
    assert len(lookups) == 1
    assert Customer.objects.count() == 3


def test_import_job_validate_hints_at_rows_that_repeat_an_earlier_row_across_chunks(manager, monkeypatch):
    # given: rows repeating the phone or e-mail of an earlier row, the second pair in a later chunk of the check
    monkeypatch.setattr("fidelis.customers.imports.CHUNK_ROWS", 2)
    text = ("姓名,手机,邮箱\n甲,13900000001,a@example.com\n乙,13900000002,\n丙,13900000001,\n"
            "丁,,A@EXAMPLE.COM\n戊,,\n")
    job = import_job_create(actor=manager, uploaded_file=upload(text))
    # when
    job = import_job_validate(actor=manager, job=job, mapping=job.mapping, mode="all")
    # then
    hints = [(h["row"], h["reason"], h["other_row"]) for h in job.report["duplicate_hints"]]
    assert hints == [(4, "phone", 2), (5, "email", 2)]


def test_import_page_shows_the_duplicate_hints_with_a_link_and_keeps_them_after_the_run(client_for, manager):
    # given
    existing = CustomerFactory(name="王芳", phone="+8613900000001", number="C-P")
    client = client_for(manager)
    job = import_job_create(actor=manager, uploaded_file=upload("姓名,手机\n王芳芳,13900000001\n王芳二,13900000001\n"))
    job = import_job_validate(actor=manager, job=job, mapping=job.mapping, mode="skip")
    url = reverse("customers:import_detail", args=[job.public_id])
    # when
    page = client.get(url).content.decode()
    # then
    assert 'id="import-hints"' in page and reverse("customers:detail", args=[existing.public_id]) in page
    assert "C-P 王芳" in page and "电话号码相同" in page and "本文件第 2 行" in page
    assert "139 0000 0001" in page  # the phone as people write it, not its digits
    # and after the run, the report still lists them
    client.post(url, {"action": "run"})
    job.refresh_from_db()
    assert job.status == ImportStatus.IMPORTED and job.report["duplicate_hint_count"] == 3
    assert 'id="import-hints"' in client.get(url).content.decode()
