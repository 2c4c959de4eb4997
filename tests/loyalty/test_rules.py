from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from fidelis.core.errors import DomainError
from fidelis.events.models import Event
from fidelis.events.services import record_event
from fidelis.loyalty.engine import validate_rule
from fidelis.loyalty.errors import LoyaltyCode
from fidelis.loyalty.handlers import apply_event
from fidelis.loyalty.ledger import ledger_check
from fidelis.loyalty.models import AppliedEvent, Coupon, EntryKind, Member, PointsEntry, Purchase
from fidelis.loyalty.services import member_enrol
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _pay(customer, amount, order_no, when=None, **payload):
    event, _new = record_event(customer=customer, type="order.paid", occurred_at=when, channel="store",
                               payload={"amount": str(amount), "order_no": order_no, **payload},
                               idempotency_key=f"pos:{order_no}")
    return event


def test_new_member_gets_500_points_and_the_join_is_on_the_timeline(member):
    member.refresh_from_db()
    assert member.balance == 500
    entry = PointsEntry.objects.get(member=member)
    assert (entry.kind, entry.points, entry.rule.template) == (EntryKind.EARN, 500, "welcome")
    assert Event.objects.filter(customer=member.customer, type="member.joined").count() == 1
    assert Event.objects.filter(customer=member.customer, type="points.changed").count() == 1
    assert ledger_check(member) == {"balance": 500, "entries": 500, "lots": 500}


def test_member_joined_event_from_the_pos_enrols_and_awards(program):
    customer = CustomerFactory()
    record_event(customer=customer, type="member.joined", channel="store", payload={"card": "XH1"},
                 idempotency_key="pos-join-1")
    member = Member.objects.get(program=program, customer=customer)
    assert member.number.startswith("M") and member.balance == 500
    assert member.tier.name == "普通会员"


def test_following_the_official_account_gives_the_welcome_coupon_even_to_non_members(program):
    customer = CustomerFactory()
    record_event(customer=customer, type="wechat.followed", channel="wechat")
    coupon = Coupon.objects.get(customer=customer)
    assert coupon.template.name.startswith("¥20")
    assert coupon.valid_until - coupon.valid_from == timedelta(days=30)
    # The template allows one per customer: following again gives nothing more.
    record_event(customer=customer, type="wechat.followed", channel="wechat")
    assert Coupon.objects.filter(customer=customer).count() == 1


def test_one_point_per_cny_rounded_down_and_tier_upgrade_at_once(member):
    _pay(member.customer, "199.90", "A1")
    member.refresh_from_db()
    assert member.balance == 500 + 199
    _pay(member.customer, "3000.00", "A2")
    member.refresh_from_db()
    assert member.tier.name == "银卡"
    assert Event.objects.filter(customer=member.customer, type="tier.changed").count() == 1
    # Silver earns 1.2×.
    _pay(member.customer, "100.00", "A3")
    member.refresh_from_db()
    assert member.balance == 500 + 199 + 3000 + 120
    assert ledger_check(member)["entries"] == member.balance


def test_birthday_month_doubles_the_purchase_points(member):
    customer = member.customer
    today = timezone.localdate()
    customer.birthday = date(1990, today.month, 1)
    customer.save()
    _pay(customer, "100.00", "B1")
    member.refresh_from_db()
    assert member.balance == 500 + 200


def test_referral_gives_points_to_both_after_the_first_purchase_only(program, member, manager):
    friend = CustomerFactory()
    friend_member, _new = member_enrol(actor=manager, program=program, customer=friend, referrer=member)
    _pay(friend, "50.00", "R1")
    _pay(friend, "50.00", "R2")
    friend_member.refresh_from_db()
    member.refresh_from_db()
    assert friend_member.balance == 500 + 50 + 200 + 50
    assert member.balance == 500 + 200


def test_the_same_event_applied_twice_has_one_effect(member):
    event = _pay(member.customer, "100.00", "D1")
    apply_event(event.pk)
    apply_event(event.pk)
    member.refresh_from_db()
    assert member.balance == 600
    assert AppliedEvent.objects.filter(event=event).count() == 1


def test_the_same_order_under_another_key_earns_once(member):
    _pay(member.customer, "100.00", "D2")
    record_event(customer=member.customer, type="order.paid", payload={"amount": "100.00", "order_no": "D2"},
                 idempotency_key="other-key")
    member.refresh_from_db()
    assert member.balance == 600
    assert Purchase.objects.filter(member=member).count() == 1


def test_partial_refund_claws_back_in_proportion_and_spent_points_are_not_recovered(member, manager):
    from fidelis.loyalty.services import points_pay

    _pay(member.customer, "1000.00", "F1")
    member.refresh_from_db()
    assert member.balance == 1500
    record_event(customer=member.customer, type="order.refunded", payload={"amount": "400.00", "order_no": "F1"})
    member.refresh_from_db()
    assert member.balance == 1100
    points_pay(actor=manager, member=member, points=1000, order_ref="F9")
    member.refresh_from_db()
    assert member.balance == 100
    record_event(customer=member.customer, type="order.refunded", payload={"amount": "600.00", "order_no": "F1"})
    member.refresh_from_db()
    purchase = Purchase.objects.get(member=member, order_ref="F1")
    assert member.balance == 0
    assert (purchase.points_clawed, purchase.points_unrecovered) == (500, 500)
    clawback = PointsEntry.objects.filter(member=member, kind=EntryKind.CLAWBACK).order_by("id").last()
    assert (clawback.points, clawback.shortfall) == (-100, 500)
    assert ledger_check(member) == {"balance": 0, "entries": 0, "lots": 0}


def test_a_refund_claws_back_in_every_program_the_customer_is_a_member_of(member, manager):
    # given: the same customer in a second program, and an order that earned in both
    from fidelis.loyalty.templates import starter_program

    other, _new = member_enrol(actor=manager, program=starter_program(actor=manager, name="宠物会员"),
                               customer=member.customer)
    _pay(member.customer, "1000.00", "M1")
    # when
    refund, _new = record_event(customer=member.customer, type="order.refunded",
                                payload={"amount": "400.00", "order_no": "M1"})
    # then: each program took back its own 400 points, once (and joining the second gave nothing in the first)
    for one in (member, other):
        one.refresh_from_db()
        assert one.balance == 500 + 1000 - 400
        clawbacks = PointsEntry.objects.filter(member=one, kind=EntryKind.CLAWBACK)
        assert [(c.points, c.event_id, c.idempotency_key) for c in clawbacks] == [(-400, refund.pk, None)]
        assert ledger_check(one) == {"balance": 1100, "entries": 1100, "lots": 1100}
    assert AppliedEvent.objects.filter(event=refund).count() == 2


def test_apply_missed_applies_an_event_no_worker_applied_and_leaves_other_programs_joins_alone(member, manager):
    # given: the customer joined a second program too, and an order that no worker picked up
    from fidelis.loyalty.tasks import apply_missed
    from fidelis.loyalty.templates import starter_program

    other, _new = member_enrol(actor=manager, program=starter_program(actor=manager, name="宠物会员"),
                               customer=member.customer)
    missed = Event.objects.create(customer=member.customer, type="order.paid", occurred_at=timezone.now(),
                                  channel="store", payload={"amount": "80.00", "order_no": "LOST1"})
    # when
    first = apply_missed(older_than_s=0)
    second = apply_missed(older_than_s=0)
    # then: the order earned in both programs, once; the second program's join gave nothing in the first
    assert (first, second) == (1, 0)
    for one in (member, other):
        one.refresh_from_db()
        assert one.balance == 500 + 80
    assert AppliedEvent.objects.filter(event=missed).count() == 2


@pytest.mark.parametrize(("amount", "code"), [("-5", LoyaltyCode.INVALID_AMOUNT), ("abc", LoyaltyCode.INVALID_AMOUNT),
                                              ("", LoyaltyCode.REQUIRED), ("NaN", LoyaltyCode.INVALID_AMOUNT)])
def test_order_with_a_bad_amount_is_refused_and_nothing_is_written(member, amount, code):
    before = Event.objects.count()
    with pytest.raises(DomainError) as raised:
        record_event(customer=member.customer, type="order.paid", payload={"amount": amount, "order_no": "X"})
    assert (raised.value.field, raised.value.code) == ("payload.amount", code)
    assert Event.objects.count() == before
    member.refresh_from_db()
    assert member.balance == 500


def test_points_expire_first_in_first_out(member, manager):
    from fidelis.loyalty import ledger
    from fidelis.loyalty.services import points_pay
    from fidelis.loyalty.tasks import expire_points

    old = timezone.now() - timedelta(days=800)
    _pay(member.customer, "300.00", "E1", when=old)  # expires after 24 months
    member.refresh_from_db()
    assert member.balance == 800
    points_pay(actor=manager, member=member, points=100, order_ref="E2")  # takes from the oldest lot first
    assert expire_points() == 200
    member.refresh_from_db()
    assert member.balance == 500
    expired = PointsEntry.objects.get(member=member, kind=EntryKind.EXPIRE)
    assert expired.points == -200
    assert ledger.ledger_check(member) == {"balance": 500, "entries": 500, "lots": 500}
    assert Decimal(Purchase.objects.get(order_ref="E1").amount) == Decimal("300.00")


AWARD = [{"kind": "award_points", "points": 10}]


@pytest.mark.parametrize(("conditions", "actions", "field", "code"), [
    ([{"kind": "date_window", "weekdays": [8]}], AWARD, "conditions.0.weekdays", LoyaltyCode.INVALID_WEEKDAY),
    ([{"kind": "date_window", "start": "2026-13-01"}], AWARD, "conditions.0.start", LoyaltyCode.INVALID_DATE),
    ([{"kind": "amount_min", "value": "lots"}], AWARD, "conditions.0.value", LoyaltyCode.NOT_A_NUMBER),
    ([{"kind": "amount_min", "value": "-1"}], AWARD, "conditions.0.value", LoyaltyCode.INVALID_AMOUNT),
    ([{"kind": "moon_phase"}], AWARD, "conditions.0.kind", LoyaltyCode.UNKNOWN_KIND),
    ("amount_min", AWARD, "conditions", LoyaltyCode.NOT_A_LIST),
    ([], [{"kind": "points_per_cny", "rate": "0"}], "actions.0.rate", LoyaltyCode.OUT_OF_RANGE),
    ([], [{"kind": "points_per_cny", "rate": "1", "rounding": "up"}], "actions.0.rounding",
     LoyaltyCode.INVALID_CHOICE),
    ([], [], "actions", LoyaltyCode.REQUIRED),
])
def test_a_bad_rule_is_refused_with_the_code_of_its_meaning(conditions, actions, field, code):
    with pytest.raises(DomainError) as raised:
        validate_rule("order.paid", conditions, actions)
    assert (raised.value.field, raised.value.code) == (field, code) and isinstance(raised.value.code, str)
