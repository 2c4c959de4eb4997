"""Follow-up rules (回访): a purchase opens one task per active rule, however often the event is handled."""

import json
from datetime import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from fidelis.accounts.models import AuditEntry, Role
from fidelis.accounts.services import api_token_create
from fidelis.core.errors import DomainError, PermissionDenied
from fidelis.customers.dedupe import customers_merge
from fidelis.customers.services import customer_create
from fidelis.events.models import Event
from fidelis.events.services import record_event
from fidelis.work.models import FollowUpRule, Task, TaskSource
from fidelis.work.rules import follow_up_tasks_create
from fidelis.work.services import follow_up_rule_create, follow_up_rule_update, task_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def rule(manager, users):
    return follow_up_rule_create(actor=manager, data={
        "name": "购物后 7 天回访", "delay_days": 7, "assignee": users[Role.SERVICE], "remind_before": 30})


@pytest.fixture
def order(django_capture_on_commit_callbacks):
    """Record a purchase and run what its commit starts (the dispatch to the handlers), as in production."""

    def _order(customer, *, amount="268.00", store="1F 化妆品", order_no="A1001", key=None):
        tz = timezone.get_current_timezone()
        with django_capture_on_commit_callbacks(execute=True):
            event, _created = record_event(customer=customer, type="order.paid", channel="store", touchpoint=store,
                                           occurred_at=datetime(2026, 11, 15, 19, 30, tzinfo=tz),
                                           payload={"amount": amount, "order_no": order_no, "store": store},
                                           idempotency_key=key or f"order:{order_no}")
        return event

    return _order


def test_a_purchase_opens_a_follow_up_task_for_the_customers_owner(rule, sales, my_customer, order):
    # when: the event is recorded, its handlers run after the commit (in-process without a broker)
    event = order(my_customer)
    # then
    task = Task.objects.get(rule=rule)
    tz = timezone.get_current_timezone()
    assert (task.owner, task.customer, task.source, task.source_event) == (sales, my_customer,
                                                                           TaskSource.FOLLOW_UP, event)
    assert task.title == "回访 李太太：A1001"
    assert timezone.localtime(task.due_at) == datetime(2026, 11, 22, 10, 0, tzinfo=tz)
    assert task.remind_at == task.due_at - timezone.timedelta(minutes=30)
    assert task.created_by is None
    audit = AuditEntry.objects.get(action="task.create", object_id=task.public_id)
    assert audit.via == "rule" and audit.actor is None


def test_the_handler_run_twice_opens_the_task_once(rule, my_customer, order):
    event = order(my_customer)
    # when: a redelivered dispatch runs the handler again
    again = follow_up_tasks_create(event.pk)
    # then
    assert again == []
    assert Task.objects.filter(rule=rule, source_event=event).count() == 1


def test_the_constraint_refuses_a_second_task_for_the_same_rule_and_event(rule, manager, my_customer, order):
    # Two workers that both passed the "already there?" check: the database keeps one.
    event = order(my_customer)
    with pytest.raises(IntegrityError), transaction.atomic():
        task_create(actor=None, title="again", due_at=timezone.now(), owner=manager, customer=my_customer,
                    rule=rule, source_event=event)
    assert Task.objects.filter(rule=rule).count() == 1


def test_the_same_order_recorded_under_two_idempotency_keys_opens_one_follow_up(rule, my_customer, order):
    # given: a purchase, and the till re-sending it under a new key (two events of one order)
    first = order(my_customer, order_no="A2001", key="till-3:1")
    second = order(my_customer, order_no="A2001", key="till-3:2")
    assert first.pk != second.pk
    # then: one follow-up for the purchase; the second event's handler, run again, opens none either
    assert follow_up_tasks_create(second.pk) == []
    task = Task.objects.get(rule=rule)
    assert (task.source_event, task.source_order_no) == (first, "A2001")
    # and another purchase of the customer gets its own
    order(my_customer, order_no="A2002", key="till-3:3")
    assert Task.objects.filter(rule=rule, customer=my_customer).count() == 2


def test_the_constraint_refuses_a_second_task_for_the_same_rule_customer_and_order(rule, manager, my_customer,
                                                                                      order):
    # Two workers handling the two events of one order at once: the database keeps one task.
    order(my_customer, order_no="A3001")
    with pytest.raises(IntegrityError), transaction.atomic():
        task_create(actor=None, title="again", due_at=timezone.now(), owner=manager, customer=my_customer,
                    rule=rule, source_order_no="A3001")
    assert Task.objects.filter(rule=rule).count() == 1


def test_an_order_posted_twice_through_the_api_under_two_keys_opens_one_follow_up(
        client, rule, manager, my_customer, django_capture_on_commit_callbacks):
    # given: an outside system with an API token
    _token, raw = api_token_create(actor=manager, user=manager, name="POS 1F", scopes=["events:write"])
    body = {"customer": my_customer.public_id, "type": "order.paid", "touchpoint": "1F 化妆品",
            "payload": {"order_no": "POS-88", "amount": "268.00", "store": "1F 化妆品"}}
    # when: it re-sends the same order under a new idempotency key
    statuses = []
    for key in ("till-1:a", "till-1:b"):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/api/events", data=json.dumps(body), content_type="application/json",
                                   HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_IDEMPOTENCY_KEY=key)
        statuses.append(response.status_code)
    # then: two events, one follow-up task for the purchase
    assert statuses == [201, 201]
    assert Event.objects.filter(type="order.paid", payload__order_no="POS-88").count() == 2
    task = Task.objects.get(rule=rule)
    assert (task.customer, task.source_order_no) == (my_customer, "POS-88")


def test_merging_two_records_that_both_have_a_follow_up_of_one_order_keeps_both_tasks(rule, manager, sales, order):
    # given: the same purchase recorded on two records of one person (each opened its follow-up)
    keep = customer_create(actor=manager, data={"name": "李太太"}, owner=sales)
    absorb = customer_create(actor=manager, data={"name": "李太太 (重复)"}, owner=sales)
    order(keep, order_no="A4001", key="k-1")
    order(absorb, order_no="A4001", key="k-2")
    # when
    customers_merge(actor=manager, keep=keep, absorb=absorb)
    # then: the merge goes through and the kept record holds both tasks, one of them claiming the order
    tasks = Task.objects.filter(rule=rule, customer=keep)
    assert tasks.count() == 2
    assert sorted(tasks.values_list("source_order_no", flat=True)) == ["", "A4001"]


def test_a_customer_without_owner_goes_to_the_rules_user(rule, manager, users, order):
    customer = customer_create(actor=manager, data={"name": "无主客户"})
    order(customer)
    assert Task.objects.get(rule=rule).owner == users[Role.SERVICE]


def test_no_owner_and_no_rule_user_opens_nothing(manager, order):
    follow_up_rule_create(actor=manager, data={"name": "无人", "delay_days": 3})
    customer = customer_create(actor=manager, data={"name": "无主客户"})
    order(customer)
    assert not Task.objects.exists()


def test_store_and_minimum_amount_narrow_the_rule(manager, my_customer, order):
    rule = follow_up_rule_create(actor=manager, data={"name": "大单回访", "delay_days": 1, "store": "1F 化妆品",
                                                      "min_amount": Decimal("500")})
    order(my_customer, amount="268.00", order_no="small")
    order(my_customer, amount="999.00", store="B1 超市", order_no="elsewhere")
    order(my_customer, amount="999.00", order_no="big")
    assert list(Task.objects.filter(rule=rule).values_list("title", flat=True)) == ["回访 李太太：big"]


def test_an_inactive_rule_opens_nothing(rule, manager, my_customer, order):
    follow_up_rule_update(actor=manager, rule=rule, data={"is_active": False})
    order(my_customer)
    assert not Task.objects.exists()


def test_only_managers_set_up_rules(sales):
    with pytest.raises(PermissionDenied):
        follow_up_rule_create(actor=sales, data={"name": "我的规则"})
    assert not FollowUpRule.objects.exists()


@pytest.mark.parametrize(("data", "field"), [
    ({"name": ""}, "name"),
    ({"name": "x", "title_template": "回访 {phone}"}, "title_template"),
    ({"name": "x", "title_template": "回访 {customer"}, "title_template"),
    ({"name": "x", "delay_days": 400}, "delay_days"),
    ({"name": "x", "assignee": "nobody"}, "assignee"),
    ({"name": "x", "min_amount": "abc"}, "min_amount"),
    ({"name": "x", "colour": "red"}, "colour"),
])
def test_follow_up_rule_bad_input_is_refused_naming_the_field(manager, data, field):
    with pytest.raises(DomainError) as caught:
        follow_up_rule_create(actor=manager, data=data)
    assert caught.value.field == field
    assert not FollowUpRule.objects.exists()
