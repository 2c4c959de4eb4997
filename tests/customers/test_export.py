import csv
import io
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from openpyxl import load_workbook

from fidelis.accounts.models import AuditEntry
from fidelis.core.errors import PermissionDenied
from fidelis.customers.exports import (
    csv_stream,
    customers_export_start,
    export_headers,
    neutralise,
    xlsx_bytes,
)
from fidelis.customers.models import Consent, ConsentChannel, Customer
from fidelis.customers.services import consent_set
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _csv(qs) -> list[list[str]]:
    with translation.override("en"):
        text = "".join(csv_stream(qs))
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def _xlsx(qs, language: str = "en"):
    with translation.override(language):
        return load_workbook(io.BytesIO(xlsx_bytes(qs))).active


@pytest.fixture
def wang(manager):
    customer = CustomerFactory(number="000123", name="王芳", phone="+8613800138000", phone_alt="+14155552671",
                               gender="female", category="key", value_tier="high", lifecycle_stage="loyal",
                               birthday=date(1990, 5, 1))
    consent_set(actor=manager, customer=customer, channel="sms", granted=True, source="门店")
    consent_set(actor=manager, customer=customer, channel="email", granted=False, source="退订链接")
    return customer


def test_neutralise_prefixes_formula_starts():
    assert [neutralise(v) for v in ("=1+1", "+86", "-2", "@SUM(A1)", "\tx", "\rx", "张三")] == [
        "'=1+1", "'+86", "'-2", "'@SUM(A1)", "'\tx", "'\rx", "张三"]


def test_customers_export_start_filters_and_audits(manager):
    CustomerFactory(name="=HYPERLINK(\"x\")", value_tier="high")
    CustomerFactory(name="李四", value_tier="low")
    qs = customers_export_start(actor=manager, filters={"value_tier": "high"}, fmt="csv")
    text = "".join(csv_stream(qs))
    assert text.startswith("\ufeff") and "'=HYPERLINK" in text and "李四" not in text
    audit = AuditEntry.objects.get(action="customer.export")
    assert audit.changes["count"] == [None, 1] and audit.changes["filter"] == [None, {"value_tier": "high"}]


def test_customers_export_start_needs_the_export_capability(sales):
    with pytest.raises(PermissionDenied):
        customers_export_start(actor=sales, filters={}, fmt="csv")
    assert not AuditEntry.objects.filter(action="customer.export").exists()


def test_export_headers_and_labels_are_in_the_exporting_users_language(manager, wang):
    # given a user exporting in Chinese
    qs = customers_export_start(actor=manager, filters={}, fmt="xlsx")
    # when
    sheet = _xlsx(qs, "zh-hans")
    # then the titles and the choices are Chinese words, not field names or codes
    header, row = ([c.value for c in r] for r in sheet.iter_rows(min_row=1, max_row=2))
    cells = dict(zip(header, row, strict=True))
    assert cells["客户编号"] == "000123" and cells["类型"] == "个人" and cells["性别"] == "女"
    assert cells["客户类别"] == "重点" and cells["价值等级"] == "高价值" and cells["手机"] == "138 0013 8000"
    # one column per consent channel: granted, withdrawn, or not asked
    assert (cells["营销授权：短信"], cells["营销授权：电子邮件"], cells["营销授权：微信"]) == ("已同意", "已撤回", "未询问")
    assert "key" not in row and "female" not in row


def test_export_headers_in_english_name_every_consent_channel():
    with translation.override("en"):
        headers = export_headers()
        channels = [f"Consent: {label}" for label in ConsentChannel.labels]
    assert headers[:3] == ["Customer number", "Type", "Name"]
    assert headers[-len(channels):] == channels == ["Consent: SMS", "Consent: E-mail", "Consent: WeChat",
                                                    "Consent: Phone"]


def test_xlsx_writes_identifiers_as_text_dates_as_dates_and_no_quote_anywhere(manager, wang):
    CustomerFactory(name='=HYPERLINK("http://x","y")', phone="", notes="@SUM(A1)", interests="-1+2")
    qs = customers_export_start(actor=manager, filters={}, fmt="xlsx")
    sheet = _xlsx(qs)
    header = [c.value for c in sheet[1]]
    rows = {r[header.index("Name")].value: dict(zip(header, r, strict=True))
            for r in sheet.iter_rows(min_row=2)}
    # identifiers are text cells: the number keeps its leading zeros, the phone its national spaces
    number, phone = rows["王芳"]["Customer number"], rows["王芳"]["Mobile phone"]
    assert (number.value, number.data_type) == ("000123", "s")
    assert (phone.value, phone.data_type) == ("138 0013 8000", "s")
    assert rows["王芳"]["Other phone"].value == "+1 415-555-2671"
    assert rows["王芳"]["Birthday"].value.date() == date(1990, 5, 1)
    # what a spreadsheet would run stays text, without the quote a reader would see
    formula = rows['=HYPERLINK("http://x","y")']
    assert formula["Name"].data_type == "s" and formula["Name"].value == '=HYPERLINK("http://x","y")'
    assert formula["Notes"].value == "@SUM(A1)" and formula["Interests"].value == "-1+2"
    assert not any(isinstance(c.value, str) and c.value.startswith("'") for r in sheet.iter_rows() for c in r)


def test_csv_phones_need_no_quote_and_dangerous_text_keeps_its_protection(manager, wang):
    CustomerFactory(name="@cmd", phone="+8613900139000")
    qs = customers_export_start(actor=manager, filters={}, fmt="csv")
    header, *rows = _csv(qs)
    by_name = {row[header.index("Name")]: dict(zip(header, row, strict=True)) for row in rows}
    assert by_name["王芳"]["Mobile phone"] == "138 0013 8000" and by_name["王芳"]["Customer number"] == "000123"
    assert by_name["王芳"]["Birthday"] == "1990-05-01" and by_name["王芳"]["Category"] == "Key"
    assert by_name["王芳"]["Consent: SMS"] == "Granted" and by_name["王芳"]["Consent: E-mail"] == "Withdrawn"
    assert by_name["王芳"]["Consent: Phone"] == "Not asked"
    # a phone with its country code would start a formula: it keeps the quote, as any text starting so
    assert by_name["王芳"]["Other phone"] == "'+1 415-555-2671"
    assert "'@cmd" in by_name and by_name["'@cmd"]["Mobile phone"] == "139 0013 9000"


def test_export_reads_tags_and_consents_in_a_fixed_number_of_queries(manager):
    def queries_for(n: int) -> int:
        Customer.objects.all().delete()
        for customer in CustomerFactory.create_batch(n):
            Consent.objects.create(customer=customer, channel="sms", granted=True, recorded_at=customer.created_at)
        qs = customers_export_start(actor=manager, filters={}, fmt="csv")
        with CaptureQueriesContext(connection) as captured:
            rows = _csv(qs)
        assert len(rows) == n + 1
        return len(captured)

    assert queries_for(3) == queries_for(30)
