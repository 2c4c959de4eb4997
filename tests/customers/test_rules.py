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


def _render(source: str, language: str, **context) -> str:
    from django.template import engines
    from django.utils import translation

    with translation.override(language):
        return engines["django"].from_string("{% load customers_ui %}" + source).render(context)


@pytest.mark.django_db(transaction=True)
def test_a_purchase_by_a_non_member_makes_a_buyer_whose_funnel_leaves_member_not_reached():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from fidelis.accounts.models import AuditEntry
    from fidelis.customers.selectors import customer_lifecycle_funnel

    # given a follower who never joined the member club
    customer = CustomerFactory(lifecycle_stage=LifecycleStage.INTERESTED)
    record_event(customer=customer, type="wechat.followed")
    # when they pay an order at the till
    paid_at = datetime(2026, 11, 3, 15, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    event, _new = record_event(customer=customer, type="order.paid", occurred_at=paid_at, payload={"amount": "88.00"})
    # then they are a buyer, moved by that event (stored with its id and type) ...
    customer.refresh_from_db()
    assert customer.lifecycle_stage == LifecycleStage.BUYER
    moved = AuditEntry.objects.filter(action="customer.stage_advance", object_id=customer.public_id).latest("id")
    assert moved.changes == {"lifecycle_stage": ["follower", "buyer"], "event": [None, event.public_id],
                             "event_type": [None, "order.paid"]}
    # ... but the funnel reaches the stages they have the facts of: not the member stage
    funnel = customer_lifecycle_funnel(customer)
    assert [(s["value"], s["state"]) for s in funnel["steps"]] == [
        ("interested", "done"), ("follower", "done"), ("member", "skipped"), ("buyer", "current"),
        ("loyal", ""), ("advocate", "")]
    assert funnel["reason"] == {"type": "order.paid", "at": paid_at}
    # and the 360° page's funnel and badges say so in the viewer's language
    html = _render("{% lifecycle_funnel customer.lifecycle_stage funnel %}{% classification customer funnel %}", "en",
                   customer=customer, funnel=funnel)
    assert '<li class="skipped" title="Member: not reached">Member</li>' in html
    assert html.count('class="done"') == 2 and '<li class="current" title="Buyer" aria-current="step">' in html
    assert "because: first purchase on Nov. 3, 2026" in html
    zh = _render("{% classification customer funnel %}", "zh-hans", customer=customer, funnel=funnel)
    assert "原因：2026年11月3日首次购买" in zh


@pytest.mark.django_db(transaction=True)
def test_a_member_who_then_buys_has_every_stage_up_to_buyer_reached():
    from fidelis.customers.selectors import customer_lifecycle_funnel

    # given a prospect who joins the club (without following) and then buys
    customer = CustomerFactory(lifecycle_stage=LifecycleStage.INTERESTED)
    record_event(customer=customer, type="member.joined")
    customer.refresh_from_db()
    member_funnel = customer_lifecycle_funnel(customer)
    record_event(customer=customer, type="order.paid", payload={"amount": "20.00"})
    # then as a member the follower stage was skipped and the buyer stage not reached yet; the join is the reason
    assert [s["state"] for s in member_funnel["steps"]][:4] == ["done", "skipped", "current", ""]
    assert member_funnel["reason"]["type"] == "member.joined"
    # and as a buyer the member stage is done
    customer.refresh_from_db()
    funnel = customer_lifecycle_funnel(customer)
    assert customer.lifecycle_stage == LifecycleStage.BUYER
    assert [s["state"] for s in funnel["steps"]][:4] == ["done", "skipped", "done", "current"]


@pytest.mark.django_db
def test_a_stage_set_by_hand_has_the_stages_before_it_done_unless_an_event_proves_them_and_no_reason():
    from fidelis.customers.selectors import customer_lifecycle_funnel

    # given a loyal member as imported, with no events
    customer = CustomerFactory(lifecycle_stage=LifecycleStage.LOYAL)
    # when the funnel is read, then the facts that events prove are not reached, the others are; no reason
    funnel = customer_lifecycle_funnel(customer)
    assert [s["state"] for s in funnel["steps"]] == ["done", "skipped", "skipped", "skipped", "current", ""]
    assert funnel["reason"] is None
    html = _render("{% classification customer funnel %}", "en", customer=customer, funnel=funnel)
    assert "because" not in html and '<span class="badge stage">Loyal member</span>' in html


def test_demo_customers_have_the_event_of_their_stage_and_none_of_a_later_one():
    from collections import Counter
    from datetime import datetime
    from random import Random
    from zoneinfo import ZoneInfo

    from fidelis.customers.demo import generate_customers
    from fidelis.customers.rules import STAGE_FOR_EVENT

    # given the demo's customers, whose stages the loader sets directly
    demos = list(generate_customers(Random(7), 2000, now=datetime(2026, 12, 1, tzinfo=ZoneInfo("Asia/Shanghai")),
                                    owner_ids=[1]))
    rank = {stage: i for i, stage in enumerate(LifecycleStage.values)}
    skipped = Counter()
    for demo in demos:
        stage, types = demo.customer["lifecycle_stage"], {e.type for e in demo.events}
        proven = {STAGE_FOR_EVENT[t] for t in types if t in STAGE_FOR_EVENT}
        # then the funnel the events prove agrees with the stage: its own event is there, none of a later stage
        assert stage not in STAGE_FOR_EVENT.values() or stage in proven, (stage, types)
        assert all(rank[p] <= rank[stage] for p in proven), (stage, types)
        skipped.update(s for s in STAGE_FOR_EVENT.values() if rank[s] < rank[stage] and s not in proven)
    # and the buyers who pay without joining the club show the member stage as not reached
    assert skipped[LifecycleStage.MEMBER] > 0 and skipped[LifecycleStage.FOLLOWER] == 0
