"""A sales order earns points through the member club's live rules; a refund takes them back."""

from decimal import Decimal

import pytest

from fidelis.loyalty.ledger import ledger_check
from fidelis.loyalty.models import EntryKind, Member, PointsEntry, Purchase
from fidelis.loyalty.services import member_enrol, rule_save
from fidelis.loyalty.templates import starter_program
from fidelis.sales.services import order_create, order_refund

pytestmark = pytest.mark.django_db


@pytest.fixture
def program(manager):
    return starter_program(actor=manager, name="星河会员俱乐部")


@pytest.fixture
def member(program, shopper, manager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        member, _created = member_enrol(actor=manager, program=program, customer=shopper, channel="store")
    member.refresh_from_db()
    return member


def _buy(actor, customer, catalogue, lines, capture, **kwargs):
    with capture(execute=True):
        return order_create(actor=actor, customer=customer, lines=lines, channel="store",
                            store=catalogue["stores"]["2F-01"], payment_method="alipay", **kwargs)


def test_order_earns_one_point_per_cny_of_the_paid_amount_and_lifts_the_tier(
        manager, sales, catalogue, member, django_capture_on_commit_callbacks):
    # given: the starter program's rules: 500 on joining, 1 point per CNY (floor), silver from ¥3,000 spent
    assert member.balance == 500
    # when: a sales rep sells three dresses with ¥98.50 off the order: paid 3,799.50
    order = _buy(sales, member.customer, catalogue, [{"sku": "WF-101", "quantity": 3}],
                 django_capture_on_commit_callbacks, discount="98.50")
    # then
    member.refresh_from_db()
    assert order.paid_amount == Decimal("3798.50")
    assert member.balance == 500 + 3798 and member.tier.name == "银卡"
    purchase = Purchase.objects.get(member=member)
    assert (purchase.order_ref, purchase.amount, purchase.points) == (order.order_no, Decimal("3798.50"), 3798)
    earn = PointsEntry.objects.get(member=member, kind=EntryKind.EARN, order_ref=order.order_no)
    assert earn.points == 3798
    ledger_check(member)


def test_category_and_store_conditions_read_the_order_lines_and_the_store_code(
        manager, program, catalogue, member, django_capture_on_commit_callbacks):
    # given: +50 for a coffee bought at the coffee shop (store code 1F-01)
    rule_save(actor=manager, program=program, data={
        "name": "咖啡加赠", "trigger": "order.paid", "status": "active", "priority": 300,
        "conditions": [{"kind": "category_in", "values": ["咖啡"]}, {"kind": "store_in", "values": ["1F-01"]}],
        "actions": [{"kind": "award_points", "points": 50}]})
    # when: coffee at the coffee shop, then a cardigan at the fashion store
    with django_capture_on_commit_callbacks(execute=True):
        order_create(actor=manager, customer=member.customer, lines=[{"sku": "CF-002", "quantity": 1}],
                     channel="store", store="1F-01", payment_method="cash")
    _buy(manager, member.customer, catalogue, [{"sku": "WF-102", "quantity": 1}], django_capture_on_commit_callbacks)
    # then
    member.refresh_from_db()
    assert member.balance == 500 + (32 + 50) + 899
    assert PointsEntry.objects.filter(member=member, reason="咖啡加赠").count() == 1


def test_refund_takes_back_points_in_proportion(manager, sales, catalogue, member, django_capture_on_commit_callbacks):
    # given
    order = _buy(sales, member.customer, catalogue, [{"sku": "WF-102", "quantity": 2}],
                 django_capture_on_commit_callbacks)  # paid 1798: 1798 points
    # when: half refunded
    with django_capture_on_commit_callbacks(execute=True):
        order_refund(actor=sales, order=order, amount="899.00", reason="退一件")
    # then
    member.refresh_from_db()
    assert member.balance == 500 + 1798 - 899
    clawback = PointsEntry.objects.get(member=member, kind=EntryKind.CLAWBACK)
    assert clawback.points == -899 and clawback.order_ref == order.order_no
    ledger_check(member)


def test_the_same_idempotency_key_earns_once(manager, catalogue, member, django_capture_on_commit_callbacks):
    for _i in range(2):
        _buy(manager, member.customer, catalogue, [{"sku": "CF-001", "quantity": 1}],
             django_capture_on_commit_callbacks, idempotency_key="pos-7")
    assert Member.objects.get(pk=member.pk).balance == 500 + 28
