"""Products and orders through the HTTP API: idempotency, errors naming the field, 404 for others' orders."""

import json
from decimal import Decimal

import pytest

from fidelis.accounts.models import Role
from fidelis.accounts.services import api_token_create
from fidelis.events.models import Event
from fidelis.sales.errors import SalesCode
from fidelis.sales.models import Order, OrderLine, Product, Refund
from fidelis.sales.services import order_create
from tests.factories import CustomerFactory, UserFactory
from tests.threads import at_once

pytestmark = pytest.mark.django_db

SCOPES = ["sales:read", "sales:write"]


def _auth(manager, user, scopes=SCOPES):
    _token, raw = api_token_create(actor=manager, user=user, name="POS", scopes=scopes)
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.fixture
def pos(manager, users):
    return _auth(manager, users[Role.SERVICE])


def _call(client, auth, method, path, body=None, **headers):
    response = client.generic(method, "/api/sales" + path, data=json.dumps(body) if body is not None else "",
                              content_type="application/json", **auth, **headers)
    return response, response.json()


ORDER = {"phone": "139 1234 5678", "store": "1f-01", "payment_method": "alipay", "discount": "6",
         "lines": [{"sku": "CF-001", "quantity": 2}, {"sku": "CF-002", "quantity": 1, "unit_price": "30"}]}


def test_post_order_answers_the_order_with_lines_and_the_same_key_gives_it_back(client, pos, catalogue, shopper):
    # when
    response, order = _call(client, pos, "POST", "/orders", ORDER, HTTP_IDEMPOTENCY_KEY="till-1:0001")
    again, same = _call(client, pos, "POST", "/orders", ORDER, HTTP_IDEMPOTENCY_KEY="till-1:0001")
    # then
    assert (response.status_code, again.status_code) == (201, 201) and again["Idempotent-Replayed"] == "true"
    assert same == order and order["created"] is True
    assert order["customer"] == shopper.public_id and order["store"] == "1F-01"
    assert (order["subtotal"], order["discount"], order["paid_amount"]) == ("86.00", "6.00", "80.00")
    assert [(line["sku"], line["quantity"], line["amount"]) for line in order["lines"]] == [
        ("CF-001", 2, "56.00"), ("CF-002", 1, "30.00")]
    assert Order.objects.count() == 1 and OrderLine.objects.count() == 2
    assert Event.objects.filter(type="order.paid", customer=shopper).count() == 1
    # read back
    response, detail = _call(client, pos, "GET", f"/orders/{order['order_no']}")
    assert response.status_code == 200 and detail["paid_amount"] == "80.00" and detail["refunds"] == []


@pytest.mark.parametrize(("change", "status", "field"), [
    ({"lines": [{"sku": "CF-001", "quantity": -2}]}, 400, "lines.0.quantity"),
    ({"lines": [{"sku": "NOPE", "quantity": 1}]}, 400, "lines.0.sku"),
    ({"lines": []}, 422, "lines"),
    ({"discount": "999"}, 400, "discount"),
    ({"store": "9F-99"}, 400, "store"),
    ({"colour": "red"}, 422, "colour"),
    ({"lines": [{"sku": "CF-001", "quantity": 1, "gift": True}]}, 422, "lines.gift"),
    ({"phone": "13800000000"}, 404, "phone"),
])
def test_post_order_with_bad_input_names_the_field_and_writes_nothing(client, pos, catalogue, shopper, change, status,
                                                                      field):
    response, body = _call(client, pos, "POST", "/orders", ORDER | change)
    assert response.status_code == status, body
    assert body["field"] == field and body["message"]
    assert Order.objects.count() == 0 and not Event.objects.filter(type="order.paid").exists()


@pytest.mark.parametrize(("change", "field", "code"), [
    ({"order_no": "A 1"}, "order_no", SalesCode.INVALID_ORDER_NO),
    ({"paid_at": "2099-01-01T08:00:00+08:00"}, "paid_at", SalesCode.PAID_IN_FUTURE),
    ({"channel": "fax"}, "channel", SalesCode.INVALID_CHANNEL),
])
def test_post_order_refusal_carries_the_code_of_its_meaning_as_text(client, pos, catalogue, shopper, change, field,
                                                                    code):
    response, body = _call(client, pos, "POST", "/orders", ORDER | change)
    assert response.status_code == 400, body
    assert (body["field"], body["code"]) == (field, code.value) and isinstance(body["code"], str)
    assert Order.objects.count() == 0


def test_errors_are_translated_by_accept_language(client, pos, catalogue, shopper):
    _r, english = _call(client, pos, "POST", "/orders", ORDER | {"lines": [{"sku": "NOPE", "quantity": 1}]},
                        HTTP_ACCEPT_LANGUAGE="en")
    assert english["message"] == "There is no product with SKU NOPE."


def test_refund_through_the_api_is_idempotent_and_refuses_too_much(client, pos, catalogue, shopper):
    # given
    _r, order = _call(client, pos, "POST", "/orders", ORDER)
    path = f"/orders/{order['order_no']}/refunds"
    # when
    first, refund = _call(client, pos, "POST", path, {"amount": "30", "reason": "退一杯"}, HTTP_IDEMPOTENCY_KEY="r-1")
    again, _same = _call(client, pos, "POST", path, {"amount": "30", "reason": "退一杯"}, HTTP_IDEMPOTENCY_KEY="r-1")
    too_much, error = _call(client, pos, "POST", path, {"amount": "50.01", "reason": "多退"})
    by_line, line_refund = _call(client, pos, "POST", path, {"reason": "退美式",
                                                              "lines": [{"sku": "CF-001", "quantity": 1}]})
    # then
    assert (first.status_code, again.status_code, too_much.status_code, by_line.status_code) == (201, 201, 400, 201)
    assert refund["order"]["status"] == "partly_refunded" and refund["order"]["refunded_amount"] == "30.00"
    assert (error["field"], error["code"]) == ("amount", "refund_too_large")
    # 28 of 86 at a paid ratio of 80/86: 26.05
    assert line_refund["refund"]["amount"] == "26.05" and line_refund["refund"]["lines"][0]["quantity"] == 1
    assert Refund.objects.count() == 2 and Event.objects.filter(type="order.refunded").count() == 2


def test_orders_of_customers_a_sales_rep_may_not_see_answer_404(client, manager, users, catalogue):
    # given: an order of another rep's customer
    other_rep = UserFactory(username="rep2", role=Role.SALES)
    theirs = CustomerFactory(name="钱七", phone="+8613700001111", owner=other_rep)
    order = order_create(actor=manager, customer=theirs, lines=[{"sku": "CF-001", "quantity": 1}], channel="store",
                         store="1F-01", payment_method="cash", order_no="X-1")
    rep = _auth(manager, users[Role.SALES])
    # then
    assert _call(client, rep, "GET", "/orders/X-1")[0].status_code == 404
    assert _call(client, rep, "POST", "/orders/X-1/refunds", {"amount": "1", "reason": "x"})[0].status_code == 404
    assert _call(client, rep, "GET", "/orders")[1] == []
    response, body = _call(client, rep, "POST", "/orders", ORDER | {"phone": "137 0000 1111"})
    assert response.status_code == 404 and body["field"] == "phone"
    assert _call(client, _auth(manager, other_rep), "GET", "/orders")[1][0]["order_no"] == order.order_no


def test_order_list_filters(client, pos, manager, catalogue, shopper):
    # given
    for no, store, channel in (("F-1", "1F-01", "store"), ("F-2", "2F-01", "store"), ("F-3", None, "online")):
        order_create(actor=manager, customer=shopper, lines=[{"sku": "CF-001", "quantity": 1}], channel=channel,
                     store=store, payment_method="cash", order_no=no)
    # then
    def numbers(query):
        return [o["order_no"] for o in _call(client, pos, "GET", "/orders?" + query)[1]]

    assert numbers("store=2f-01") == ["F-2"]
    assert numbers("channel=online") == ["F-3"]
    assert sorted(numbers(f"customer={shopper.public_id}")) == ["F-1", "F-2", "F-3"]
    assert numbers("q=F-1") == ["F-1"]
    assert numbers("date_from=2000-01-01&date_to=2000-12-31") == []
    assert len(numbers("limit=2")) == 2
    assert _call(client, pos, "GET", "/orders?limit=0")[0].status_code == 422


def test_products_read_and_add(client, manager, users, catalogue):
    marketing = _auth(manager, users[Role.MARKETING])
    _r, products = _call(client, marketing, "GET", "/products?category=咖啡")
    assert [p["sku"] for p in products] == ["CF-001", "CF-002"] and products[0]["category_path"] == "餐饮 / 咖啡"
    response, created = _call(client, marketing, "POST", "/products",
                              {"sku": "cf-003", "name": "摩卡", "category": "咖啡", "list_price": "34.5"})
    assert response.status_code == 201 and created["sku"] == "CF-003" and created["list_price"] == "34.50"
    response, error = _call(client, marketing, "POST", "/products",
                            {"sku": "CF-003", "name": "摩卡", "category": "咖啡", "list_price": "34.5"})
    assert response.status_code == 400 and error["field"] == "sku"
    response, error = _call(client, marketing, "POST", "/products",
                            {"sku": "CF-004", "name": "x", "category": "咖啡", "list_price": "-1"})
    assert response.status_code == 400 and error["field"] == "list_price"
    sales = _auth(manager, users[Role.SALES])
    assert _call(client, sales, "POST", "/products", {"sku": "CF-005", "name": "x", "category": "咖啡",
                                                      "list_price": "1"})[0].status_code == 403
    assert Product.objects.get(sku="CF-003").list_price == Decimal("34.50")


def test_a_token_without_the_sales_scope_is_refused(client, manager, users, catalogue):
    token = _auth(manager, users[Role.MANAGER], scopes=["customers:read"])
    response, body = _call(client, token, "GET", "/orders")
    assert response.status_code == 403 and body["code"] == "missing_scope"


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_retries_of_an_order_make_one_order_and_twenty_equal_answers(pos, catalogue, shopper):
    from django.db import connection
    from django.test import Client

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")
    body = json.dumps(ORDER | {"order_no": "TILL-20"})
    answers = at_once(20, lambda i: Client().post("/api/sales/orders", data=body, content_type="application/json",
                                                  **pos, HTTP_IDEMPOTENCY_KEY="till-9:20"))
    assert [a.status_code for a in answers] == [201] * 20
    assert len({a.content for a in answers}) == 1
    assert Order.objects.filter(order_no="TILL-20").count() == 1
    assert Event.objects.filter(type="order.paid", payload__order_no="TILL-20").count() == 1

