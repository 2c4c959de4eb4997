"""The sales demo: stores and products of the mall, and one order per historical purchase of the timeline."""

import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db.models import Sum

from fidelis.customers.demo import SHOPS
from fidelis.events.models import Event
from fidelis.pipeline.models import Contract, Opportunity
from fidelis.sales.demo import CATALOGUE, demo_stores
from fidelis.sales.models import Order, OrderLine, Product, ProductCategory, Store

pytestmark = pytest.mark.django_db


def test_demo_stores_are_the_shops_of_the_customer_demo_with_codes():
    stores = demo_stores()
    assert {name for _code, name in stores} == {shop for shop, *_rest in SHOPS[0]} | {"会员服务台"}
    assert len({code for code, _name in stores}) == len(stores)
    assert ("B1-01", "生鲜超市") in stores


def test_demo_command_writes_an_order_for_every_purchase_and_no_event(tmp_path):
    # when
    out = io.StringIO()
    call_command("demo", customers=120, no_serve=True, stdout=out)
    # then
    paid = {e.payload["order_no"]: e for e in Event.objects.filter(type="order.paid")}
    orders = {o.order_no: o for o in Order.objects.select_related("store")}
    assert paid and set(orders) <= set(paid) and len(orders) >= len(paid) - 2  # a rare duplicate number is skipped
    for number, order in orders.items():
        event = paid[number]
        assert order.paid_amount == Decimal(event.payload["amount"]) == order.subtotal
        assert order.paid_at == event.occurred_at and order.customer_id == event.customer_id
        assert order.store.name == event.payload["shop"]
    sums = dict(OrderLine.objects.values("order__order_no").annotate(s=Sum("amount")).values_list("order__order_no",
                                                                                                  "s"))
    assert all(sums[n] == o.paid_amount for n, o in orders.items())
    assert Event.objects.filter(type="order.paid").count() == len(paid)  # nothing recorded on top
    assert Product.objects.count() == sum(len(items) for *_rest, items in CATALOGUE.values()) >= 150
    assert ProductCategory.objects.filter(parent__isnull=True).exists() and Store.objects.count() == len(demo_stores())
    assert "orders with" in out.getvalue()
    # the opportunities and contracts are on their customers' timelines, as the services would have put them
    opportunities = Opportunity.objects.all()
    created = Event.objects.filter(type="opportunity.created")
    assert created.count() == opportunities.count() > 0
    assert {e.payload["opportunity"] for e in created} == {o.public_id for o in opportunities}
    for status in ("won", "lost"):
        assert (Event.objects.filter(type=f"opportunity.{status}").count()
                == opportunities.filter(status=status).count() > 0)
    assert Event.objects.filter(type="contract.signed").count() == Contract.objects.count() > 0
    won = Event.objects.filter(type="opportunity.won").select_related("customer").first()
    assert won.line.startswith("赢单") or won.line.startswith("Won"), won.line
    # --reset with the same seed gives the same orders again
    before = sorted((o.order_no, o.paid_amount, o.payment_method) for o in orders.values())
    call_command("demo", customers=120, no_serve=True, reset=True, no_input=False, stdout=io.StringIO())
    assert sorted(Order.objects.values_list("order_no", "paid_amount", "payment_method")) == before
