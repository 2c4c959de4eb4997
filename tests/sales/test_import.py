"""Historical order imports: mapping, dry run with a per-row report, GBK and XLSX, bulk write with history events."""

import io
from datetime import datetime
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import Workbook

from fidelis.accounts.models import AuditEntry, Role
from fidelis.core.errors import DomainError, PermissionDenied
from fidelis.core.imports import ImportStatus
from fidelis.customers.models import LifecycleStage
from fidelis.events.models import Event, PendingDispatch
from fidelis.loyalty.backfill import orders_backfill
from fidelis.loyalty.models import AppliedEvent, Member, Purchase
from fidelis.loyalty.services import member_enrol
from fidelis.loyalty.templates import starter_program
from fidelis.sales.imports import (
    order_import_create,
    order_import_run,
    order_import_sheet_choose,
    order_import_validate,
)
from fidelis.sales.models import Order, OrderImport, OrderLine, Refund
from fidelis.sales.services import paid_event_key
from fidelis.work.models import Task
from fidelis.work.services import follow_up_rule_create
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

HEADER = "订单号,客户编号,手机,支付时间,门店,渠道,支付方式,商品编码,数量,单价,折扣,金额,实付金额\n"
GOOD = (
    "H-1,T-A,,2025-03-08 14:20,1F-01,门店,微信支付,CF-001,2,,,,\n"
    "H-1,T-A,,2025-03-08 14:20,1F-01,门店,微信支付,CF-002,1,30,,30,\n"
    "H-2,,139 1234 5678,2025/06/01 19:05,时尚女装馆,,支付宝,WF-101,1,1299,99,,1100\n"
    "H-3,T-A,,2025-07-01,,网店,银行卡,WF-102,3,,,,\n"
)


def upload(text: str, name: str = "orders.csv", encoding: str = "utf-8") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(encoding))


def check(manager, text: str, mode: str = "all", **kwargs):
    job = order_import_create(actor=manager, uploaded_file=upload(text, **kwargs))
    return order_import_validate(actor=manager, job=job, mapping=job.mapping, mode=mode)


@pytest.fixture
def buyers(db, shopper):
    return {"A": CustomerFactory(number="T-A", name="李静"), "phone": shopper}


def test_import_guesses_the_columns_checks_and_writes_orders_lines_and_history_events(manager, catalogue, buyers):
    # given
    job = check(manager, HEADER + GOOD)
    assert job.status == ImportStatus.VALIDATED and job.report["errors"] == []
    assert (job.report["good_orders"], job.report["good_lines"]) == (3, 4)
    assert Order.objects.count() == 0  # the check writes nothing
    # when
    job = order_import_run(actor=manager, job=job)
    # then
    assert (job.status, job.order_count, job.line_count) == (ImportStatus.IMPORTED, 3, 4)
    h1, h2, h3 = (Order.objects.get(order_no=n) for n in ("H-1", "H-2", "H-3"))
    tz = timezone.get_current_timezone()
    assert h1.paid_at == datetime(2025, 3, 8, 14, 20, tzinfo=tz) and h1.customer == buyers["A"]
    assert (h1.store.code, h1.channel, h1.payment_method, h1.subtotal, h1.paid_amount) == (
        "1F-01", "store", "wechat_pay", Decimal("86.00"), Decimal("86.00"))
    assert (h2.customer, h2.store.code, h2.subtotal, h2.discount, h2.paid_amount) == (
        buyers["phone"], "2F-01", Decimal("1200.00"), Decimal("100.00"), Decimal("1100.00"))
    assert (h3.store, h3.channel, timezone.localtime(h3.paid_at).hour, h3.payment_method) == (None, "online", 12, "card")
    assert [(line.product.sku, line.quantity, line.amount) for line in h1.lines.order_by("id")] == [
        ("CF-001", 2, Decimal("56.00")), ("CF-002", 1, Decimal("30.00"))]
    event = Event.objects.get(idempotency_key=paid_event_key(h2))
    assert (event.type, event.occurred_at, event.customer) == ("order.paid", h2.paid_at, buyers["phone"])
    assert {k: event.payload[k] for k in ("order_no", "amount", "currency", "store", "categories")} == {
        "order_no": "H-2", "amount": "1100.00", "currency": "CNY", "store": "2F-01", "categories": ["女装"]}
    assert event.payload["lines"] == [{"sku": "WF-101", "category": "女装", "quantity": 1, "amount": "1200.00"}]
    assert AuditEntry.objects.filter(action="order.import").count() == 1
    with pytest.raises(DomainError):
        order_import_run(actor=manager, job=job)


def test_imported_buyers_become_buyers_in_the_funnel_but_never_move_back(manager, catalogue, buyers,
                                                                         django_capture_on_commit_callbacks):
    # given one buyer further down the funnel than "buyer" already
    buyers["phone"].lifecycle_stage = LifecycleStage.ADVOCATE
    buyers["phone"].save()
    assert buyers["A"].lifecycle_stage == LifecycleStage.INTERESTED
    # when their orders are imported, and the handlers that take history run after the commit
    with django_capture_on_commit_callbacks(execute=True):
        job = order_import_run(actor=manager, job=check(manager, HEADER + GOOD))
    # then the other moves to "buyer", audited with the imported event; the advocate stays an advocate
    buyers["A"].refresh_from_db()
    buyers["phone"].refresh_from_db()
    assert (buyers["A"].lifecycle_stage, buyers["phone"].lifecycle_stage) == (LifecycleStage.BUYER,
                                                                              LifecycleStage.ADVOCATE)
    entry = AuditEntry.objects.get(action="customer.stage_advance")
    first = Event.objects.filter(customer=buyers["A"], type="order.paid").order_by("pk").first()
    assert first.payload["import"] == job.public_id
    assert (entry.object_id, entry.via) == (buyers["A"].public_id, "rule")
    assert entry.changes == {"lifecycle_stage": ["interested", "buyer"], "event": [None, first.public_id],
                             "event_type": [None, "order.paid"]}


def test_imported_orders_open_no_follow_up_task(manager, catalogue, buyers, django_capture_on_commit_callbacks):
    # given: an active follow-up rule for every purchase
    follow_up_rule_create(actor=manager, data={"name": "购物后回访", "delay_days": 7, "assignee": manager})
    # when: orders of the past are imported and their events dispatched
    with django_capture_on_commit_callbacks(execute=True):
        order_import_run(actor=manager, job=check(manager, HEADER + GOOD))
    # then: history calls for no follow-up; a live sale does
    assert Event.objects.filter(type="order.paid").count() == 3 and not Task.objects.exists()


def test_imported_orders_are_history_that_the_loyalty_backfill_applies(manager, catalogue, buyers,
                                                                        django_capture_on_commit_callbacks):
    # given: a member club with the customer as a member
    program = starter_program(actor=manager, name="星河会员俱乐部")
    with django_capture_on_commit_callbacks(execute=True):
        member, _created = member_enrol(actor=manager, program=program, customer=buyers["A"], channel="store")
    # when: the import commits, and the handlers that take history run: the member club's is not one of them
    with django_capture_on_commit_callbacks(execute=True):
        order_import_run(actor=manager, job=check(manager, HEADER + GOOD))
    assert not AppliedEvent.objects.filter(event__type="order.paid").exists()
    assert not PendingDispatch.objects.exists()
    # then: the back-fill finds the imported events and gives the points of the history
    result = orders_backfill(actor=manager, program=program)
    assert result.purchases == 2
    assert set(Purchase.objects.filter(member=member).values_list("order_ref", flat=True)) == {"H-1", "H-3"}
    assert Member.objects.get(pk=member.pk).balance == 500 + 86 + 2697


def test_bad_rows_are_reported_with_row_column_and_reason_and_all_or_nothing_writes_nothing(manager, catalogue,
                                                                                          buyers):
    # given
    text = HEADER + GOOD + (
        "B-1,T-A,,2025-03-08 10:00,1F-01,,,CF-001,-1,,,,\n"         # row 6: a refund of an order not stored
        "B-2,T-A,,2025-03-08 10:00,1F-01,,,NOPE,1,,,,\n"            # row 7: unknown product
        "B-3,T-ZZ,,2025-03-08 10:00,1F-01,,,CF-001,1,,,,\n"         # row 8: unknown customer
        "B-4,T-A,,8.3.2025,1F-01,,,CF-001,1,,,,\n"                  # row 9: not a time
        "B-5,T-A,,2025-03-08 10:00,1F-01,,,CF-001,2,28,,50,\n"      # row 10: amount does not add up
        "B-6,T-A,,2025-03-08 10:00,1F-01,,,CF-001,1,,,,\n"          # row 11: fine alone, but …
        "B-6,T-A,,2025-03-09 10:00,1F-01,,,CF-002,1,,,,\n"          # row 12: … another time in the same order
        "B-7,T-A,,2025-03-08 10:00,9F-99,,,CF-001,1,,,,\n"          # row 13: unknown store
    )
    # when
    with translation.override("en"):
        job = check(manager, text)
    # then
    errors = [(e["row"], e["column"], e["message"]) for e in job.report["errors"]]
    assert errors == [
        (6, "订单号", "A refund row names a stored order: import order B-1 first, then its refund."),
        (7, "商品编码", "There is no product with SKU NOPE."),
        (8, "客户编号", "No customer T-ZZ."),
        (9, "支付时间", "“8.3.2025” is not a date and time (use YYYY-MM-DD HH:MM)."),
        (10, "金额", "The line amount 50.00 is not quantity × unit price − discount (56.00)."),
        (12, "支付时间", "Differs from the first row of order B-6 (row 11)."),
        (13, "门店", "There is no store with code 9F-99."),
    ]
    assert job.error_rows == 8 and job.report["good_orders"] == 3
    job = order_import_run(actor=manager, job=job)
    assert job.status == ImportStatus.FAILED and Order.objects.count() == 0 and OrderLine.objects.count() == 0
    assert not Event.objects.filter(type="order.paid").exists()


def test_skip_mode_imports_the_good_orders_whole(manager, catalogue, buyers):
    text = HEADER + GOOD + "B-1,T-A,,2025-03-08 10:00,1F-01,,,CF-001,1,,,,\nB-1,T-A,,2025-03-08 10:00,1F-01,,,X,1,,,,\n"
    job = order_import_run(actor=manager, job=check(manager, text, mode="skip"))
    assert (job.status, job.order_count, job.line_count, job.error_rows) == (ImportStatus.IMPORTED, 3, 4, 2)
    assert not Order.objects.filter(order_no="B-1").exists()


def test_an_order_number_already_stored_is_reported(manager, catalogue, buyers):
    order_import_run(actor=manager, job=check(manager, HEADER + GOOD))
    job = check(manager, HEADER + GOOD.splitlines(keepends=True)[3])
    assert [(e["row"], e["column"]) for e in job.report["errors"]] == [(2, "订单号")]
    assert "H-3" in job.report["errors"][0]["message"]
    assert job.report["good_orders"] == 0


def test_gbk_file_with_chinese_headers_imports(manager, catalogue, buyers):
    job = check(manager, HEADER + GOOD, name="历史订单.csv", encoding="gbk")
    assert job.encoding.lower().replace("_", "") in ("gb18030", "gbk", "gb2312") and job.report["errors"] == []
    assert order_import_run(actor=manager, job=job).order_count == 3
    assert Order.objects.get(order_no="H-2").store.name == "时尚女装馆"


def test_xlsx_file_imports_with_real_dates_and_numbers(manager, catalogue, buyers):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Order No", "Customer number", "Paid at", "Store", "SKU", "Qty", "Unit price"])
    sheet.append(["X-1", "T-A", datetime(2025, 1, 2, 15, 30), "1F-01", "CF-002", 2, 31.5])
    data = io.BytesIO()
    workbook.save(data)
    job = order_import_create(actor=manager, uploaded_file=SimpleUploadedFile("orders.xlsx", data.getvalue()))
    job = order_import_run(actor=manager, job=order_import_validate(actor=manager, job=job, mapping=job.mapping,
                                                                    mode="all"))
    order = Order.objects.get(order_no="X-1")
    assert job.order_count == 1 and order.paid_amount == Decimal("63.00")
    assert order.paid_at == datetime(2025, 1, 2, 15, 30, tzinfo=timezone.get_current_timezone())


def test_a_header_only_file_an_empty_file_and_a_mapping_without_required_columns_are_refused(manager, catalogue):
    with pytest.raises(DomainError) as header_only:
        order_import_create(actor=manager, uploaded_file=upload(HEADER))
    with pytest.raises(DomainError) as empty:
        order_import_create(actor=manager, uploaded_file=upload(""))
    job = order_import_create(actor=manager, uploaded_file=upload(HEADER + GOOD))
    with pytest.raises(DomainError) as unmapped:
        order_import_validate(actor=manager, job=job, mapping={**job.mapping, "7": "ignore"}, mode="all")
    assert (header_only.value.code, empty.value.code, unmapped.value.code) == ("no_rows", "empty", "unmapped")
    assert header_only.value.field == "file"


def test_only_marketing_and_managers_import(users, catalogue):
    with pytest.raises(PermissionDenied):
        order_import_create(actor=users[Role.SALES], uploaded_file=upload(HEADER + GOOD))


def test_a_large_file_imports_in_one_go(manager, catalogue, buyers):
    # given: 2,000 orders of 3 lines
    rows = [f"L-{n},T-A,,2025-05-{1 + n % 28:02d} 11:{n % 60:02d},2F-01,,,{sku},{1 + n % 3},,,,\n"
            for n in range(2000) for sku in ("WF-101", "WF-102", "CF-001")]
    # when
    job = order_import_run(actor=manager, job=check(manager, HEADER + "".join(rows)))
    # then
    assert (job.order_count, job.line_count) == (2000, 6000)
    assert OrderLine.objects.count() == 6000 and Event.objects.filter(type="order.paid").count() == 2000
    assert Order.objects.get(order_no="L-7").paid_amount == 2 * (Decimal("1299") + Decimal("899") + Decimal("28"))


def test_import_adds_to_the_daily_totals_what_a_rebuild_from_the_orders_gives(manager, catalogue, buyers):
    # given: a day already has totals from an order recorded at the till, and a store code that needs quoting
    from fidelis.sales.models import SalesDay, SalesDayProduct, Store
    from fidelis.sales.rollups import rollups_rebuild
    from fidelis.sales.services import order_create

    tz = timezone.get_current_timezone()
    order_create(actor=manager, customer=buyers["A"], lines=[{"sku": "CF-001", "quantity": 1}], channel="store",
                 store=catalogue["stores"]["1F-01"], payment_method="cash", paid_at=datetime(2025, 3, 8, 9, tzinfo=tz))
    Store.objects.create(code='B1,"{x}"\\', name="引号店")
    text = HEADER + GOOD + '"Q-1",T-A,,2025-03-08 15:00,"B1,""{x}""\\",,,CF-001,1,,,,\n'
    # when
    job = order_import_run(actor=manager, job=check(manager, text))
    # then
    assert (job.status, job.order_count) == (ImportStatus.IMPORTED, 4)
    kept_days = sorted(SalesDay.objects.values_list("day", "store_code", "channel", "amount", "orders"))
    kept_products = sorted(SalesDayProduct.objects.values_list("day", "product", "category", "amount", "quantity"))
    assert any(store == 'B1,"{x}"\\' for _day, store, *_rest in kept_days)
    rollups_rebuild()
    assert sorted(SalesDay.objects.values_list("day", "store_code", "channel", "amount", "orders")) == kept_days
    assert sorted(SalesDayProduct.objects.values_list("day", "product", "category", "amount", "quantity")) == \
        kept_products


def test_import_reuses_the_rows_of_the_check_but_asks_the_database_again(manager, catalogue, buyers):
    # given: a checked file, then H-3 is recorded at the till before the import runs
    from fidelis.sales.services import order_create

    job = check(manager, HEADER + GOOD)
    storage = job.file.storage
    assert job.report["errors"] == [] and storage.exists(f"{job.file.name}.checked")
    order_create(actor=manager, customer=buyers["A"], lines=[{"sku": "CF-001", "quantity": 1}], channel="online",
                 store=None, payment_method="cash", order_no="H-3")
    # when
    with translation.override("en"):
        job = order_import_run(actor=manager, job=job)
    # then: the order number taken meanwhile is reported and "all or nothing" writes nothing
    assert job.status == ImportStatus.FAILED
    assert [(e["row"], e["column"], e["message"]) for e in job.report["errors"]] == [
        (5, "订单号", "Order number H-3 exists already.")]
    assert Order.objects.count() == 1 and storage.exists(f"{job.file.name}.checked")
    # and a run again reuses the stored rows and asks the database again
    job = order_import_run(actor=manager, job=job)
    assert job.status == ImportStatus.FAILED and job.report["error_count"] == 1


# Files as Chinese shops export them


def test_traditional_headers_chinese_times_and_amounts_with_currency_are_read(manager, catalogue, buyers):
    # given: a Taiwanese export, separated by semicolons, with Excel's Chinese times and amounts in yuan
    text = ("訂單編號;客戶編號;支付時間;門店;支付方式;商品編碼;數量;單價;金額;實付金額\n"
            "T-1;T-A;2024/3/5 下午 3:04;1F-01;支付寶;CF-002;2;￥30;60元;RMB 60\n"
            "T-2;T-A;2024/3/5 上午 12:30;1F-01;現金;CF-002;1;¥30.00;30.00元;\n")
    # when
    job = check(manager, text)
    assert job.report["errors"] == [] and job.mapping["0"] == "order_no" and job.mapping["6"] == "quantity"
    order_import_run(actor=manager, job=job)
    # then
    tz = timezone.get_current_timezone()
    t1, t2 = Order.objects.get(order_no="T-1"), Order.objects.get(order_no="T-2")
    assert (t1.paid_at, t1.paid_amount, t1.payment_method) == (datetime(2024, 3, 5, 15, 4, tzinfo=tz),
                                                                Decimal("60.00"), "alipay")
    assert (t2.paid_at, t2.payment_method) == (datetime(2024, 3, 5, 0, 30, tzinfo=tz), "cash")


@pytest.mark.parametrize(("price", "amount"), [("6.63", "19.90"), ("6.633333333", "19.9"), ("6.633333333", ""),
                                               ("", "19.90")])
def test_a_line_of_three_for_19_90_keeps_its_amount_whatever_the_unit_price_was_rounded_to(
        manager, catalogue, buyers, price, amount):
    # given: three for ¥19.90, the unit price as the till printed it (rounded, or to Excel's precision)
    text = HEADER + f"R-1,T-A,,2025-03-08 14:20,1F-01,,,CF-001,3,{price},,{amount},\n"
    # when
    job = order_import_run(actor=manager, job=check(manager, text))
    # then
    assert job.report["errors"] == [] and job.order_count == 1
    line = OrderLine.objects.get()
    assert (line.quantity, line.unit_price, line.discount, line.amount) == (3, Decimal("6.64"), Decimal("0.02"),
                                                                            Decimal("19.90"))
    assert Order.objects.get().paid_amount == Decimal("19.90")


def test_a_unit_price_that_does_not_round_to_the_line_is_still_reported(manager, catalogue, buyers):
    with translation.override("en"):
        job = check(manager, HEADER + "R-1,T-A,,2025-03-08 14:20,1F-01,,,CF-001,3,6.5,,19.90,\n")
    assert [e["message"] for e in job.report["errors"]] == [
        "The line amount 19.90 is not quantity × unit price − discount (19.50)."]


def test_a_refund_row_refunds_the_stored_order_it_names_through_order_refund(manager, catalogue, buyers):
    # given: H-1 (2 × CF-001 at 28, 1 × CF-002 at 30) imported, then a file giving one CF-001 back
    order_import_run(actor=manager, job=check(manager, HEADER + GOOD))
    text = HEADER + "H-1,T-A,,2025-03-10 10:00,1F-01,,,CF-001,-1,,,-28,\n"
    # when: checked
    job = check(manager, text)
    # then: the refund would be accepted, and nothing is refunded yet
    assert job.report["errors"] == [] and job.report["good_refunds"] == 1
    assert not Refund.objects.exists() and Order.objects.get(order_no="H-1").refunded_amount == 0
    # when: imported
    job = order_import_run(actor=manager, job=job)
    # then
    order = Order.objects.get(order_no="H-1")
    refund = Refund.objects.get()
    assert (job.status, job.report["refunds"], refund.order, refund.amount) == (ImportStatus.IMPORTED, 1, order,
                                                                                Decimal("28.00"))
    assert (order.refunded_amount, order.status) == (Decimal("28.00"), "partly_refunded")
    assert order.lines.get(product__sku="CF-001").refunded_quantity == 1
    assert Event.objects.filter(type="order.refunded", customer=buyers["A"]).count() == 1
    assert AuditEntry.objects.filter(action="order.refund", via="import").count() == 1


def test_refund_rows_that_cannot_be_recorded_are_reported_and_write_nothing(manager, catalogue, buyers):
    # given: H-1 stored; refunds of more than was bought, of an unknown order, and of an order of the same file
    order_import_run(actor=manager, job=check(manager, HEADER + GOOD))
    text = HEADER + (
        "H-1,T-A,,2025-03-10 10:00,1F-01,,,CF-002,-2,,,,\n"
        "NOPE-1,T-A,,2025-03-10 10:00,1F-01,,,CF-001,-1,,,,\n"
        "N-1,T-A,,2025-03-10 10:00,1F-01,,,CF-001,1,,,,\n"
        "N-1,T-A,,2025-03-10 10:00,1F-01,,,CF-001,-1,,,,\n")
    # when
    with translation.override("en"):
        job = check(manager, text, mode="skip")
    # then
    errors = job.report["errors"]
    assert [e["row"] for e in errors] == [2, 3, 5]
    assert errors[0]["message"] == "Only 1 of 拿铁 are left to refund."
    assert [e["message"] for e in errors[1:]] == [
        "A refund row names a stored order: import order NOPE-1 first, then its refund.",
        "A refund row names a stored order: import order N-1 first, then its refund."]
    job = order_import_run(actor=manager, job=job)
    assert job.order_count == 1 and not Refund.objects.exists()


def three_sheet_workbook() -> bytes:
    """Return a workbook: an empty first sheet, orders on the second, other orders (other columns) on the third."""
    workbook = Workbook()
    workbook.active.title = "说明"
    second = workbook.create_sheet("三月")
    second.append(["订单号", "客户编号", "支付时间", "商品编码", "数量"])
    second.append(["M-1", "T-A", datetime(2025, 3, 8, 14, 20), "CF-002", 2])
    second.append(["M-2", "T-A", datetime(2025, 3, 9, 10, 0), "CF-002", 1])
    third = workbook.create_sheet("四月")
    third.append(["客户编号", "支付时间", "订单号", "商品编码", "数量", "单价"])
    third.append(["T-A", datetime(2025, 4, 1, 9, 30), "A-1", "CF-002", 3, 30])
    data = io.BytesIO()
    workbook.save(data)
    return data.getvalue()


def upload_workbook(client) -> OrderImport:
    response = client.post(reverse("sales:import_start"), {
        "file": SimpleUploadedFile("历史订单.xlsx", three_sheet_workbook())})
    assert response.status_code == 302
    return OrderImport.objects.get()


def post_check_and_run(client, job: OrderImport) -> None:
    url = reverse("sales:import_detail", args=[job.public_id])
    job.refresh_from_db()
    client.post(url, {"action": "validate", "mode": "all", **{f"map-{i}": f for i, f in job.mapping.items()}})
    client.post(url, {"action": "run"})


def test_order_import_page_offers_the_sheets_and_reads_the_first_with_data_by_default(client_for, manager,
                                                                                       catalogue, buyers):
    # given
    client = client_for(manager)
    # when
    job = upload_workbook(client)
    page = client.get(reverse("sales:import_detail", args=[job.public_id])).content.decode()
    post_check_and_run(client, job)
    # then
    assert (job.sheets, job.sheet, job.total_rows) == (["说明", "三月", "四月"], "三月", 2)
    assert '<option value="三月" selected>' in page and '<option value="四月">' in page
    job.refresh_from_db()
    assert job.status == ImportStatus.IMPORTED and job.order_count == 2
    assert sorted(Order.objects.values_list("order_no", flat=True)) == ["M-1", "M-2"]


def test_order_import_page_choosing_another_sheet_reads_its_columns_and_imports_its_rows(client_for, manager,
                                                                                        catalogue, buyers):
    # given: the default sheet already checked
    client = client_for(manager)
    job = upload_workbook(client)
    job = order_import_validate(actor=manager, job=job, mapping=job.mapping, mode="all")
    url = reverse("sales:import_detail", args=[job.public_id])
    # when
    response = client.post(url, {"action": "sheet", "sheet": "四月"})
    # then: the third sheet's columns, guessed again, to be checked again
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.sheet, job.total_rows, job.status, job.report) == ("四月", 1, ImportStatus.UPLOADED, {})
    assert job.mapping == {"0": "customer_number", "1": "paid_at", "2": "order_no", "3": "sku", "4": "quantity",
                           "5": "unit_price"}
    assert AuditEntry.objects.get(action="order.import_sheet").changes["sheet"] == ["三月", "四月"]
    assert '<option value="四月" selected>' in client.get(url).content.decode()
    # when it is checked and imported
    post_check_and_run(client, job)
    # then the third sheet's order, and only it, is stored
    job.refresh_from_db()
    assert job.status == ImportStatus.IMPORTED and job.order_count == 1
    order = Order.objects.get()
    assert (order.order_no, order.paid_amount) == ("A-1", Decimal("90.00"))


def test_order_import_page_refuses_a_sheet_not_in_the_workbook_with_a_message(client_for, manager, catalogue):
    # given
    client = client_for(manager)
    job = upload_workbook(client)
    url = reverse("sales:import_detail", args=[job.public_id])
    # when
    response = client.post(url, {"action": "sheet", "sheet": "五月"})
    # then: refused in the user's language; the job still reads the second sheet
    assert response.status_code == 400
    assert "该工作簿没有名为“五月”的工作表。" in response.content.decode()
    job.refresh_from_db()
    assert job.sheet == "三月" and job.mapping["0"] == "order_no"
    with pytest.raises(DomainError) as exc:
        order_import_sheet_choose(actor=manager, job=job, sheet="五月")
    assert (exc.value.code, exc.value.field) == ("no_sheet", "sheet")


# After a failed "all or nothing" run; order numbers already stored


BAD_ORDER = "B-1,T-A,,2025-03-08 10:00,1F-01,,,NOPE,1,,,,\n"  # row 6: unknown product


def test_a_run_after_a_failed_all_or_nothing_run_skips_the_bad_orders_when_asked(manager, catalogue, buyers):
    # given: "all or nothing" failed on row 6
    job = order_import_run(actor=manager, job=check(manager, HEADER + GOOD + BAD_ORDER))
    assert job.status == ImportStatus.FAILED and Order.objects.count() == 0
    assert job.file.storage.exists(f"{job.file.name}.checked")
    # when it is run again, skipping the bad rows, without a new check
    job = order_import_run(actor=manager, job=job, mode="skip")
    # then the good orders are stored and the bad row is reported as skipped
    assert (job.status, job.mode, job.order_count, job.error_rows) == (ImportStatus.IMPORTED, "skip", 3, 1)
    assert [e["row"] for e in job.report["errors"]] == [6]
    assert sorted(Order.objects.values_list("order_no", flat=True)) == ["H-1", "H-2", "H-3"]
    assert AuditEntry.objects.get(action="order.import").changes["mode"] == [None, "skip"]


def test_order_import_page_after_a_failed_run_imports_the_good_orders_in_the_mode_chosen(client_for, manager,
                                                                                        catalogue, buyers):
    # given
    client = client_for(manager)
    job = order_import_run(actor=manager, job=check(manager, HEADER + GOOD + BAD_ORDER))
    url = reverse("sales:import_detail", args=[job.public_id])
    assert 'id="import-run"' in client.get(url).content.decode()
    # when
    response = client.post(url, {"action": "run", "mode": "skip",
                                 **{f"map-{i}": f for i, f in job.mapping.items()}})
    # then
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.status, job.order_count) == (ImportStatus.IMPORTED, 3)


def test_an_order_number_already_stored_is_hinted_with_a_link_to_the_stored_order(client_for, manager, catalogue,
                                                                                 buyers):
    # given: H-3 stored by an earlier import
    order_import_run(actor=manager, job=check(manager, HEADER + GOOD))
    stored = Order.objects.get(order_no="H-3")
    # when a file with H-3 again and a new order is checked
    job = check(manager, HEADER + GOOD.splitlines(keepends=True)[3] + "H-9,T-A,,2025-07-02,,网店,银行卡,WF-102,1,,,,\n")
    # then
    assert [(h["row"], h["reason"], h["value"], h["order"]) for h in job.report["duplicate_hints"]] == [
        (2, "order_no", "H-3", stored.public_id)]
    assert job.report["duplicate_hint_count"] == 1
    page = client_for(manager).get(reverse("sales:import_detail", args=[job.public_id])).content.decode()
    assert 'id="import-hints"' in page and reverse("sales:order_detail", args=[stored.public_id]) in page
    assert "订单号相同" in page
