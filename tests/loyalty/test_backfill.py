"""The bulk back-fill of historical orders: the same points as live processing, written once, invariants intact."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from fidelis.events.models import Event
from fidelis.events.services import record_event
from fidelis.loyalty.backfill import orders_backfill, referral_groups
from fidelis.loyalty.ledger import ledger_check
from fidelis.loyalty.models import AppliedEvent, EntryKind, Member, PointsEntry, PointsLot, Purchase, Tier
from fidelis.loyalty.services import member_enrol, rule_save
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db(transaction=True)

# (days ago, amount, order number, store): two years of history; the spend of the last 365 days reaches silver
# (3,000) with H3 (H1 is out of the window by then), so that later orders earn 1.2 points per CNY. H2 comes twice;
# H4 and H5 are on one day (the capped rule gives 120, then the 30 left of its 150); the last order has no number.
HISTORY = [(700, "2000.00", "H1", "S1"), (300, "1500.00", "H2", "S2"), (290, "80.50", "H2", "S2"),
           (200, "1600.00", "H3", "S1"), (120, "99.99", "H4", "S7"), (120, "99.99", "H5", "S7"),
           (30, "10.00", "", "S2")]


def _when(days_ago: int, minute: int = 0):
    return (timezone.now() - timedelta(days=days_ago)).replace(hour=15, minute=minute, second=0, microsecond=0)


def _imported(customer, history=HISTORY, prefix="imp"):
    """Write order.paid events as an import of old orders does: straight into the stream, not dispatched."""
    return Event.objects.bulk_create([
        Event(customer=customer, type="order.paid", occurred_at=_when(days, i), channel="store", touchpoint="POS",
              payload={"amount": amount, "order_no": order_no, "store": store} if order_no else
              {"amount": amount, "store": store}, idempotency_key=f"{prefix}:{customer.pk}:{i}")
        for i, (days, amount, order_no, store) in enumerate(history)])


def _live(customer, history=HISTORY):
    """Record the same orders through the live path, oldest first."""
    for i, (days, amount, order_no, store) in enumerate(history):
        payload = {"amount": amount, "order_no": order_no, "store": store} if order_no else {"amount": amount,
                                                                                              "store": store}
        record_event(customer=customer, type="order.paid", occurred_at=_when(days, i), channel="store",
                     touchpoint="POS", payload=payload, idempotency_key=f"live:{customer.pk}:{i}")


def _ref(ref: str) -> str:
    return "event:*" if ref.startswith("event:") else ref  # an order without number is named by its event


def _ledger(member):
    """The member's ledger as comparable rows (kind, rule, points, balance after, when, order, amount, expiry)."""
    return [(kind, rule, points, after, when, _ref(ref), amount, expires) for kind, rule, points, after, when, ref,
            amount, expires in PointsEntry.objects.filter(member=member).order_by("id").values_list(
                "kind", "rule_id", "points", "balance_after", "occurred_at", "order_ref", "amount", "expires_at")]


def _purchases(member):
    return [(_ref(ref), amount, points, when) for ref, amount, points, when in Purchase.objects.filter(
        member=member).order_by("occurred_at", "id").values_list("order_ref", "amount", "points", "occurred_at")]


def _assert_consistent(member):
    member.refresh_from_db()
    sums = ledger_check(member)
    assert sums["balance"] == sums["entries"] == sums["lots"] == member.balance, sums
    running = 0
    for points, balance_after in PointsEntry.objects.filter(member=member).order_by("id").values_list(
            "points", "balance_after"):
        running += points
        assert balance_after == running
    earned = PointsEntry.objects.filter(member=member, kind=EntryKind.EARN).aggregate(s=Sum("points"))["s"] or 0
    assert member.earned_total == earned
    assert member.purchases == Purchase.objects.filter(member=member).count()


@pytest.fixture
def rules(program, manager):
    """The seed rules plus a store rule, a capped rule and one that never matches."""
    rule_save(actor=manager, program=program, data={
        "name": "S1 门店 +50", "trigger": "order.paid", "conditions": [{"kind": "store_in", "values": ["S1"]}],
        "actions": [{"kind": "award_points", "points": 50}], "priority": 90, "status": "active"})
    rule_save(actor=manager, program=program, data={
        "name": "大单奖励", "trigger": "order.paid", "conditions": [{"kind": "amount_min", "value": "90"}],
        "actions": [{"kind": "award_points", "points": 100}], "priority": 80, "cap_member_day": 150,
        "status": "active"})
    rule_save(actor=manager, program=program, data={
        "name": "微信渠道", "trigger": "order.paid", "conditions": [{"kind": "channel_in", "values": ["wechat"]}],
        "actions": [{"kind": "award_points", "points": 999}], "priority": 70, "status": "active"})
    return program


@pytest.mark.parametrize("chunk_size", [1, 1000])
def test_orders_backfill_gives_what_live_processing_gives(rules, manager, chunk_size):
    # given: a referrer, and two referred members born in the month of the fifth order
    program = rules
    referrer, _new = member_enrol(actor=manager, program=program, customer=CustomerFactory())
    born = date(1990, timezone.localtime(_when(120)).month, 3)
    live_customer, backfilled_customer = CustomerFactory(birthday=born), CustomerFactory(birthday=born)
    live, _new = member_enrol(actor=manager, program=program, customer=live_customer, referrer=referrer)
    old, _new = member_enrol(actor=manager, program=program, customer=backfilled_customer, referrer=referrer)
    referrer_before = _ledger(referrer)
    _live(live_customer)
    events = _imported(backfilled_customer)
    # when
    result = orders_backfill(actor=manager, program=program, chunk_size=chunk_size)
    # then: the same ledger (after the welcome points), purchases, tier and counters as the member whose orders
    # came in live
    live.refresh_from_db()
    old.refresh_from_db()
    assert len(_ledger(old)) > len(HISTORY)
    assert _ledger(old)[1:] == _ledger(live)[1:]
    assert (old.balance, old.earned_total, old.purchases) == (live.balance, live.earned_total, live.purchases)
    assert old.tier.name == live.tier.name == "银卡"
    assert old.tier_since == live.tier_since
    assert _purchases(old) == _purchases(live)
    # H1: 1/CNY + store S1 + big order + first purchase of a referred member; H3: still standard tier; H4, H5:
    # silver (99 × 1.2 = 118), doubled in the birthday month, and the capped rule
    assert [p for _r, _a, p, _w in _purchases(old)][:5] == [2000 + 50 + 100 + 200, 1500 + 100, 1600 + 50 + 100,
                                                              118 + 118 + 120, 118 + 118 + 30]
    # the referrer got the first-purchase bonus once per friend, whichever way the orders came
    referrer_rows = _ledger(referrer)[len(referrer_before):]
    assert [row[2] for row in referrer_rows] == [200, 200]
    assert result.applied == len(events) and result.duplicate_orders == 1 and result.referrer_points == 200
    assert result.tier_upgrades == 1 and result.members == 2
    assert AppliedEvent.objects.filter(program=program, event__in=events).count() == len(events)
    for member in (old, live, referrer):
        _assert_consistent(member)


def test_referral_groups_keep_members_with_their_referrers_and_pack_whole_groups(program, manager):
    # given: a chain of referrals (a → b → c), a member alone, and a referred member whose referrer has no orders
    a, b, c, alone, quiet, friend = (member_enrol(actor=manager, program=program, customer=CustomerFactory(),
                                                  referrer=None)[0] for _i in range(6))
    Member.objects.filter(pk=b.pk).update(referred_by=a)
    Member.objects.filter(pk=c.pk).update(referred_by=b)
    Member.objects.filter(pk=friend.pk).update(referred_by=quiet)
    for member in (a, b, c, alone, friend):
        _imported(member.customer, HISTORY[:2], prefix=f"g{member.pk}")
    pending = Event.objects.filter(type="order.paid", customer__memberships__program=program)
    # when
    single = list(referral_groups(program, pending, 1))
    packed = list(referral_groups(program, pending, 5))
    # then: each group whole, in the order of its first customer; packed until a chunk holds 5 events
    ids = {m: m.customer_id for m in (a, b, c, alone, quiet, friend)}
    assert single == [frozenset({ids[a], ids[b], ids[c]}), frozenset({ids[alone]}),
                      frozenset({ids[quiet], ids[friend]})]
    assert packed == [frozenset({ids[a], ids[b], ids[c]}), frozenset({ids[alone], ids[quiet], ids[friend]})]


def test_orders_backfill_in_parallel_chunks_credits_each_referrer_once(program, manager):
    # given: a referrer with four friends and two members on their own, each friend and member with history
    referrer, _new = member_enrol(actor=manager, program=program, customer=CustomerFactory())
    friends = [member_enrol(actor=manager, program=program, customer=CustomerFactory(), referrer=referrer)[0]
               for _i in range(4)]
    others = [member_enrol(actor=manager, program=program, customer=CustomerFactory())[0] for _i in range(2)]
    for member in (*friends, *others):
        _imported(member.customer, prefix=f"p{member.pk}")
    before = _ledger(referrer)
    # when: chunks of one group each, two at a time (on PostgreSQL; one at a time elsewhere)
    result = orders_backfill(actor=manager, program=program, chunk_size=1, workers=2)
    # then
    assert result.applied == 6 * len(HISTORY) and result.referrer_points == 4 * 200
    assert [row[2] for row in _ledger(referrer)[len(before):]] == [200] * 4
    for member in (referrer, *friends, *others):
        _assert_consistent(member)
    # the same orders: the same points, and the friends' first-purchase bonus (200) on top
    assert {m.balance for m in others} == {others[0].balance}
    assert {m.balance for m in friends} == {others[0].balance + 200}


def test_orders_backfill_writes_no_timeline_events(program, manager, member):
    # given
    _imported(member.customer)
    before = set(Event.objects.exclude(type="order.paid").values_list("type", flat=True))
    count = Event.objects.count()
    # when
    result = orders_backfill(actor=manager, program=program)
    # then: the ledger moved, the timeline did not (no points.changed, no tier.changed)
    assert result.points > 0
    assert Event.objects.count() == count
    assert set(Event.objects.exclude(type="order.paid").values_list("type", flat=True)) == before
    member.refresh_from_db()
    assert member.tier.name == "银卡"
    _assert_consistent(member)


def test_orders_backfill_run_twice_applies_nothing_the_second_time(program, manager, member):
    # given
    _imported(member.customer)
    first = orders_backfill(actor=manager, program=program)
    member.refresh_from_db()
    ledger = _ledger(member)
    # when
    second = orders_backfill(actor=manager, program=program)
    # then
    assert first.applied == len(HISTORY) and second.applied == 0 and second.events == 0
    assert _ledger(member) == ledger
    assert AppliedEvent.objects.filter(program=program, event__type="order.paid").count() == len(HISTORY)
    _assert_consistent(member)


def test_orders_backfill_skips_what_live_processing_applied(program, manager, member):
    # given: the first orders came in live, the rest were imported afterwards
    _live(member.customer, HISTORY[:3])
    member.refresh_from_db()
    balance_live, entries_live = member.balance, PointsEntry.objects.filter(member=member).count()
    _imported(member.customer, HISTORY[3:])
    # when
    result = orders_backfill(actor=manager, program=program)
    # then: only the imported ones are applied, and the earlier purchases count for the tier and the numbers
    assert result.applied == len(HISTORY) - 3
    member.refresh_from_db()
    assert member.purchases == 6 and member.tier.name == "银卡"
    assert member.balance > balance_live
    assert PointsEntry.objects.filter(member=member).count() > entries_live
    assert AppliedEvent.objects.filter(program=program, event__customer=member.customer,
                                       event__type="order.paid").count() == len(HISTORY)
    _assert_consistent(member)


def test_orders_backfill_same_order_number_again_is_applied_and_earns_nothing(program, manager, member):
    # given
    events = _imported(member.customer, [(10, "100.00", "D1", "S1"), (9, "100.00", "D1", "S1")])
    # when
    result = orders_backfill(actor=manager, program=program)
    # then
    assert (result.applied, result.duplicate_orders, result.purchases) == (2, 1, 1)
    assert list(AppliedEvent.objects.filter(event__in=events).order_by("event_id").values_list("points", flat=True)) \
        == [100, 0]
    member.refresh_from_db()
    assert member.balance == 500 + 100
    _assert_consistent(member)


def test_orders_backfill_leaves_events_of_non_members_alone(program, manager, member):
    # given: a customer who is not a member, and one who left
    stranger = CustomerFactory()
    _imported(stranger, [(10, "100.00", "N1", "S1")])
    gone, _new = member_enrol(actor=manager, program=program, customer=CustomerFactory())
    Member.objects.filter(pk=gone.pk).update(status="left")
    _imported(gone.customer, [(10, "100.00", "N2", "S1")])
    # when
    result = orders_backfill(actor=manager, program=program)
    # then
    assert result.applied == 0 and result.events == 0
    assert not AppliedEvent.objects.filter(event__customer__in=[stranger, gone.customer],
                                           event__type="order.paid").exists()
    assert not Purchase.objects.exists()


def test_orders_backfill_of_a_narrowed_queryset_and_old_points_expire_later(program, manager, member):
    # given: points earned 30 months ago expire at the end of the month 24 months later
    events = _imported(member.customer, [(900, "300.00", "X1", "S1"), (10, "50.00", "X2", "S1")])
    # when: only the old order
    result = orders_backfill(actor=manager, program=program, events=Event.objects.filter(pk=events[0].pk))
    # then
    assert result.applied == 1
    lot = PointsLot.objects.get(entry__event_id=events[0].pk)
    assert lot.remaining == 300 and lot.expires_at < timezone.now()
    assert not AppliedEvent.objects.filter(event_id=events[1].pk).exists()
    from fidelis.loyalty.tasks import expire_points

    assert expire_points() == 300
    member.refresh_from_db()
    assert member.balance == 500
    _assert_consistent(member)


def test_orders_backfill_counts_coupons_and_tags_it_does_not_give(program, manager, member):
    # given: a rule that issues a coupon and adds a tag on big orders
    template = program.coupon_templates.order_by("pk").first()
    rule_save(actor=manager, program=program, data={
        "name": "大单送券", "trigger": "order.paid", "conditions": [{"kind": "amount_min", "value": "1000"}],
        "actions": [{"kind": "issue_coupon", "template": template.public_id}, {"kind": "add_tag", "tag": "大客户"}],
        "status": "active"})
    _imported(member.customer)
    # when
    result = orders_backfill(actor=manager, program=program)
    # then
    assert (result.coupons_not_issued, result.tags_not_added) == (3, 3)
    assert not member.customer.coupons.exists() and not member.customer.tags.exists()


def test_orders_backfill_set_tier_action_raises_the_tier(program, manager, member):
    # given
    gold = Tier.objects.get(program=program, rank=2)
    rule_save(actor=manager, program=program, data={
        "name": "S7 直升金卡", "trigger": "order.paid", "conditions": [{"kind": "store_in", "values": ["S7"]}],
        "actions": [{"kind": "set_tier", "tier": str(gold.pk)}], "status": "active"})
    _imported(member.customer)
    # when
    orders_backfill(actor=manager, program=program)
    # then: gold from the first S7 order on, so the last order earns 1.5 points per CNY
    member.refresh_from_db()
    assert member.tier == gold
    last = PointsEntry.objects.get(member=member, amount=Decimal("10.00"))
    assert last.points == 15
    _assert_consistent(member)


def test_orders_backfill_amounts_are_decimal_cny(program, manager, member):
    _imported(member.customer, [(5, "19.99", "M1", "S1")])
    orders_backfill(actor=manager, program=program)
    purchase = Purchase.objects.get(member=member)
    assert purchase.amount == Decimal("19.99") and purchase.points == 19
