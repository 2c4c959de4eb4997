"""A till's sale and refund (`POST /api/loyalty/orders`, `/refunds`) are orders like any other: one order, one
event, one audit row, in the sales reports, refundable from the order page."""

import json
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from fidelis.accounts.models import AuditEntry, Role
from fidelis.accounts.services import api_token_create
from fidelis.events.models import Event
from fidelis.loyalty.ledger import ledger_check
from fidelis.loyalty.models import AppliedEvent, Purchase
from fidelis.sales.models import Order, OrderChannel, OrderStatus, Refund
from fidelis.sales.reports import ReportQuery, sales_report
from fidelis.sales.services import TILL_SKU, order_refund, paid_event_key, store_save
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def pos(manager):
    desk = UserFactory(username="till", role=Role.SERVICE)
    _token, raw = api_token_create(actor=manager, user=desk, name="till",
                                   scopes=["loyalty:read", "loyalty:write", "events:write"])
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.fixture
def store(manager):
    return store_save(actor=manager, data={"code": "1F-01", "name": "悦享咖啡"})


def _post(auth, path, body, capture):
    with capture(execute=True):  # the handlers that run after the commit run too
        response = Client().post("/api/loyalty" + path, data=json.dumps(body), content_type="application/json",
                                 **auth)
    return response, response.json()


def test_a_pos_sale_is_one_order_with_a_summary_line_one_event_and_one_audit_row(
        pos, member, store, django_capture_on_commit_callbacks):
    start = member.balance
    # when: the till sends a sale without lines, naming its store by code (in lower case)
    response, body = _post(pos, "/orders", {"member": member.number, "order_no": "POS-1", "amount": "328.50",
                                            "store": "1f-01"}, django_capture_on_commit_callbacks)
    # then: an order of the member's customer at that store, with one summary line of the paid amount
    assert response.status_code == 201 and body["created"] is True and body["points"] == 328
    order = Order.objects.get(order_no="POS-1")
    assert (order.customer_id, order.store, order.channel, order.paid_amount, order.status) == (
        member.customer_id, store, OrderChannel.STORE, Decimal("328.50"), OrderStatus.PAID)
    [line] = order.lines.select_related("product")
    assert (line.product.sku, line.quantity, line.amount) == (TILL_SKU, 1, Decimal("328.50"))
    # and one order.paid event (the one the answer names), one audit row, points applied once
    event = Event.objects.get(type="order.paid", customer=member.customer)
    assert event.idempotency_key == paid_event_key(order) and event.public_id == body["event"]
    assert event.payload["store"] == "1F-01" and event.payload["order_no"] == "POS-1"
    assert AuditEntry.objects.filter(action="order.create").count() == 1
    assert AppliedEvent.objects.filter(event=event).count() == 1
    assert Purchase.objects.get(member=member, order_ref="POS-1").points == 328
    # when: the till sends it again
    again, same = _post(pos, "/orders", {"member": member.number, "order_no": "POS-1", "amount": "328.50"},
                        django_capture_on_commit_callbacks)
    # then: the first sale answers; nothing more is written
    assert again.status_code == 200 and same["event"] == body["event"] and same["balance"] == body["balance"]
    assert Order.objects.count() == 1 and Event.objects.filter(type="order.paid").count() == 1
    assert AuditEntry.objects.filter(action="order.create").count() == 1
    member.refresh_from_db()
    assert member.balance == start + 328 and ledger_check(member)["entries"] == member.balance


def test_a_pos_sale_is_in_the_sales_report_of_its_store_and_day(
        pos, member, store, manager, django_capture_on_commit_callbacks):
    _post(pos, "/orders", {"member": member.number, "order_no": "POS-2", "amount": "120", "store": "1F-01"},
          django_capture_on_commit_callbacks)
    _post(pos, "/orders", {"member": member.number, "order_no": "POS-3", "amount": "80", "store": "1F 化妆品"},
          django_capture_on_commit_callbacks)
    today = timezone.localdate().isoformat()
    query = {"start": today, "end": today, "period": "day"}
    by_store = sales_report(user=manager, query=ReportQuery.parse({**query, "dimension": "store"}))
    rows = {row.label: (row.total, row.count) for row in by_store.rows}
    assert rows["1F-01 悦享咖啡"] == (Decimal("120.00"), 1)
    # a store the catalogue does not know: the sale counts without a store, its place kept on the event
    assert by_store.total == Decimal("200.00") and by_store.count == 2
    assert Order.objects.get(order_no="POS-3").store is None
    assert Event.objects.get(payload__order_no="POS-3").touchpoint == "1F 化妆品"


def test_a_pos_order_is_refunded_from_the_order_page_and_its_points_come_back(
        pos, member, store, manager, django_capture_on_commit_callbacks):
    start = member.balance
    _post(pos, "/orders", {"member": member.number, "order_no": "POS-4", "amount": "1000", "store": "1F-01"},
          django_capture_on_commit_callbacks)
    order = Order.objects.get(order_no="POS-4")
    # when: a manager refunds part of it on the order page
    with django_capture_on_commit_callbacks(execute=True):
        refund = order_refund(actor=manager, order=order, amount="400", reason="退货")
    # then: the order is partly refunded and the points of that share are taken back
    order.refresh_from_db()
    assert refund.created and order.status == OrderStatus.PARTLY_REFUNDED
    assert Purchase.objects.get(member=member, order_ref="POS-4").points_clawed == 400
    # and the till refunds the rest; more than that is refused and writes nothing
    response, body = _post(pos, "/refunds", {"member": member.number, "order_no": "POS-4", "amount": "600",
                                             "refund_no": "R-1"}, django_capture_on_commit_callbacks)
    assert response.status_code == 201 and body["waiting"] is False
    response, body = _post(pos, "/refunds", {"member": member.number, "order_no": "POS-4", "amount": "1",
                                             "refund_no": "R-2"}, django_capture_on_commit_callbacks)
    assert response.status_code == 400 and body["code"] == "refund_too_large"
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED and Refund.objects.filter(order=order).count() == 2
    assert AuditEntry.objects.filter(action="order.refund").count() == 2
    member.refresh_from_db()
    assert member.balance == start and ledger_check(member)["entries"] == start


def test_an_order_number_of_another_member_is_refused_for_sale_and_refund(
        pos, member, program, manager, django_capture_on_commit_callbacks):
    from fidelis.loyalty.services import member_enrol

    other, _new = member_enrol(actor=manager, program=program, customer=CustomerFactory(phone="+8613700137000"))
    _post(pos, "/orders", {"member": member.number, "order_no": "POS-5", "amount": "50"},
          django_capture_on_commit_callbacks)
    sale, body = _post(pos, "/orders", {"member": other.number, "order_no": "POS-5", "amount": "50"},
                       django_capture_on_commit_callbacks)
    assert sale.status_code == 409 and body["code"] == "order_conflict"
    refund, body = _post(pos, "/refunds", {"member": other.number, "order_no": "POS-5", "amount": "50"},
                         django_capture_on_commit_callbacks)
    assert refund.status_code == 409 and body["code"] == "order_conflict"
    assert Order.objects.count() == 1 and not Refund.objects.exists()


def test_a_refund_replayed_with_another_amount_is_refused(pos, member, django_capture_on_commit_callbacks):
    _post(pos, "/orders", {"member": member.number, "order_no": "POS-6", "amount": "300"},
          django_capture_on_commit_callbacks)
    body = {"member": member.number, "order_no": "POS-6", "amount": "100", "refund_no": "R-9"}
    first, _one = _post(pos, "/refunds", body, django_capture_on_commit_callbacks)
    again, answer = _post(pos, "/refunds", {**body, "amount": "150"}, django_capture_on_commit_callbacks)
    assert (first.status_code, again.status_code) == (201, 409) and answer["code"] == "order_conflict"
    assert Refund.objects.get().amount == Decimal("100.00")
