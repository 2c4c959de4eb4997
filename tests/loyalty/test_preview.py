"""The rule preview: what a rule would have given over past events, by the live engine, without writing."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from fidelis.core.errors import DomainError
from fidelis.events.services import record_event
from fidelis.loyalty.apply.evaluator import BulkEvaluator
from fidelis.loyalty.engine import EventFacts, RuleView, evaluate
from fidelis.loyalty.models import PointsEntry, Rule
from fidelis.loyalty.preview import preview_rule
from fidelis.loyalty.services import member_enrol, rule_save
from tests.factories import CustomerFactory

# --- the bulk evaluator answers as evaluate() does -------------------------------------------------------------

CONDITIONS = st.sampled_from([
    {"kind": "amount_min", "value": "100"}, {"kind": "amount_max", "value": "50"},
    {"kind": "channel_in", "values": ["wechat", "online"]}, {"kind": "store_in", "values": ["S1"]},
    {"kind": "category_in", "values": ["鞋"]}, {"kind": "tier_in", "values": ["金卡", "3"]},
    {"kind": "tag_in", "values": ["vip"]}, {"kind": "date_window", "start": "2024-03-01", "end": "2024-03-31"},
    {"kind": "date_window", "weekdays": [6, 7]}, {"kind": "birthday_month"}, {"kind": "first_purchase"},
    {"kind": "nth_purchase", "n": 2}, {"kind": "has_referrer"}])
ACTIONS = st.sampled_from([
    {"kind": "award_points", "points": 10}, {"kind": "points_per_cny", "rate": "1", "rounding": "floor"},
    {"kind": "multiply", "factor": "2"}, {"kind": "issue_coupon", "template": "T"},
    {"kind": "award_referrer", "points": 5}, {"kind": "add_tag", "tag": "x"}])
RULES = st.lists(st.tuples(st.lists(CONDITIONS, max_size=2), st.lists(ACTIONS, min_size=1, max_size=2),
                           st.integers(0, 3), st.booleans(), st.booleans()), min_size=1, max_size=8)
FACTS = st.builds(
    EventFacts, type=st.just("order.paid"),
    occurred_at=st.datetimes(min_value=datetime(2024, 2, 25), max_value=datetime(2024, 4, 5), timezones=st.just(UTC)),
    channel=st.sampled_from(["store", "wechat", "online"]),
    amount=st.one_of(st.none(), st.decimals(min_value=0, max_value=300, places=2)),
    store=st.sampled_from(["", "S1", "S2"]), categories=st.frozensets(st.sampled_from(["鞋", "包"])),
    is_member=st.booleans(), tier_id=st.sampled_from([None, 1, 2, 3]), tier_multiplier=st.sampled_from(
        [Decimal("1"), Decimal("1.5")]), tags=st.frozensets(st.sampled_from(["vip", "new"])),
    birthday=st.one_of(st.none(), st.dates(min_value=date(1980, 1, 1), max_value=date(2000, 12, 31))),
    purchase_number=st.integers(0, 3), has_referrer=st.booleans())


@settings(max_examples=150, deadline=None)
@given(specs=RULES, events=st.lists(FACTS, min_size=1, max_size=25))
def test_bulk_evaluator_gives_the_outcomes_of_evaluate(specs, events):
    rules = [RuleView(id=i + 1, trigger="order.paid", conditions=conditions, actions=actions, priority=priority,
                      stop_further=stop,
                      starts_at=datetime(2024, 3, 10, tzinfo=UTC) if late else None)
             for i, (conditions, actions, priority, stop, late) in enumerate(specs)]
    rules.sort(key=lambda r: (-r.priority, r.id))
    tier_names = {1: "银卡", 2: "金卡", 3: "钻石卡"}
    bulk = BulkEvaluator(rules, tier_names, "order.paid")
    for facts in events * 2:  # the second time from what it remembered
        assert bulk.evaluate(facts, bulk.local_day(facts.occurred_at))[1] == evaluate(rules, facts, tier_names)


# --- previews over a database ------------------------------------------------------------------------------------

pytestmark_db = pytest.mark.django_db(transaction=True)


def _paid_at(order_no, days_ago):
    return (timezone.now() - timedelta(days=days_ago)).replace(hour=4, minute=len(order_no), second=0)


def _pay(customer, amount, order_no, days_ago, store="S1", channel="store"):
    when = _paid_at(order_no, days_ago)
    record_event(customer=customer, type="order.paid", occurred_at=when, channel=channel,
                 payload={"amount": amount, "order_no": order_no, "store": store}, idempotency_key=f"t:{order_no}")


@pytest.fixture
def history(program, manager):
    """Three members and a non-member with a month of small orders, applied live (nobody leaves the first tier)."""
    members = []
    for _i in range(3):
        customer = CustomerFactory()
        member, _new = member_enrol(actor=manager, program=program, customer=customer,
                                    joined_at=timezone.now() - timedelta(days=60))
        members.append(member)
    stranger = CustomerFactory()
    _pay(members[0].customer, "100.00", "A1", 20)
    _pay(members[0].customer, "250.50", "A22", 10, store="S2")
    _pay(members[0].customer, "30.00", "A333", 10, store="S2")
    _pay(members[1].customer, "80.00", "B1", 15, channel="wechat")
    _pay(members[2].customer, "999.00", "C1", 5)
    _pay(stranger, "500.00", "N1", 5)
    return members, stranger


def _window():
    return timezone.now() - timedelta(days=30), timezone.now() + timedelta(minutes=1)


@pytestmark_db
def test_preview_of_a_live_rule_gives_what_it_gave(program, history):
    # given
    members, _stranger = history
    rule = Rule.objects.get(program=program, template="per_cny")
    given = PointsEntry.objects.filter(rule=rule).aggregate(s=Sum("points"))["s"]
    # when
    preview = preview_rule(program, rule, *_window())
    # then
    assert preview.points == given == 100 + 250 + 30 + 80 + 999
    assert (preview.events_scanned, preview.events_matched) == (6, 6)
    assert (preview.members_reached, preview.customers_reached) == (3, 4)
    assert preview.cost == Decimal("14.59")
    assert [(m.number, m.points) for m in preview.top_members] == [
        (members[2].number, 999), (members[0].number, 380), (members[1].number, 80)]
    assert preview.top_members[0].name == members[2].customer.name


@pytestmark_db
def test_preview_of_a_draft_writes_nothing_and_multiplies_what_higher_rules_give(program, history):
    # given: "double points at S2", not saved
    draft = RuleView(id=0, trigger="order.paid", conditions=[{"kind": "store_in", "values": ["S2"]}],
                     actions=[{"kind": "multiply", "factor": "2"}], priority=50)
    # when
    with CaptureQueriesContext(connection) as queries:
        preview = preview_rule(program, draft, *_window())
    # then
    assert preview.events_matched == 2 and preview.points == 250 + 30 and preview.members_reached == 1
    writes = [q["sql"] for q in queries.captured_queries
              if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]
    assert writes == []


@pytestmark_db
def test_preview_counts_non_members_as_customers_reached_without_points(program, history):
    draft = RuleView(id=0, trigger="order.paid", conditions=[{"kind": "amount_min", "value": "500"}],
                     actions=[{"kind": "award_points", "points": 10}])
    preview = preview_rule(program, draft, *_window())
    assert (preview.events_matched, preview.customers_reached, preview.members_reached) == (2, 2, 1)
    assert preview.points == 10


@pytestmark_db
def test_preview_caps_per_member_per_day(program, history):
    draft = RuleView(id=0, trigger="order.paid", conditions=[], actions=[{"kind": "award_points", "points": 100}])
    preview = preview_rule(program, draft, *_window(), cap_member_day=150)
    # the two S2 orders of the first member are on one day: 100 + 50
    assert preview.points == 100 + 100 + 50 + 100 + 100
    assert preview.capped_points == 50


@pytestmark_db
def test_preview_counts_coupons_within_the_per_customer_limit(program, history):
    welcome = program.coupon_templates.get(per_customer_limit=1)
    draft = RuleView(id=0, trigger="order.paid", conditions=[],
                     actions=[{"kind": "issue_coupon", "template": welcome.public_id}])
    preview = preview_rule(program, draft, *_window())
    assert preview.coupons == {welcome.name: 4} and preview.coupons_total == 4
    assert preview.points == 0
    # and says to whom and what they cost: face value, and nothing known of their use before any coupon was issued
    assert preview.coupon_customers == 4
    assert preview.coupon_face_value == 4 * welcome.value and preview.coupon_use_rate is None


@pytestmark_db
def test_preview_costs_coupons_at_the_programs_own_use_rate(program, history, manager):
    from fidelis.loyalty.models import Coupon, CouponStatus
    from fidelis.loyalty.services import coupon_issue

    welcome = program.coupon_templates.get(per_customer_limit=1)
    # given: four coupons issued so far, one of them used
    for i, customer in enumerate(CustomerFactory.create_batch(4)):
        coupon = coupon_issue(actor=manager, template=welcome, customer=customer)
        if i == 0:
            Coupon.objects.filter(pk=coupon.pk).update(status=CouponStatus.REDEEMED)
    draft = RuleView(id=0, trigger="order.paid", conditions=[],
                     actions=[{"kind": "issue_coupon", "template": welcome.public_id}])
    preview = preview_rule(program, draft, *_window())
    assert preview.coupon_use_rate == Decimal("0.25")
    assert preview.coupon_expected_cost == (preview.coupon_face_value * Decimal("0.25")).quantize(Decimal("0.01"))


@pytestmark_db
def test_preview_first_purchase_reads_the_purchase_history(program, history, manager):
    # given: the first member bought before the window too, so none of their orders in it is their first
    members, _stranger = history
    _pay(members[0].customer, "10.00", "A0", 45)
    draft = RuleView(id=0, trigger="order.paid", conditions=[{"kind": "first_purchase"}],
                     actions=[{"kind": "award_points", "points": 300}])
    # when
    preview = preview_rule(program, draft, *_window())
    # then
    assert preview.events_matched == 2 and preview.points == 600
    assert {m.number for m in preview.top_members} == {members[1].number, members[2].number}


@pytestmark_db
def test_preview_a_higher_rule_that_stops_here_stops_the_previewed_one(program, history, manager):
    rule_save(actor=manager, program=program, data={
        "name": "微信专享", "trigger": "order.paid", "conditions": [{"kind": "channel_in", "values": ["wechat"]}],
        "actions": [{"kind": "award_points", "points": 1}], "priority": 300, "stop_further": True,
        "status": "active"})
    preview = preview_rule(program, Rule.objects.get(program=program, template="per_cny"), *_window())
    assert preview.events_matched == 5 and preview.points == 100 + 250 + 30 + 999


@pytestmark_db
def test_preview_of_the_welcome_rule_counts_only_this_programs_new_members(program, manager):
    # given: one customer joins this program, another joins a second program
    from fidelis.loyalty.templates import starter_program

    member_enrol(actor=manager, program=program, customer=CustomerFactory())
    member_enrol(actor=manager, program=starter_program(actor=manager, name="宠物会员"), customer=CustomerFactory())
    # when
    preview = preview_rule(program, Rule.objects.get(program=program, template="welcome"), *_window())
    # then
    assert (preview.events_scanned, preview.events_matched, preview.points) == (1, 1, 500)


@pytestmark_db
def test_preview_of_a_window_that_ends_before_it_starts_is_refused(program):
    since, until = _window()
    with pytest.raises(DomainError) as raised:
        preview_rule(program, Rule.objects.filter(program=program).first(), until, since)
    assert raised.value.field == "until"


@pytestmark_db
def test_preview_counts_members_only_from_the_day_they_joined(program, history, manager):
    # given: a customer who bought before joining
    late = CustomerFactory()
    _pay(late, "400.00", "L1", 8)
    member_enrol(actor=manager, program=program, customer=late)
    # when
    preview = preview_rule(program, Rule.objects.get(program=program, template="per_cny"), *_window())
    # then: the order counts as a customer's, not a member's
    assert preview.events_matched == 7 and preview.customers_reached == 5 and preview.members_reached == 3
    assert preview.points == 100 + 250 + 30 + 80 + 999


@pytestmark_db
@pytest.mark.parametrize("conditions", [
    [{"kind": "store_in", "values": ["S2"]}],
    [{"kind": "channel_in", "values": ["wechat"]}],
    [{"kind": "date_window", "start": "2020-01-01", "end": "2999-12-31", "weekdays": [1, 2, 3, 4, 5]}],
    [{"kind": "tier_in", "values": ["普通会员"]}],
    [{"kind": "tag_in", "values": ["VIP"]}],
    [{"kind": "birthday_month"}],
    [{"kind": "has_referrer"}],
    [{"kind": "store_in", "values": ["S1", "POS"]}, {"kind": "amount_min", "value": "90"}],
])
def test_preview_reads_fewer_events_and_gives_the_same_answer(program, history, manager, conditions):
    # given: a tagged customer, a birthday this month and a referred member
    from fidelis.customers.services import customer_tag_add

    members, stranger = history
    customer_tag_add(actor=None, customer=members[1].customer, tag_name="VIP", via="rule")
    customer = members[2].customer
    customer.birthday = date(1990, timezone.localtime(_paid_at("C1", 5)).month, 1)  # the month of the order
    customer.save()
    friend, _new = member_enrol(actor=manager, program=program, customer=CustomerFactory(), referrer=members[0],
                                joined_at=timezone.now() - timedelta(days=40))
    _pay(friend.customer, "120.00", "F1", 3, store="S2")
    draft = RuleView(id=0, trigger="order.paid", conditions=conditions,
                     actions=[{"kind": "award_points", "points": 7}, {"kind": "issue_coupon", "template": "x"}])
    # when
    narrowed = preview_rule(program, draft, *_window())
    full = preview_rule(program, draft, *_window(), narrow=False)
    # then
    assert narrowed.events_read < full.events_read == full.events_scanned == narrowed.events_scanned == 7
    assert narrowed.events_matched > 0
    same = ("events_matched", "members_reached", "customers_reached", "points", "top_members")
    assert [getattr(narrowed, name) for name in same] == [getattr(full, name) for name in same]


@pytestmark_db
def test_preview_counts_the_events_a_live_rule_would_reward_too(program, history):
    # given: a draft "orders of at least ¥200 → 50 points" next to the live "1 point per CNY" (and the referral
    # bonus, which rewards first purchases of referred members: none here)
    draft = RuleView(id=0, trigger="order.paid", conditions=[{"kind": "amount_min", "value": "200"}],
                     actions=[{"kind": "award_points", "points": 50}], priority=100)
    per_cny = Rule.objects.get(program=program, template="per_cny")
    referral = Rule.objects.get(program=program, template="referral")
    # when
    preview = preview_rule(program, draft, *_window())
    # then: both give points for the two members' big orders (the stranger's earns no points from either)
    assert (preview.events_matched, preview.points) == (3, 100)
    assert {o.public_id: o.events for o in preview.overlaps} == {per_cny.public_id: 2, referral.public_id: 0}
    assert preview.double_rewarded == 2
    # and a rule that gives something else, or never on the same events, overlaps nothing
    tagger = RuleView(id=0, trigger="order.paid", conditions=[], actions=[{"kind": "add_tag", "tag": "大单"}])
    assert preview_rule(program, tagger, *_window()).overlaps == []
