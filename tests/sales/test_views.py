"""The sales pages: catalogue, orders list and detail, the new-order form with its htmx parts, refunds, the panel."""

from decimal import Decimal

import pytest
from django.urls import reverse

from fidelis.accounts.models import Role
from fidelis.events.models import Event
from fidelis.sales.models import Order, OrderStatus, Product, ProductCategory, Store
from fidelis.sales.services import order_create
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


def _sell(actor, customer, order_no="V-1", sku="WF-102", quantity=1, store="2F-01"):
    return order_create(actor=actor, customer=customer, lines=[{"sku": sku, "quantity": quantity}], channel="store",
                        store=store, payment_method="wechat_pay", order_no=order_no)


@pytest.mark.parametrize(("role", "orders", "new_order", "products", "imports"), [
    (Role.READONLY, 200, 403, 403, 403),
    (Role.SALES, 200, 200, 403, 403),
    (Role.MARKETING, 200, 403, 200, 200),
    (Role.SERVICE, 200, 200, 403, 403),
    (Role.MANAGER, 200, 200, 200, 200),
])
def test_each_role_reaches_the_sales_pages_its_capabilities_allow(client_for, users, catalogue, shopper, role, orders,
                                                                   new_order, products, imports):
    # given
    order = _sell(users[Role.MANAGER], shopper)
    client = client_for(users[role])
    # then
    assert client.get(reverse("sales:orders")).status_code == orders
    assert client.get(reverse("sales:order_detail", args=[order.public_id])).status_code == orders
    assert client.get(reverse("sales:order_create")).status_code == new_order
    assert client.get(reverse("sales:product_list")).status_code == products
    assert client.get(reverse("sales:import_start")).status_code == imports
    refund = client.get(reverse("sales:order_refund", args=[order.public_id])).status_code
    assert refund == (200 if role in (Role.SALES, Role.SERVICE, Role.MANAGER) else 403)
    body = client.get(reverse("sales:orders")).content.decode()
    assert order.order_no in body and ('id="order-new"' in body) == (new_order == 200)


def test_orders_of_another_reps_customers_are_hidden_and_answer_404(client_for, users, catalogue):
    # given
    rep = users[Role.SALES]
    other = UserFactory(username="rep2", role=Role.SALES)
    theirs = _sell(users[Role.MANAGER], CustomerFactory(name="钱七", owner=other), order_no="V-THEIRS")
    mine = _sell(users[Role.MANAGER], CustomerFactory(name="孙八", owner=rep), order_no="V-MINE")
    client = client_for(rep)
    # when
    body = client.get(reverse("sales:orders")).content.decode()
    # then
    assert "V-MINE" in body and "V-THEIRS" not in body
    assert client.get(reverse("sales:order_detail", args=[theirs.public_id])).status_code == 404
    assert client.get(reverse("sales:order_refund", args=[theirs.public_id])).status_code == 404
    assert client.get(reverse("customers:panels", args=[theirs.customer.public_id])).status_code == 404
    assert client.get(reverse("sales:order_detail", args=[mine.public_id])).status_code == 200


def test_order_list_filters_and_totals(client_for, manager, catalogue, shopper):
    _sell(manager, shopper, order_no="L-1", sku="CF-001", store="1F-01")
    _sell(manager, shopper, order_no="L-2", sku="WF-102", quantity=2)
    client = client_for(manager)
    response = client.get(reverse("sales:orders"), {"store": "1f-01"})
    assert [o.order_no for o in response.context["orders"]] == ["L-1"]
    assert response.context["totals"]["paid"] == Decimal("28.00")
    response = client.get(reverse("sales:orders"), {"q": "L-2", "date_from": "2000-01-01", "status": "paid"})
    assert [o.order_no for o in response.context["orders"]] == ["L-2"]
    response = client.get(reverse("sales:orders"), {"date_to": "2000-01-01", "date_from": "not a date"})
    assert list(response.context["orders"]) == []


def test_new_order_form_records_the_order_and_shows_it(client_for, sales, catalogue, shopper):
    # given
    client = client_for(sales)
    form = client.get(reverse("sales:order_create"), {"customer": shopper.public_id}).content.decode()
    assert shopper.name in form and 'name="line-0-sku"' in form
    # when: two lines, one of them added by htmx as row 1
    response = client.post(reverse("sales:order_create"), {
        "customer": shopper.public_id, "channel": "store", "store": "2F-01", "payment_method": "alipay",
        "discount": "9.50", "line-0-sku": "WF-102", "line-0-quantity": "1", "line-1-sku": "CF-001",
        "line-1-quantity": "2", "line-1-discount": "6", "line-2-sku": "", "line-2-quantity": ""})
    # then
    order = Order.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("sales:order_detail",
                                                                           args=[order.public_id])
    assert (order.subtotal, order.paid_amount, order.created_by) == (Decimal("949.00"), Decimal("939.50"), sales)
    assert Event.objects.filter(type="order.paid", customer=shopper).count() == 1
    detail = client.get(response["Location"]).content.decode()
    assert order.order_no in detail and "羊毛开衫" in detail and reverse("customers:detail",
                                                                       args=[shopper.public_id]) in detail
    panel = client.get(reverse("customers:panels", args=[shopper.public_id])).content.decode()
    assert order.order_no in panel and "939.50" in panel


def test_new_order_form_shows_a_bad_line_on_its_row_and_writes_nothing(client_for, sales, catalogue, shopper):
    client = client_for(sales)
    response = client.post(reverse("sales:order_create"), {
        "customer": shopper.public_id, "channel": "store", "store": "2F-01", "payment_method": "cash",
        "line-0-sku": "", "line-0-quantity": "", "line-3-sku": "CF-001", "line-3-quantity": "-2"})
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="line-3-error"' in body and 'value="-2"' in body
    response = client.post(reverse("sales:order_create"), {
        "channel": "store", "store": "2F-01", "payment_method": "cash", "line-0-sku": "CF-001",
        "line-0-quantity": "1"})
    assert response.status_code == 400 and 'id="error-customer"' in response.content.decode()
    response = client.post(reverse("sales:order_create"), {
        "customer": shopper.public_id, "channel": "store", "store": "", "payment_method": "cash",
        "line-0-sku": "CF-001", "line-0-quantity": "1"})
    assert response.status_code == 400 and 'id="error-store"' in response.content.decode()
    assert Order.objects.count() == 0


def test_order_form_htmx_parts_add_a_line_and_find_customers(client_for, sales, catalogue, shopper):
    client = client_for(sales)
    row = client.get(reverse("sales:order_line"), {"index": "4"}, HTTP_HX_REQUEST="true").content.decode()
    assert 'name="line-4-sku"' in row and "拿铁" in row and "index=5" in row and 'hx-swap-oob="true"' in row
    found = client.get(reverse("sales:order_customers"), {"customer_q": "139 1234"}).content.decode()
    assert f'value="{shopper.public_id}"' in found and "王芳" in found
    hidden = CustomerFactory(name="王芳芳", owner=UserFactory(username="rep3", role=Role.SALES))
    assert hidden.public_id not in client.get(reverse("sales:order_customers"), {"customer_q": "王芳"}).content.decode()


def test_refund_form_refunds_part_and_refuses_too_much(client_for, sales, catalogue, shopper):
    # given
    order = _sell(sales, shopper, quantity=2)  # 1798.00
    client = client_for(sales)
    url = reverse("sales:order_refund", args=[order.public_id])
    line = order.lines.get()
    # when
    too_much = client.post(url, {"amount": "1800", "reason": "退货"})
    by_line = client.post(url, {"reason": "退一件", f"refund-{line.pk}": "1"})
    # then
    assert too_much.status_code == 400 and 'id="error-amount"' in too_much.content.decode()
    assert by_line.status_code == 302
    order.refresh_from_db()
    assert (order.refunded_amount, order.status) == (Decimal("899.00"), OrderStatus.PARTLY_REFUNDED)
    detail = client.get(reverse("sales:order_detail", args=[order.public_id])).content.decode()
    assert "退一件" in detail and "899.00" in detail


def test_catalogue_pages_create_and_edit(client_for, users, catalogue):
    client = client_for(users[Role.MARKETING])
    coffee = catalogue["categories"]["咖啡"]
    response = client.post(reverse("sales:product_create"), {"sku": "cf-010", "name": "冷萃", "category": coffee.pk,
                                                             "list_price": "36", "is_active": "on"})
    assert response.status_code == 302 and Product.objects.get(sku="CF-010").list_price == Decimal("36.00")
    product = Product.objects.get(sku="CF-010")
    response = client.post(reverse("sales:product_edit", args=[product.public_id]),
                           {"sku": "CF-001", "name": "冷萃", "category": coffee.pk, "list_price": "36"})
    assert response.status_code == 400 and 'id="error-sku"' in response.content.decode()
    assert client.post(reverse("sales:product_stores"), {"code": "3f-01", "name": "书香阁", "is_active": "on"}
                       ).status_code == 302
    assert Store.objects.filter(code="3F-01").exists()
    assert client.post(reverse("sales:product_categories"), {"name": "图书", "parent": ""}).status_code == 302
    books = ProductCategory.objects.get(name="图书")
    response = client.post(reverse("sales:product_category_edit", args=[books.pk]), {"name": "图书文具"})
    assert response.status_code == 302 and ProductCategory.objects.get(pk=books.pk).name == "图书文具"
    listing = client.get(reverse("sales:product_list"), {"category": coffee.pk}).content.decode()
    assert "CF-010" in listing and "WF-101" not in listing


def test_the_360_page_loads_the_orders_panel_with_htmx(client_for, manager, catalogue, shopper):
    body = client_for(manager).get(reverse("customers:detail", args=[shopper.public_id])).content.decode()
    assert reverse("customers:panels", args=[shopper.public_id]) in body
    panel = client_for(manager).get(reverse("customers:panels", args=[shopper.public_id]))
    assert panel.status_code == 200 and 'id="orders-panel"' in panel.content.decode()
