"""The program's set-up pages: program, tiers, earn rules (templates, editor, preview, status), coupons, rewards."""

from decimal import Decimal

import pytest
from django.urls import reverse

from fidelis.accounts.models import AuditEntry, Role
from fidelis.loyalty.models import CouponTemplate, Program, Reward, Rule, RuleStatus, Tier
from fidelis.loyalty.services import member_enrol, rule_save
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def marketer(client, users):
    client.force_login(users[Role.MARKETING])
    return users[Role.MARKETING]


def _rule_post(**overrides) -> dict:
    """Return the editor's POST data of a rule "order.paid ≥ ¥200 → 50 points", changed by `overrides`."""
    data = {"name": "大单奖励", "description": "", "trigger": "order.paid", "trigger_other": "", "priority": "100",
            "starts_at": "", "ends_at": "", "cap_member_day": "", "cap_total": "", "status": "draft",
            "cond-0-kind": "amount_min", "cond-0-value": "200",
            "act-0-kind": "award_points", "act-0-points": "50"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# --- program ----------------------------------------------------------------------------------------------------

def test_program_create_offers_the_mall_template_when_there_is_no_program(client, marketer):
    # given no program
    url = reverse("loyalty:design_program_create")
    assert "starter-form" in client.get(url).content.decode()
    # when the marketer starts from the mall template
    response = client.post(url, {"starter": "1", "name": "星河会员", "objective": "basket"})
    # then the program has the template's tiers, coupons, rewards and live rules
    program = Program.objects.get()
    assert response.status_code == 302 and program.public_id in response["Location"]
    assert (program.name, program.objective) == ("星河会员", "basket")
    assert program.tiers.count() == 4 and program.coupon_templates.count() == 2 and program.rewards.count() == 3
    assert program.rules.filter(status=RuleStatus.ACTIVE).count() == 5


def test_program_create_empty_and_edit(client, marketer):
    # when an empty program is created from the form
    response = client.post(reverse("loyalty:design_program_create"), {
        "name": "会员俱乐部", "objective": "frequency", "currency_name": "积分", "point_value": "0.02",
        "expiry_months": "12", "expiry_notice_days": "30", "member_prefix": "V", "enrol_on_join_event": "on",
        "is_active": "on"})
    # then it exists, empty, with the values given
    program = Program.objects.get()
    assert response.status_code == 302
    assert (program.point_value, program.member_prefix, program.rules.count()) == (Decimal("0.02"), "V", 0)
    # and when it is edited with a point worth nothing, the error is shown and nothing changes
    url = reverse("loyalty:design_program_edit", args=[program.public_id])
    form = {"name": "会员俱乐部", "objective": "winback", "currency_name": "积分", "point_value": "0",
            "expiry_months": "12", "expiry_notice_days": "30", "member_prefix": "V", "is_active": "on"}
    response = client.post(url, form)
    assert response.status_code == 200 and 'id="error-point_value"' in response.content.decode()
    program.refresh_from_db()
    assert (program.objective, program.point_value) == ("frequency", Decimal("0.02"))
    # and with good values it is saved
    assert client.post(url, {**form, "point_value": "0.01"}).status_code == 302
    program.refresh_from_db()
    assert (program.objective, program.point_value, program.enrol_on_join_event) == (
        "winback", Decimal("0.01"), False)


# --- earn rules -------------------------------------------------------------------------------------------------

def test_rule_create_page_shows_the_five_templates(client, marketer, program):
    response = client.get(reverse("loyalty:design_rule_create", args=[program.public_id]))
    content = response.content.decode()
    assert response.status_code == 200
    for key in ("welcome", "follow_coupon", "per_cny", "birthday", "referral"):
        assert f'data-template="{key}"' in content
    assert 'id="coupon-follow_coupon"' in content  # the coupon to choose for the follow rule


def test_rule_from_template_creates_a_draft_and_opens_it_in_the_editor(client, marketer, program):
    # when
    response = client.post(reverse("loyalty:design_rule_from_template", args=[program.public_id]),
                           {"template": "welcome"})
    # then
    rule = Rule.objects.filter(program=program, template="welcome").latest("pk")
    assert response.status_code == 302 and response["Location"] == reverse("loyalty:design_rule_edit",
                                                                           args=[rule.public_id])
    assert rule.status == RuleStatus.DRAFT and rule.created_by == marketer
    assert (rule.trigger, rule.actions) == ("member.joined", [{"kind": "award_points", "points": 500}])
    page = client.get(response["Location"]).content.decode()
    assert 'name="act-0-points" value="500"' in page


def test_rule_from_the_follow_template_issues_the_chosen_coupon(client, marketer, program):
    # given
    coupon = program.coupon_templates.get(kind="percent")
    before = Rule.objects.count()
    url = reverse("loyalty:design_rule_from_template", args=[program.public_id])
    # when no coupon is chosen, nothing is created
    response = client.post(url, {"template": "follow_coupon"})
    assert response.status_code == 302 and Rule.objects.count() == before
    # when it is chosen
    client.post(url, {"template": "follow_coupon", "coupon_template": coupon.public_id})
    # then
    rule = Rule.objects.latest("pk")
    assert rule.trigger == "wechat.followed"
    assert rule.actions == [{"kind": "issue_coupon", "template": coupon.public_id}]


def test_rule_create_from_scratch_saves_the_rows_in_order(client, marketer, program):
    # given a blank editor
    url = reverse("loyalty:design_rule_create", args=[program.public_id])
    assert 'id="rule-form"' in client.get(url + "?blank=1").content.decode()
    gold = program.tiers.get(rank=2)
    # when the form is posted with rows numbered with gaps (rows were removed in the browser)
    response = client.post(url, _rule_post(**{
        "cond-3-kind": "store_in", "cond-3-values": "S1，S2",
        "cond-7-kind": "date_window", "cond-7-start": "2025-01-01", "cond-7-weekdays": ["6", "7"],
        "act-2-kind": "set_tier", "act-2-tier": str(gold.pk),
        "cap_member_day": "300", "stop_further": "on"}))
    # then
    rule = Rule.objects.get(program=program, name="大单奖励")
    assert response.status_code == 302
    assert rule.conditions == [{"kind": "amount_min", "value": "200"},
                               {"kind": "store_in", "values": ["S1", "S2"]},
                               {"kind": "date_window", "start": "2025-01-01", "weekdays": [6, 7]}]
    assert rule.actions == [{"kind": "award_points", "points": 50}, {"kind": "set_tier", "tier": str(gold.pk)}]
    assert (rule.cap_member_day, rule.stop_further, rule.status) == (300, True, RuleStatus.DRAFT)


def test_rule_with_an_impossible_condition_shows_the_error_and_saves_nothing(client, marketer, program):
    # given
    before = Rule.objects.count()
    # when the minimum amount is above the maximum
    response = client.post(reverse("loyalty:design_rule_create", args=[program.public_id]), _rule_post(**{
        "cond-0-value": "500", "cond-1-kind": "amount_max", "cond-1-value": "100"}))
    # then
    content = response.content.decode()
    assert response.status_code == 200 and 'id="error-conditions"' in content
    assert response.context["form"].group_errors["cond"]
    assert Rule.objects.count() == before


def test_rule_error_of_a_row_parameter_is_shown_on_that_row(client, marketer, program):
    # when the second condition has no values (only a comma)
    response = client.post(reverse("loyalty:design_rule_create", args=[program.public_id]), _rule_post(**{
        "cond-5-kind": "channel_in", "cond-5-values": ","}))
    # then the error is on row 2, parameter "values" (the service's field "conditions.1.values")
    rows = response.context["form"].condition_rows
    assert not rows[0].has_error
    assert [p.error for p in rows[1].params if p.name == "values"] != [""]
    assert 'class="rule-row invalid" id="row-cond-1"' in response.content.decode()
    assert not Rule.objects.filter(name="大单奖励").exists()


def test_rule_with_a_missing_parameter_or_an_amount_on_another_event_is_refused(client, marketer, program):
    url = reverse("loyalty:design_rule_create", args=[program.public_id])
    response = client.post(url, _rule_post(**{"act-0-points": ""}))
    assert response.context["form"].action_rows[0].params[0].error
    response = client.post(url, _rule_post(trigger="member.joined"))
    assert response.context["form"].group_errors["cond"]
    response = client.post(url, _rule_post(trigger="", trigger_other="nodot"))
    assert response.context["form"].errors["trigger_other"]
    assert not Rule.objects.filter(name="大单奖励").exists()


def test_rule_edit_changes_the_rule_and_keeps_an_unknown_trigger(client, marketer, program):
    # given a saved rule
    client.post(reverse("loyalty:design_rule_create", args=[program.public_id]), _rule_post())
    rule = Rule.objects.get(name="大单奖励")
    url = reverse("loyalty:design_rule_edit", args=[rule.public_id])
    # when it is changed to a custom event without conditions
    response = client.post(url, _rule_post(**{"trigger": "", "trigger_other": "app.opened", "cond-0-kind": None,
                                              "cond-0-value": None, "act-0-points": "5", "priority": "10"}))
    # then
    rule.refresh_from_db()
    assert response.status_code == 302
    assert (rule.trigger, rule.conditions, rule.actions, rule.priority) == (
        "app.opened", [], [{"kind": "award_points", "points": 5}], 10)
    assert 'value="app.opened"' in client.get(url).content.decode()


def test_rule_status_buttons_make_it_live_and_pause_it(client, marketer, program):
    rule = Rule.objects.filter(program=program, template="welcome").get()
    url = reverse("loyalty:design_rule_status", args=[rule.public_id])
    client.post(url, {"status": "paused"})
    rule.refresh_from_db()
    assert rule.status == RuleStatus.PAUSED
    client.post(url, {"status": "active"})
    rule.refresh_from_db()
    assert rule.status == RuleStatus.ACTIVE
    client.post(url, {"status": "nonsense"})
    rule.refresh_from_db()
    assert rule.status == RuleStatus.ACTIVE


def test_a_draft_rule_can_be_deleted_and_a_rule_that_went_live_only_paused(client, marketer, program):
    # given: a draft made from a template, and a live rule
    draft = rule_save(actor=marketer, program=program, data={"name": "草稿", "trigger": "order.paid",
                                                           "conditions": [], "actions": [{"kind": "award_points",
                                                                                          "points": 5}]})
    live = Rule.objects.filter(program=program, template="welcome").get()
    # when: both are deleted
    page = client.get(reverse("loyalty:design_rule_edit", args=[draft.public_id])).content.decode()
    assert 'id="delete-rule"' in page
    assert 'id="delete-rule"' not in client.get(reverse("loyalty:design_rule_edit", args=[live.public_id])).content.decode()
    client.post(reverse("loyalty:design_rule_delete", args=[draft.public_id]))
    client.post(reverse("loyalty:design_rule_delete", args=[live.public_id]))
    # then: the draft is gone with an audit entry, the live rule stays
    assert not Rule.objects.filter(pk=draft.pk).exists() and Rule.objects.filter(pk=live.pk).exists()
    assert AuditEntry.objects.filter(action="loyalty.rule_delete").count() == 1


def test_rule_row_adds_a_row_after_the_last_and_changes_its_kind(client, marketer, program):
    url = reverse("loyalty:design_rule_row", args=[program.public_id])
    # "add action" with two action rows in the form
    response = client.post(url, {"group": "act", "act-0-kind": "award_points", "act-4-kind": "add_tag"},
                           HTTP_HX_REQUEST="true")
    assert 'id="row-act-5"' in response.content.decode()
    # changing row 5 to "issue a coupon" offers the program's coupons
    response = client.post(url, {"group": "act", "index": "5", "act-5-kind": "issue_coupon"}, HTTP_HX_REQUEST="true")
    content = response.content.decode()
    assert 'name="act-5-template"' in content
    for coupon in program.coupon_templates.all():
        assert f'value="{coupon.public_id}"' in content
    # and "raise the tier" offers its tiers
    response = client.post(url, {"group": "act", "index": "5", "act-5-kind": "set_tier"}, HTTP_HX_REQUEST="true")
    assert all(tier.name in response.content.decode() for tier in program.tiers.all())


def test_preview_answers_with_the_numbers_and_saves_nothing(client, marketer, program, manager):
    # given two members who joined (two member.joined events in the last 30 days)
    for _i in range(2):
        member_enrol(actor=manager, program=program, customer=CustomerFactory(), channel="store")
    before = Rule.objects.count()
    # when a draft "member joined → 500 points" is previewed, before it even has a name
    response = client.post(reverse("loyalty:design_rule_preview", args=[program.public_id]), _rule_post(**{
        "name": "", "trigger": "member.joined", "cond-0-kind": None, "cond-0-value": None, "act-0-points": "500",
        "act-1-kind": "issue_coupon", "act-1-template": program.coupon_templates.get(kind="amount").public_id,
        "preview_days": "30"}), HTTP_HX_REQUEST="true")
    # then the partial shows what it would have given
    preview = response.context["preview"]
    assert response.status_code == 200 and 'id="preview-result"' in response.content.decode()
    assert (preview.events_matched, preview.members_reached, preview.points) == (2, 2, 1000)
    assert preview.cost == Decimal("10.00") and preview.coupons_total == 2
    assert len(preview.top_members) == 2
    assert Rule.objects.count() == before


def test_preview_of_a_saved_rule_with_a_window_and_a_bad_draft(client, marketer, program, manager):
    member_enrol(actor=manager, program=program, customer=CustomerFactory(), channel="store")
    rule = Rule.objects.get(program=program, template="welcome")
    url = reverse("loyalty:design_rule_preview", args=[program.public_id])
    # a chosen window, without htmx: the whole editor page with the preview
    response = client.post(url, _rule_post(**{
        "rule": rule.public_id, "trigger": "member.joined", "cond-0-kind": None, "cond-0-value": None,
        "act-0-points": "500", "preview_since": "2000-01-01", "preview_until": "2000-01-31"}))
    assert response.status_code == 200 and 'id="rule-form"' in response.content.decode()
    assert response.context["preview"].events_matched == 0
    # an impossible draft answers with the error instead of numbers
    response = client.post(url, _rule_post(**{"cond-0-value": "500", "cond-1-kind": "amount_max",
                                              "cond-1-value": "100"}), HTTP_HX_REQUEST="true")
    assert response.context["preview"] is None and 'id="preview-error"' in response.content.decode()
    # and a missing parameter is named by its row
    response = client.post(url, _rule_post(**{"act-0-points": ""}), HTTP_HX_REQUEST="true")
    assert response.context["preview"] is None and "2 · " not in response.context["preview_error"]
    assert response.context["preview_error"].count(" 1 · ") == 1


# --- tiers, coupons, rewards ------------------------------------------------------------------------------------

TIER = {"name": "黑金卡", "rank": "4", "basis": "spend", "threshold": "80000", "window_days": "365",
        "earn_multiplier": "2.5", "grace_days": "60", "benefits": "专属停车位", "color": "#222222"}


def test_tier_create_and_edit(client, marketer, program):
    # when
    response = client.post(reverse("loyalty:design_tier_create", args=[program.public_id]), TIER)
    # then
    tier = Tier.objects.get(program=program, name="黑金卡")
    assert response.status_code == 302
    assert (tier.rank, tier.threshold, tier.earn_multiplier, tier.color) == (4, Decimal("80000"), Decimal("2.5"),
                                                                            "#222222")
    assert "黑金卡" in client.get(reverse("loyalty:design_tiers", args=[program.public_id])).content.decode()
    # and when edited
    url = reverse("loyalty:design_tier_edit", args=[program.public_id, tier.pk])
    client.post(url, {**TIER, "threshold": "60000"})
    tier.refresh_from_db()
    assert tier.threshold == Decimal("60000")


def test_tier_with_the_rank_of_another_is_refused(client, marketer, program):
    response = client.post(reverse("loyalty:design_tier_create", args=[program.public_id]), {**TIER, "rank": "1"})
    assert response.status_code == 200 and 'id="error-rank"' in response.content.decode()
    assert not Tier.objects.filter(name="黑金卡").exists()


COUPON = {"name": "满300减50", "kind": "amount", "value": "50", "min_spend": "300", "valid_days": "14",
          "per_customer_limit": "2", "total_limit": "1000", "is_active": "on"}


def test_coupon_template_create_and_edit(client, marketer, program):
    # when
    response = client.post(reverse("loyalty:design_coupon_create", args=[program.public_id]), COUPON)
    # then
    coupon = CouponTemplate.objects.get(program=program, name="满300减50")
    assert response.status_code == 302
    assert (coupon.value, coupon.min_spend, coupon.valid_days, coupon.total_limit) == (
        Decimal("50"), Decimal("300"), 14, 1000)
    listing = client.get(reverse("loyalty:design_coupons", args=[program.public_id])).content.decode()
    assert f'data-coupon="{coupon.public_id}"' in listing
    # and when edited into a percentage above 100, the error is on the value and nothing changes
    url = reverse("loyalty:design_coupon_edit", args=[coupon.public_id])
    response = client.post(url, {**COUPON, "kind": "percent", "value": "150"})
    assert response.status_code == 200 and 'id="error-value"' in response.content.decode()
    coupon.refresh_from_db()
    assert coupon.kind == "amount"
    client.post(url, {**COUPON, "kind": "percent", "value": "15", "max_discount": "40",
                      "valid_from": "2025-01-01T00:00", "valid_until": "2025-12-31T23:59"})
    coupon.refresh_from_db()
    assert (coupon.kind, coupon.value, coupon.max_discount, coupon.valid_until.year) == (
        "percent", Decimal("15"), Decimal("40"), 2025)


def test_reward_create_and_edit(client, marketer, program):
    url = reverse("loyalty:design_reward_create", args=[program.public_id])
    coupon = program.coupon_templates.get(kind="amount")
    # a coupon reward without its coupon is refused
    response = client.post(url, {"name": "换券", "kind": "coupon", "points_cost": "800"})
    assert response.status_code == 200 and 'id="error-coupon_template"' in response.content.decode()
    assert not Reward.objects.filter(name="换券").exists()
    # with it, it is saved
    client.post(url, {"name": "换券", "kind": "coupon", "points_cost": "800", "coupon_template": coupon.pk,
                      "stock": "50", "is_active": "on"})
    reward = Reward.objects.get(name="换券")
    assert (reward.coupon_template, reward.stock, reward.min_tier) == (coupon, 50, None)
    # and edited: for gold members and above
    gold = program.tiers.get(rank=2)
    client.post(reverse("loyalty:design_reward_edit", args=[reward.public_id]),
                {"name": "换券", "kind": "coupon", "points_cost": "600", "coupon_template": coupon.pk,
                 "min_tier": gold.pk, "is_active": "on"})
    reward.refresh_from_db()
    assert (reward.points_cost, reward.min_tier, reward.stock) == (600, gold, None)
    assert "换券" in client.get(reverse("loyalty:design_rewards", args=[program.public_id])).content.decode()


def test_reward_cannot_use_a_coupon_of_another_program(client, marketer, program, manager):
    other = Program.objects.create(name="另一个")
    foreign = CouponTemplate.objects.create(program=other, name="外部券", value=Decimal("5"))
    response = client.post(reverse("loyalty:design_reward_create", args=[program.public_id]),
                           {"name": "换券", "kind": "coupon", "points_cost": "800", "coupon_template": foreign.pk})
    assert response.status_code == 200 and not Reward.objects.filter(name="换券").exists()


# --- who may ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", [Role.READONLY, Role.SALES, Role.SERVICE])
def test_design_pages_are_refused_to_other_roles(client, users, program, role):
    client.force_login(users[role])
    rule = program.rules.first()
    coupon = program.coupon_templates.first()
    pages = [reverse("loyalty:design_program_create"),
             reverse("loyalty:design_program_edit", args=[program.public_id]),
             reverse("loyalty:design_tiers", args=[program.public_id]),
             reverse("loyalty:design_rules", args=[program.public_id]),
             reverse("loyalty:design_rule_create", args=[program.public_id]),
             reverse("loyalty:design_rule_edit", args=[rule.public_id]),
             reverse("loyalty:design_coupons", args=[program.public_id]),
             reverse("loyalty:design_coupon_edit", args=[coupon.public_id]),
             reverse("loyalty:design_rewards", args=[program.public_id])]
    for url in pages:
        assert client.get(url).status_code == 403, url
    before = Rule.objects.count()
    assert client.post(reverse("loyalty:design_rule_from_template", args=[program.public_id]),
                       {"template": "welcome"}).status_code == 403
    assert client.post(reverse("loyalty:design_rule_status", args=[rule.public_id]),
                       {"status": "paused"}).status_code == 403
    assert client.post(reverse("loyalty:design_rule_preview", args=[program.public_id]),
                       _rule_post()).status_code == 403
    rule.refresh_from_db()
    assert Rule.objects.count() == before and rule.status == RuleStatus.ACTIVE


def test_manager_sees_every_design_page(client, manager, program):
    client.force_login(manager)
    for name in ("design_program_edit", "design_tiers", "design_rules", "design_rule_create", "design_coupons",
                 "design_rewards", "design_tier_create", "design_coupon_create", "design_reward_create"):
        assert client.get(reverse(f"loyalty:{name}", args=[program.public_id])).status_code == 200, name
    for rule in program.rules.all():
        assert client.get(reverse("loyalty:design_rule_edit", args=[rule.public_id])).status_code == 200


def test_the_rule_editor_shows_what_the_rule_has_given_from_the_ledger(client, marketer, member):
    # given: a purchase of ¥1,234 earns the starter program's "1 point per CNY" (and a welcome bonus by another rule)
    from fidelis.events.services import record_event
    from fidelis.loyalty.handlers import apply_event

    event, _new = record_event(customer=member.customer, type="order.paid", channel="store",
                               payload={"amount": "1234.00", "order_no": "T-1"}, idempotency_key="given-1")
    apply_event(event.pk)
    per_cny = member.program.rules.get(template="per_cny")
    given = sum(per_cny.entries.values_list("points", flat=True))
    assert given >= 1234 and per_cny.points_awarded == 0  # an uncapped rule does not count on its own row
    # when the marketer opens the rule
    body = client.get(reverse("loyalty:design_rule_edit", args=[per_cny.public_id])).content.decode()
    # then the header gives the ledger's figure, grouped by thousands
    assert f"{given:,}" in body


# --- two live rules rewarding the same events ---------------------------------------------------------------------

def test_making_live_a_copy_of_a_live_rule_asks_for_confirmation(client, marketer, program):
    # given: a second "new member: 500 points" next to the live one
    live = Rule.objects.get(program=program, template="welcome")
    copy = Rule.objects.create(program=program, name="新会员 500 积分（副本）", trigger="member.joined",
                               actions=[{"kind": "award_points", "points": 500}], status=RuleStatus.DRAFT)
    url = reverse("loyalty:design_rule_status", args=[copy.public_id])
    # when the marketer makes it live
    response = client.post(url, {"status": "active"})
    # then the editor warns, naming the live rule, offers to confirm, and the copy is still a draft
    content = response.content.decode()
    assert response.status_code == 409 and 'id="rule-overlap"' in content and 'id="confirm-overlap"' in content
    assert live.name in content
    copy.refresh_from_db()
    assert copy.status == RuleStatus.DRAFT
    # and when they confirm
    response = client.post(url, {"status": "active", "confirm_overlap": "1"})
    # then it is live
    assert response.status_code == 302
    copy.refresh_from_db()
    assert copy.status == RuleStatus.ACTIVE


def test_saving_a_rule_as_live_that_overlaps_a_live_one_asks_for_confirmation(client, marketer, program):
    # given: "order ≥ ¥200 → 50 points" saved as live, next to the live "1 point per CNY"
    url = reverse("loyalty:design_rule_create", args=[program.public_id])
    before = Rule.objects.count()
    response = client.post(url, _rule_post(status="active"))
    # then nothing is saved and the form asks to confirm, naming the live rule
    content = response.content.decode()
    assert response.status_code == 200 and 'id="error-confirm_overlap"' in content
    assert 'name="confirm_overlap"' in content
    assert Rule.objects.get(program=program, template="per_cny").name in content
    assert Rule.objects.count() == before
    # when they tick the box
    response = client.post(url, _rule_post(status="active", confirm_overlap="on"))
    # then it is saved live
    assert response.status_code == 302
    assert Rule.objects.get(name="大单奖励").status == RuleStatus.ACTIVE


def test_editing_a_live_rule_without_changing_what_it_gives_asks_nothing(client, marketer, program):
    # given: the live "1 point per CNY", renamed in the editor
    rule = Rule.objects.get(program=program, template="per_cny")
    data = _rule_post(name="每元一分", priority=str(rule.priority), status="active", **{
        "cond-0-kind": None, "cond-0-value": None, "act-0-kind": "points_per_cny", "act-0-points": None,
        "act-0-rate": "1", "act-0-rounding": "floor"})
    # when
    response = client.post(reverse("loyalty:design_rule_edit", args=[rule.public_id]), data)
    # then it is saved without a question
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.name, rule.status) == ("每元一分", RuleStatus.ACTIVE)


def test_the_preview_lists_the_live_rules_that_reward_the_same_events(client, marketer, program, manager):
    # given: two members joined; a draft copy of the live welcome rule
    for _i in range(2):
        member_enrol(actor=manager, program=program, customer=CustomerFactory(), channel="store")
    live = Rule.objects.get(program=program, template="welcome")
    # when the draft is previewed
    response = client.post(reverse("loyalty:design_rule_preview", args=[program.public_id]), _rule_post(**{
        "trigger": "member.joined", "cond-0-kind": None, "cond-0-value": None, "act-0-points": "500",
        "preview_days": "30"}), HTTP_HX_REQUEST="true")
    # then the preview names the live rule and the two events both would reward
    preview = response.context["preview"]
    assert [(o.public_id, o.events) for o in preview.overlaps] == [(live.public_id, 2)]
    assert preview.double_rewarded == 2
    content = response.content.decode()
    assert 'id="preview-overlaps"' in content and f'data-overlap="{live.public_id}"' in content
