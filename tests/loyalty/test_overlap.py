"""Two live earn rules that would reward the same events twice: a rule going live next to one is refused until
confirmed (`rule_activate`), and what counts as an overlap (`loyalty.overlap`)."""

from datetime import UTC, datetime

import pytest

from fidelis.core.errors import DomainError
from fidelis.loyalty.engine import RuleView
from fidelis.loyalty.models import Rule, RuleStatus
from fidelis.loyalty.overlap import conditions_can_hold_together, rule_overlaps, rules_overlap
from fidelis.loyalty.services import rule_activate, rule_save
from fidelis.loyalty.templates import rule_from_template

pytestmark = pytest.mark.django_db


def _draft(program, manager, **data) -> Rule:
    return rule_save(actor=manager, program=program, data={"name": "草稿", "status": RuleStatus.DRAFT, **data})


def test_rule_activate_a_copy_of_a_live_rule_is_refused_until_confirmed(program, manager):
    # given: the live welcome rule (member.joined → 500 points) and a second one from the same template
    live = Rule.objects.get(program=program, template="welcome")
    copy = rule_from_template(actor=manager, program=program, key="welcome")
    # when it is made live
    with pytest.raises(DomainError) as refused:
        rule_activate(actor=manager, rule=copy, status=RuleStatus.ACTIVE)
    # then it is refused, naming the live rule, and stays a draft
    assert (refused.value.code, refused.value.field) == ("rule_overlap", "status")
    assert live.name in str(refused.value.message)
    copy.refresh_from_db()
    assert copy.status == RuleStatus.DRAFT
    # and when the user confirms, it goes live
    rule_activate(actor=manager, rule=copy, status=RuleStatus.ACTIVE, confirm_overlap=True)
    copy.refresh_from_db()
    assert copy.status == RuleStatus.ACTIVE


def test_rule_activate_a_rule_with_a_subset_of_the_conditions_of_a_live_one_is_refused(program, manager):
    # given: "1 point per CNY" on every order is live; a draft gives points on orders of at least ¥200
    draft = _draft(program, manager, trigger="order.paid", conditions=[{"kind": "amount_min", "value": "200"}],
                   actions=[{"kind": "award_points", "points": 50}])
    # when / then
    with pytest.raises(DomainError) as refused:
        rule_activate(actor=manager, rule=draft, status=RuleStatus.ACTIVE)
    assert refused.value.code == "rule_overlap"
    assert Rule.objects.get(program=program, template="per_cny").name in str(refused.value.message)
    assert Rule.objects.get(pk=draft.pk).status == RuleStatus.DRAFT


def test_rule_activate_pausing_and_a_rule_without_overlap_need_no_confirmation(program, manager):
    # given: a draft that only tags customers (a tag added twice is one tag), and one on another trigger
    tagger = _draft(program, manager, trigger="order.paid", actions=[{"kind": "add_tag", "tag": "买家"}])
    app = _draft(program, manager, trigger="app.opened", actions=[{"kind": "award_points", "points": 5}])
    # when / then
    assert rule_activate(actor=manager, rule=tagger, status=RuleStatus.ACTIVE).status == RuleStatus.ACTIVE
    assert rule_activate(actor=manager, rule=app, status=RuleStatus.ACTIVE).status == RuleStatus.ACTIVE
    welcome = Rule.objects.get(program=program, template="welcome")
    assert rule_activate(actor=manager, rule=welcome, status=RuleStatus.PAUSED).status == RuleStatus.PAUSED


def test_rule_overlaps_lists_only_live_rules_of_the_same_program(program, manager):
    from fidelis.loyalty.apply.evaluator import rule_view
    from fidelis.loyalty.templates import starter_program

    other = starter_program(actor=manager, name="宠物会员")  # its own live welcome rule
    paused = rule_from_template(actor=manager, program=program, key="welcome")
    draft = rule_from_template(actor=manager, program=program, key="welcome")
    # then: the draft overlaps this program's live welcome rule only (not the paused copy, not the other program)
    assert [r.template for r in rule_overlaps(program, rule_view(draft))] == ["welcome"]
    assert all(r.program_id == program.pk and r.pk != paused.pk for r in rule_overlaps(program, rule_view(draft)))
    assert other.rules.filter(template="welcome", status=RuleStatus.ACTIVE).exists()


def _view(id, conditions=(), actions=({"kind": "award_points", "points": 10},), **kwargs) -> RuleView:
    return RuleView(id=id, trigger=kwargs.pop("trigger", "order.paid"), conditions=list(conditions),
                    actions=list(actions), **kwargs)


@pytest.mark.parametrize(("a", "b"), [
    ([{"kind": "amount_min", "value": "200"}], [{"kind": "amount_max", "value": "100"}]),
    ([{"kind": "channel_in", "values": ["wechat"]}], [{"kind": "channel_in", "values": ["store"]}]),
    ([{"kind": "store_in", "values": ["S1"]}], [{"kind": "store_in", "values": ["S2", "S3"]}]),
    ([{"kind": "tier_in", "values": ["金卡"]}], [{"kind": "tier_in", "values": ["银卡"]}]),
    ([{"kind": "first_purchase"}], [{"kind": "nth_purchase", "n": 2}]),
    ([{"kind": "date_window", "start": "2026-01-01", "end": "2026-01-31"}],
     [{"kind": "date_window", "start": "2026-02-01"}]),
    ([{"kind": "date_window", "weekdays": [6, 7]}], [{"kind": "date_window", "weekdays": [1, 2, 3]}]),
    # a Monday-to-Wednesday window and weekends only
    ([{"kind": "date_window", "start": "2026-03-02", "end": "2026-03-04"}],
     [{"kind": "date_window", "weekdays": [6, 7]}]),
])
def test_conditions_that_cannot_hold_together_do_not_overlap(a, b):
    assert not conditions_can_hold_together(a, b)
    assert not rules_overlap(_view(1, a), _view(2, b))


@pytest.mark.parametrize(("a", "b"), [
    ([], []),  # identical
    ([], [{"kind": "amount_min", "value": "200"}]),  # one a subset of the other
    ([{"kind": "store_in", "values": ["S1"]}], [{"kind": "amount_min", "value": "200"}]),
    ([{"kind": "channel_in", "values": ["wechat", "store"]}], [{"kind": "channel_in", "values": ["store"]}]),
    ([{"kind": "tag_in", "values": ["vip"]}], [{"kind": "tag_in", "values": ["new"]}]),  # a customer has both
    ([{"kind": "date_window", "weekdays": [5, 6]}], [{"kind": "date_window", "weekdays": [6, 7]}]),
])
def test_conditions_that_can_hold_together_overlap(a, b):
    assert conditions_can_hold_together(a, b)
    assert rules_overlap(_view(1, a), _view(2, b))


def test_rules_overlap_only_with_the_same_kind_of_reward_in_force_at_the_same_time():
    points = _view(1)
    assert rules_overlap(points, _view(2, actions=[{"kind": "points_per_cny", "rate": "1", "rounding": "floor"}]))
    assert not rules_overlap(points, _view(2, actions=[{"kind": "issue_coupon", "template": "T1"}]))
    assert not rules_overlap(points, _view(2, actions=[{"kind": "multiply", "factor": "2"}]))
    coupon = _view(1, actions=[{"kind": "issue_coupon", "template": "T1"}])
    assert rules_overlap(coupon, _view(2, actions=[{"kind": "issue_coupon", "template": "T1"}]))
    assert not rules_overlap(coupon, _view(2, actions=[{"kind": "issue_coupon", "template": "T2"}]))
    assert not rules_overlap(points, _view(2, trigger="member.joined"))
    january = _view(1, starts_at=datetime(2026, 1, 1, tzinfo=UTC), ends_at=datetime(2026, 2, 1, tzinfo=UTC))
    assert not rules_overlap(january, _view(2, starts_at=datetime(2026, 2, 1, tzinfo=UTC)))
    assert rules_overlap(january, _view(2, ends_at=datetime(2026, 1, 15, tzinfo=UTC)))


def test_a_higher_rule_that_stops_here_leaves_nothing_to_reward_twice():
    assert not rules_overlap(_view(1, priority=200, stop_further=True), _view(2, priority=100))
    assert rules_overlap(_view(1, priority=100, stop_further=True), _view(2, priority=200))
