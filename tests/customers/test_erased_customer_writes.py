"""Nothing new is recorded for an erased person: club membership, orders, opportunities, contracts and tasks are
refused with one localised answer naming the customer (code "erased"), over the API and in the web forms."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from fidelis.accounts.services import api_token_create
from fidelis.core.errors import DomainError
from fidelis.customers.dedupe import customers_merge
from fidelis.customers.privacy import customer_erase
from fidelis.customers.selectors import customer_require_writable
from fidelis.customers.services import customer_create
from fidelis.events.models import Event
from fidelis.loyalty.models import Member
from fidelis.loyalty.services import member_enrol
from fidelis.loyalty.templates import starter_program
from fidelis.pipeline.models import Contract, Opportunity
from fidelis.pipeline.services import contract_create, opportunity_create
from fidelis.sales.models import Order
from fidelis.sales.services import category_save, order_create, product_save, store_save
from fidelis.work.models import Task
from fidelis.work.services import task_create

pytestmark = pytest.mark.django_db

# The answer in the default language (zh-hans): the API's body and the forms say it alike.
ERASED_ZH = "该客户的个人信息已被删除，不能再为其登记任何新记录。"
SCOPES = ["customers:read", "loyalty:read", "loyalty:write", "sales:read", "sales:write", "work:read",
          "work:write", "events:write"]


@pytest.fixture
def erased(manager, sales):
    """A customer of the sales rep whose personal data the manager erased."""
    customer = customer_create(actor=manager, data={"name": "删除我", "phone": "13500135000"}, owner=sales)
    return customer_erase(actor=manager, customer=customer, reason="本人书面要求删除")


@pytest.fixture
def shop(manager):
    """A store, a product and the live starter program of the club."""
    store_save(actor=manager, data={"code": "1F-01", "name": "悦享咖啡"})
    product_save(actor=manager, data={"sku": "CF-001", "name": "美式咖啡", "list_price": Decimal("28.00"),
                                      "category": category_save(actor=manager, data={"name": "咖啡"})})
    return starter_program(actor=manager, name="星河会员俱乐部")


def _nothing_new(customer, events_before: int) -> None:
    assert not Member.objects.filter(customer=customer).exists()
    assert not Order.objects.filter(customer=customer).exists()
    assert not Opportunity.objects.filter(customer=customer).exists()
    assert not Contract.objects.filter(customer=customer).exists()
    assert not Task.objects.filter(customer=customer).exists()
    assert Event.objects.filter(customer=customer).count() == events_before


def test_customer_require_writable_refuses_erased_and_merged_records(manager):
    live = customer_create(actor=manager, data={"name": "在册", "phone": "13500135001"})
    customer_require_writable(live)
    gone = customer_erase(actor=manager, customer=customer_create(actor=manager, data={"name": "甲"}), reason="要求")
    with pytest.raises(DomainError) as erased:
        customer_require_writable(gone)
    assert (erased.value.code, erased.value.field) == ("erased", "customer")
    absorbed = customer_create(actor=manager, data={"name": "乙", "phone": "13500135002"})
    customers_merge(actor=manager, keep=live, absorb=absorbed)
    absorbed.refresh_from_db()
    with pytest.raises(DomainError) as merged:
        customer_require_writable(absorbed)
    assert (merged.value.code, merged.value.field) == ("merged", "customer")


def test_services_refuse_new_activity_for_an_erased_customer_and_write_nothing(manager, sales, erased, shop):
    # given: the erased customer's history so far
    events_before = Event.objects.filter(customer=erased).count()
    soon = timezone.now() + timedelta(hours=2)
    attempts = {
        "member_enrol": lambda: member_enrol(actor=sales, program=shop, customer=erased, channel="store"),
        "order_create": lambda: order_create(actor=sales, customer=erased, lines=[{"sku": "CF-001", "quantity": 1}],
                                             channel="store", store="1F-01", payment_method="cash"),
        "opportunity_create": lambda: opportunity_create(actor=sales, customer=erased, title="团购"),
        "contract_create": lambda: contract_create(actor=sales, customer=erased, number="HT-E1", amount="100",
                                                   start_date="2026-01-01", end_date="2026-12-31"),
        "task_create": lambda: task_create(actor=sales, title="回访", due_at=soon, customer=erased),
    }
    for name, attempt in attempts.items():
        # when
        with pytest.raises(DomainError) as refused:
            attempt()
        # then
        assert (refused.value.code, refused.value.field) == ("erased", "customer"), name
        assert str(refused.value.message) == ERASED_ZH
    _nothing_new(erased, events_before)


def test_the_api_refuses_new_activity_for_an_erased_customer_with_a_400_naming_the_field(client, manager, sales,
                                                                                         erased, shop):
    # given: the rep's token
    _token, raw = api_token_create(actor=manager, user=sales, name="门店收银", scopes=SCOPES)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    events_before = Event.objects.filter(customer=erased).count()
    due = (timezone.now() + timedelta(days=1)).isoformat()
    calls = {
        "/api/loyalty/members": {"customer": erased.public_id, "channel": "store"},
        "/api/sales/orders": {"customer": erased.public_id, "store": "1F-01", "payment_method": "cash",
                              "lines": [{"sku": "CF-001", "quantity": 1}]},
        "/api/sales/opportunities": {"customer": erased.public_id, "title": "团购"},
        "/api/sales/contracts": {"customer": erased.public_id, "number": "HT-E2", "amount": "100",
                                 "start_date": "2026-01-01", "end_date": "2026-12-31"},
        "/api/work/tasks": {"customer": erased.public_id, "title": "回访", "due_at": due},
        "/api/events": {"customer": erased.public_id, "type": "store.visited"},
    }
    for path, body in calls.items():
        # when
        response = client.post(path, data=json.dumps(body), content_type="application/json", **auth)
        # then
        assert response.status_code == 400, (path, response.status_code, response.content)
        assert response.json() == {"code": "erased", "field": "customer", "message": ERASED_ZH}, path
    _nothing_new(erased, events_before)


def test_the_web_forms_refuse_new_activity_for_an_erased_customer_on_the_customer_field(client_for, sales, erased,
                                                                                       shop):
    client = client_for(sales)
    events_before = Event.objects.filter(customer=erased).count()
    # The club: the enrol button answers on the customer page with the message.
    response = client.post(reverse("loyalty:member_enrol", args=[erased.public_id]), follow=True)
    assert ERASED_ZH in response.content.decode()
    # The order, opportunity and contract forms: the message on the customer field.
    response = client.post(reverse("sales:order_create"), {
        "customer": erased.public_id, "channel": "store", "store": "1F-01", "payment_method": "cash",
        "line-0-sku": "CF-001", "line-0-quantity": "1"})
    assert response.status_code == 400 and 'id="error-customer"' in response.content.decode()
    assert ERASED_ZH in response.content.decode()
    response = client.post(reverse("pipeline:opportunity_create"), {"customer": erased.public_id, "title": "团购",
                                                                  "source": "wechat"})
    assert response.status_code == 400 and ERASED_ZH in response.content.decode()
    response = client.post(reverse("pipeline:contract_create"), {
        "customer": erased.public_id, "number": "HT-E3", "amount": "100", "payment_method": "transfer",
        "start_date": "2026-01-01", "end_date": "2026-12-31", "status": "active"})
    assert response.status_code == 400 and ERASED_ZH in response.content.decode()
    # The task form.
    due = timezone.localtime() + timedelta(days=1)
    response = client.post(reverse("work:task_create"), {
        "title": "回访", "owner": sales.pk, "due_date": due.strftime("%Y-%m-%d"), "due_time": "15:30",
        "remind_before": "30", "priority": "2", "customer": erased.public_id})
    assert response.context["form"].errors["customer"] == [ERASED_ZH]
    _nothing_new(erased, events_before)


def test_a_live_customer_still_joins_and_orders(manager, sales, shop):
    # The check refuses only the erased and the merged: the rep's live customer joins the club and buys.
    customer = customer_create(actor=manager, data={"name": "在册", "phone": "13500135003"}, owner=sales)
    member, created = member_enrol(actor=sales, program=shop, customer=customer, channel="store")
    order = order_create(actor=sales, customer=customer, lines=[{"sku": "CF-001", "quantity": 1}], channel="store",
                         store="1F-01", payment_method="cash")
    assert created and member.customer == customer and order.paid_amount == Decimal("28.00")
