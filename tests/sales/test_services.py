"""Orders and refunds through the services: validation, what is written, idempotency, nothing half-written."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from fidelis.accounts.models import AuditEntry, Role
from fidelis.core.errors import Conflict, DomainError, NotFound, PermissionDenied
from fidelis.customers.dedupe import customers_merge
from fidelis.events.models import Event
from fidelis.events.services import record_event
from fidelis.sales.models import Order, OrderLine, OrderStatus, Product, Refund, RefundLine
from fidelis.sales.services import (
    category_save,
    money,
    order_create,
    order_refund,
    paid_event_key,
    product_save,
    store_save,
)
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _order(actor, customer, catalogue, lines=None, **kwargs):
    params = {"channel": "store", "store": catalogue["stores"]["1F-01"], "payment_method": "wechat_pay",
              "discount": "0"} | kwargs
    return order_create(actor=actor, customer=customer,
                        lines=lines if lines is not None else [{"sku": "CF-001", "quantity": 2},
                                                               {"sku": "WF-101", "quantity": 1, "discount": "100"}],
                        **params)


def _nothing_written():
    assert Order.objects.count() == 0 and OrderLine.objects.count() == 0
    assert not Event.objects.filter(type="order.paid").exists()
    assert not AuditEntry.objects.filter(action="order.create").exists()


def test_order_create_writes_order_lines_audit_and_the_paid_event(manager, catalogue, shopper):
    # when
    order = _order(manager, shopper, catalogue, discount="10", order_no="A-1001")
    # then
    order.refresh_from_db()
    assert (order.subtotal, order.discount, order.paid_amount) == (Decimal("1255.00"), Decimal("10.00"),
                                                                    Decimal("1245.00"))
    assert order.status == OrderStatus.PAID and order.refunded_amount == 0 and order.created_by == manager
    lines = list(order.lines.order_by("id"))
    assert [(line.product.sku, line.quantity, line.unit_price, line.discount, line.amount) for line in lines] == [
        ("CF-001", 2, Decimal("28.00"), Decimal("0.00"), Decimal("56.00")),
        ("WF-101", 1, Decimal("1299.00"), Decimal("100.00"), Decimal("1199.00"))]
    assert [line.category.name for line in lines] == ["咖啡", "女装"]
    assert AuditEntry.objects.filter(action="order.create", object_id=order.public_id, actor=manager).count() == 1
    event = Event.objects.get(type="order.paid", customer=shopper)
    assert event.idempotency_key == paid_event_key(order) and event.occurred_at == order.paid_at
    assert event.channel == "store" and event.touchpoint == "悦享咖啡"
    payload = event.payload
    assert {k: payload[k] for k in ("order_no", "amount", "currency", "store", "channel", "categories")} == {
        "order_no": "A-1001", "amount": "1245.00", "currency": "CNY", "store": "1F-01", "channel": "store",
        "categories": ["咖啡", "女装"]}
    assert payload["lines"] == [{"sku": "CF-001", "category": "咖啡", "quantity": 2, "amount": "56.00"},
                                {"sku": "WF-101", "category": "女装", "quantity": 1, "amount": "1199.00"}]


def test_order_create_gives_a_number_and_takes_the_historical_time(manager, catalogue, shopper):
    # given
    paid_at = timezone.now() - timedelta(days=400)
    # when
    order = _order(manager, shopper, catalogue, paid_at=paid_at)
    # then
    assert order.order_no.startswith("S" + timezone.localtime(paid_at).strftime("%Y%m%d"))
    assert Event.objects.get(type="order.paid").occurred_at == paid_at


@pytest.mark.parametrize(("line", "field", "code"), [
    ({"sku": "CF-001", "quantity": -1}, "lines.0.quantity", "invalid_quantity"),
    ({"sku": "CF-001", "quantity": 0}, "lines.0.quantity", "invalid_quantity"),
    ({"sku": "CF-001", "quantity": "1.5"}, "lines.0.quantity", "invalid_quantity"),
    ({"sku": "CF-001", "quantity": "two"}, "lines.0.quantity", "invalid_quantity"),
    ({"sku": "NO-SUCH", "quantity": 1}, "lines.0.sku", "unknown_product"),
    ({"sku": "", "quantity": 1}, "lines.0.sku", "required"),
    ({"sku": "CF-001", "quantity": 1, "unit_price": "-3"}, "lines.0.unit_price", "invalid_amount"),
    ({"sku": "CF-001", "quantity": 1, "unit_price": "abc"}, "lines.0.unit_price", "invalid_amount"),
    ({"sku": "CF-001", "quantity": 1, "discount": "29"}, "lines.0.discount", "invalid_amount"),
    ({"sku": "CF-001", "quantity": 1, "colour": "red"}, "lines.0.colour", "unknown_field"),
])
def test_order_create_with_a_bad_line_is_refused_naming_the_field_and_writes_nothing(manager, catalogue, shopper,
                                                                                  line, field, code):
    # when
    with pytest.raises(DomainError) as refused:
        _order(manager, shopper, catalogue, lines=[line])
    # then
    assert (refused.value.field, refused.value.code) == (field, code)
    _nothing_written()


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"discount": "-1"}, "discount"),
    ({"discount": "100"}, "discount"),  # more than the subtotal of 56
    ({"channel": "fax"}, "channel"),
    ({"payment_method": "shells"}, "payment_method"),
    ({"store": None}, "store"),
    ({"store": "9F-99"}, "store"),
    ({"order_no": "A 1"}, "order_no"),
    ({"paid_at": timezone.now() + timedelta(days=2)}, "paid_at"),
])
def test_order_create_with_bad_order_values_is_refused_naming_the_field(manager, catalogue, shopper, kwargs, field):
    with pytest.raises(DomainError) as refused:
        _order(manager, shopper, catalogue, lines=[{"sku": "CF-001", "quantity": 2}], **kwargs)
    assert refused.value.field == field
    _nothing_written()


def test_order_create_refuses_an_empty_order_an_inactive_product_and_a_closed_store(manager, catalogue, shopper):
    with pytest.raises(DomainError) as empty:
        _order(manager, shopper, catalogue, lines=[])
    product_save(actor=manager, product=catalogue["products"]["CF-002"], data={"is_active": False})
    with pytest.raises(DomainError) as inactive:
        _order(manager, shopper, catalogue, lines=[{"sku": "cf-002", "quantity": 1}])
    store_save(actor=manager, store=catalogue["stores"]["1F-01"], data={"is_active": False})
    with pytest.raises(DomainError) as closed:
        _order(manager, shopper, catalogue, lines=[{"sku": "CF-001", "quantity": 1}])
    assert [e.value.code for e in (empty, inactive, closed)] == ["required", "inactive_product", "inactive_store"]
    _nothing_written()


def test_order_create_online_needs_no_store(manager, catalogue, shopper):
    order = _order(manager, shopper, catalogue, channel="online", store=None, lines=[{"sku": "CF-001", "quantity": 1}])
    assert order.store is None and Event.objects.get(type="order.paid").payload["store"] == ""


def test_order_create_twice_with_the_same_idempotency_key_gives_one_order_and_one_event(manager, catalogue, shopper):
    # when
    first = _order(manager, shopper, catalogue, idempotency_key="till-3:0001")
    again = _order(manager, shopper, catalogue, idempotency_key="till-3:0001")
    # then
    assert (first.created, again.created) == (True, False) and again.pk == first.pk
    assert Order.objects.count() == 1 and OrderLine.objects.count() == 2
    assert Event.objects.filter(type="order.paid").count() == 1
    assert AuditEntry.objects.filter(action="order.create").count() == 1


def test_order_create_same_key_for_another_customer_is_a_conflict(manager, catalogue, shopper):
    _order(manager, shopper, catalogue, idempotency_key="k-1")
    with pytest.raises(Conflict):
        _order(manager, CustomerFactory(name="李四"), catalogue, idempotency_key="k-1")
    assert Order.objects.count() == 1


def test_order_create_with_a_taken_order_number_is_refused(manager, catalogue, shopper):
    _order(manager, shopper, catalogue, order_no="A-1")
    with pytest.raises(DomainError) as refused:
        _order(manager, shopper, catalogue, order_no="A-1")
    assert (refused.value.field, refused.value.code) == ("order_no", "duplicate_order_no")
    assert Order.objects.count() == 1


def test_order_create_failing_after_the_order_was_written_leaves_nothing_behind(manager, catalogue, shopper):
    # given: the event key of order A-9 is taken by another customer's event, so recording the event fails
    # after the order and its lines were written
    other = CustomerFactory(name="赵六")
    record_event(customer=other, type="order.paid", payload={"amount": "1"},
                 idempotency_key=paid_event_key(Order(order_no="A-9")))
    # when
    with pytest.raises(DomainError) as refused:
        _order(manager, shopper, catalogue, order_no="A-9")
    # then
    assert refused.value.code == "idempotency_conflict"
    assert Order.objects.count() == 0 and OrderLine.objects.count() == 0
    assert not AuditEntry.objects.filter(action="order.create").exists()
    assert Event.objects.filter(type="order.paid").count() == 1


def test_order_create_respects_roles_and_the_sales_reps_customers(users, catalogue):
    # given
    rep, other_rep = users[Role.SALES], users[Role.SALES].__class__.objects.create(username="rep2", role=Role.SALES)
    theirs = CustomerFactory(name="钱七", owner=other_rep)
    mine = CustomerFactory(name="孙八", owner=rep)
    # then
    with pytest.raises(NotFound):
        _order(rep, theirs, catalogue)
    with pytest.raises(PermissionDenied):
        _order(users[Role.READONLY], mine, catalogue)
    with pytest.raises(PermissionDenied):
        _order(users[Role.MARKETING], mine, catalogue)
    assert _order(rep, mine, catalogue).created_by == rep
    assert Order.objects.count() == 1


def test_order_refund_partial_then_the_rest_then_too_much(manager, catalogue, shopper):
    # given
    order = _order(manager, shopper, catalogue, order_no="R-1")  # paid 1255.00
    # when: a partial refund
    first = order_refund(actor=manager, order=order, amount="255.00", reason="尺码不合适")
    order.refresh_from_db()
    # then
    assert (order.refunded_amount, order.status) == (Decimal("255.00"), OrderStatus.PARTLY_REFUNDED)
    event = Event.objects.get(type="order.refunded")
    assert event.payload["order_no"] == "R-1" and event.payload["amount"] == "255.00"
    assert event.payload["refunded_total"] == "255.00"
    # when: more than what is left
    with pytest.raises(DomainError) as refused:
        order_refund(actor=manager, order=order, amount="1000.01", reason="多退")
    # then
    assert (refused.value.field, refused.value.code) == ("amount", "refund_too_large")
    order.refresh_from_db()
    assert order.refunded_amount == Decimal("255.00") and Refund.objects.count() == 1
    assert Event.objects.filter(type="order.refunded").count() == 1
    # when: the rest
    order_refund(actor=manager, order=order, amount="1000.00", reason="整单退货")
    order.refresh_from_db()
    assert (order.refunded_amount, order.status) == (Decimal("1255.00"), OrderStatus.REFUNDED)
    with pytest.raises(DomainError):
        order_refund(actor=manager, order=order, amount="0.01", reason="再退")
    assert first.created and AuditEntry.objects.filter(action="order.refund").count() == 2


@pytest.mark.parametrize(("amount", "reason", "field"), [
    ("0", "x", "amount"), ("-5", "x", "amount"), ("abc", "x", "amount"), ("10", " ", "reason"), (None, "x", "amount"),
])
def test_order_refund_bad_input_is_refused_and_writes_nothing(manager, catalogue, shopper, amount, reason, field):
    order = _order(manager, shopper, catalogue)
    with pytest.raises(DomainError) as refused:
        order_refund(actor=manager, order=order, amount=amount, reason=reason)
    assert refused.value.field == field
    assert Refund.objects.count() == 0 and not Event.objects.filter(type="order.refunded").exists()


def test_order_refund_of_lines_computes_their_paid_share_and_counts_the_quantities(manager, catalogue, shopper):
    # given: 2 coffees (56) and a dress (1199) with an order discount of 125.50: paid 1129.50 of 1255
    order = _order(manager, shopper, catalogue, discount="125.50")
    coffee = order.lines.get(product__sku="CF-001")
    # when
    refund = order_refund(actor=manager, order=order, amount=None, reason="咖啡洒了",
                          lines=[{"line": coffee.pk, "quantity": 1}])
    # then: half the coffee line, less its part of the order discount: 28 × 1129.50 / 1255 = 25.20
    assert refund.amount == Decimal("25.20")
    coffee.refresh_from_db()
    assert coffee.refunded_quantity == 1
    assert list(RefundLine.objects.values_list("line_id", "quantity")) == [(coffee.pk, 1)]
    assert Event.objects.get(type="order.refunded").payload["lines"] == [
        {"sku": "CF-001", "category": "咖啡", "quantity": 1}]
    with pytest.raises(DomainError) as refused:
        order_refund(actor=manager, order=order, amount="1", reason="再退", lines=[{"sku": "CF-001", "quantity": 2}])
    assert (refused.value.field, refused.value.code) == ("lines.0.quantity", "refund_too_large")


def test_order_refund_twice_with_the_same_key_refunds_once(manager, catalogue, shopper):
    order = _order(manager, shopper, catalogue)
    first = order_refund(actor=manager, order=order, amount="50", reason="退差价", idempotency_key="r-1")
    again = order_refund(actor=manager, order=order, amount="50", reason="退差价", idempotency_key="r-1")
    order.refresh_from_db()
    assert again.pk == first.pk and not again.created
    assert order.refunded_amount == Decimal("50.00") and Refund.objects.count() == 1
    assert Event.objects.filter(type="order.refunded").count() == 1


def test_catalogue_saves_validate_and_audit(manager, users, catalogue):
    with pytest.raises(DomainError) as taken:
        product_save(actor=manager, data={"sku": "cf-001", "name": "又一杯", "category": catalogue["categories"]["咖啡"],
                                          "list_price": "10"})
    with pytest.raises(DomainError) as negative:
        product_save(actor=manager, data={"sku": "CF-009", "name": "负价", "category": catalogue["categories"]["咖啡"],
                                          "list_price": "-1"})
    with pytest.raises(DomainError) as cycle:
        category_save(actor=manager, category=catalogue["categories"]["餐饮"],
                      data={"parent": catalogue["categories"]["咖啡"]})
    with pytest.raises(PermissionDenied):
        store_save(actor=users[Role.SALES], data={"code": "3F-01", "name": "书香阁"})
    assert (taken.value.field, negative.value.field, cycle.value.field) == ("sku", "list_price", "parent")
    product = product_save(actor=manager, product=catalogue["products"]["CF-001"], data={"list_price": "30"})
    assert Product.objects.get(pk=product.pk).list_price == Decimal("30.00")
    entry = AuditEntry.objects.filter(action="product.update").get()
    assert entry.changes == {"list_price": ["28.00", "30.00"]}


def test_money_rounds_half_up_and_refuses_what_is_not_an_amount():
    assert money("12.345", field="x") == Decimal("12.35") and money("¥1,299", field="x") == Decimal("1299.00")
    assert money(0.1, field="x") == Decimal("0.10")
    for bad in ("", None, "NaN", "1e20", "-0.01"):
        with pytest.raises(DomainError):
            money(bad, field="x")


def test_merging_customers_moves_their_orders(manager, catalogue, shopper):
    other = CustomerFactory(name="王芳", phone="+8613912345679")
    order = _order(manager, other, catalogue)
    record = customers_merge(actor=manager, keep=shopper, absorb=other)
    order.refresh_from_db()
    assert order.customer == shopper and record.moved["orders"] == [order.order_no]
