import pytest

from fidelis.customers.models import LifecycleStage
from fidelis.events.services import record_event
from tests.factories import CustomerFactory


@pytest.mark.django_db(transaction=True)
def test_advance_lifecycle_stage_moves_forward_on_order_paid():
    customer = CustomerFactory(lifecycle_stage=LifecycleStage.FOLLOWER)
    record_event(customer=customer, type="order.paid", payload={"amount": "88.00"})
    customer.refresh_from_db()
    assert customer.lifecycle_stage == LifecycleStage.BUYER


@pytest.mark.django_db(transaction=True)
def test_advance_lifecycle_stage_never_moves_back():
    customer = CustomerFactory(lifecycle_stage=LifecycleStage.LOYAL)
    record_event(customer=customer, type="wechat.followed")
    customer.refresh_from_db()
    assert customer.lifecycle_stage == LifecycleStage.LOYAL


@pytest.mark.django_db(transaction=True)
def test_a_batch_of_events_moves_each_customer_step_by_step_with_one_audit_entry_per_step():
    from fidelis.accounts.models import AuditEntry
    from fidelis.customers.rules import advance_lifecycle_stages
    from fidelis.events.models import Event

    # given events written without dispatch: a prospect who follows, joins and buys, a buyer who buys again
    prospect = CustomerFactory(lifecycle_stage=LifecycleStage.INTERESTED)
    buyer = CustomerFactory(lifecycle_stage=LifecycleStage.BUYER)
    events = [Event.objects.create(customer=c, type=t) for c, t in [
        (prospect, "wechat.followed"), (buyer, "order.paid"), (prospect, "member.joined"),
        (prospect, "order.paid")]]
    # when the handler gets them as one batch
    steps = advance_lifecycle_stages([e.pk for e in events])
    # then the prospect moved three steps, audited in order and naming each event; the buyer stayed
    prospect.refresh_from_db()
    buyer.refresh_from_db()
    assert (steps, prospect.lifecycle_stage, buyer.lifecycle_stage) == (3, LifecycleStage.BUYER, LifecycleStage.BUYER)
    audit = AuditEntry.objects.filter(action="customer.stage_advance").order_by("pk")
    assert [(a.object_id, a.changes["lifecycle_stage"], a.changes["event"][1]) for a in audit] == [
        (prospect.public_id, ["interested", "follower"], events[0].public_id),
        (prospect.public_id, ["follower", "member"], events[2].public_id),
        (prospect.public_id, ["member", "buyer"], events[3].public_id)]
    # and a second run changes nothing
    assert advance_lifecycle_stages([e.pk for e in events]) == 0
