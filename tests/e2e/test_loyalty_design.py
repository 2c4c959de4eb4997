"""Designing the member club in a real browser: earn rules from templates, the preview, rows added with htmx."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from fidelis.accounts.models import Role
from fidelis.loyalty.models import Rule, RuleStatus
from fidelis.loyalty.services import coupon_template_save, member_enrol, program_save, tier_save
from tests.factories import CustomerFactory

pytestmark = pytest.mark.e2e


@pytest.fixture
def club(staff):
    """A program without rules: one tier, a welcome coupon, and two customers who joined it."""
    manager = staff[Role.MANAGER]
    program = program_save(actor=manager, data={"name": "星河会员俱乐部"})
    tier_save(actor=manager, program=program, data={"name": "普通会员", "rank": 0})
    coupon = coupon_template_save(actor=manager, program=program, data={
        "name": "关注有礼 满100减20", "kind": "amount", "value": Decimal("20"), "min_spend": Decimal("100"),
        "valid_days": 30, "per_customer_limit": 1})
    for name in ("王芳", "刘洋"):
        member_enrol(actor=manager, program=program, customer=CustomerFactory(name=name), channel="store")
    return program, coupon


def test_marketer_creates_the_welcome_rule_from_its_template_previews_it_and_makes_it_live(
        page, live_server, staff, club, log_in, artifacts):
    program, _coupon = club
    # given a marketer on the "new earn rule" page
    log_in(page, "marketing")
    page.goto(f"{live_server.url}/loyalty/design/program/{program.public_id}/rules/new/")
    expect(page.locator("#rule-templates [data-template]")).to_have_count(6)  # five templates and a blank rule
    # when they start from "new member: 500 points"
    with page.expect_navigation():
        page.click("[data-template=welcome] button[type=submit]")
    # then the draft opens in the editor
    rule = Rule.objects.get(program=program, template="welcome")
    expect(page).to_have_url(re.compile(rf"/loyalty/design/rules/{rule.public_id}/$"))
    expect(page.locator("[name=act-0-points]")).to_have_value("500")
    expect(page.locator("[data-status=draft]").first).to_be_visible()
    # when they preview it over the last 30 days
    page.click("#preview-button")
    # then they see what it would have given the two members who joined, without leaving the page
    expect(page.locator("[data-preview=events]")).to_have_text("2")
    expect(page.locator("[data-preview=members]")).to_have_text("2")
    expect(page.locator("[data-preview=points]")).to_have_text(re.compile(r"^1[,.]?000$"))
    expect(page.locator("[data-preview=cost]")).to_contain_text("10.00")
    expect(page.locator("#preview-top tbody tr")).to_have_count(2)
    expect(page).to_have_url(re.compile(rf"/loyalty/design/rules/{rule.public_id}/$"))
    page.screenshot(path=str(artifacts / "loyalty-rule-preview.png"), full_page=True)
    # when they make it live
    with page.expect_navigation():
        page.click("#activate-rule")
    # then
    expect(page.locator(".page-head [data-status=active]")).to_be_visible()
    expect(page.locator("#pause-rule")).to_be_visible()
    rule.refresh_from_db()
    assert rule.status == RuleStatus.ACTIVE


def test_marketer_creates_the_follow_rule_choosing_the_coupon(page, live_server, staff, club, log_in):
    program, coupon = club
    log_in(page, "marketing")
    page.goto(f"{live_server.url}/loyalty/design/program/{program.public_id}/rules/new/")
    # when they choose the coupon on the "follows the official account" card and use it
    page.select_option("#coupon-follow_coupon", coupon.public_id)
    with page.expect_navigation():
        page.click("[data-template=follow_coupon] button[type=submit]")
    # then the rule issues that coupon, shown as the chosen one in the editor
    rule = Rule.objects.get(program=program, template="follow_coupon")
    assert (rule.trigger, rule.actions) == ("wechat.followed", [{"kind": "issue_coupon",
                                                                 "template": coupon.public_id}])
    expect(page.locator("[name=act-0-kind]")).to_have_value("issue_coupon")
    expect(page.locator("[name=act-0-template]")).to_have_value(coupon.public_id)
    expect(page.locator("[name=trigger]")).to_have_value("wechat.followed")


def _htmx_settled(page) -> None:
    """Wait until htmx has no request in flight and has processed (settled) what it swapped in last."""
    expect(page.locator(".htmx-request, .htmx-added, .htmx-settling, .htmx-swapping")).to_have_count(0)


def test_marketer_builds_a_rule_row_by_row_and_sees_the_error_on_the_row(page, live_server, staff, club, log_in,
                                                                         artifacts):
    program, coupon = club
    log_in(page, "marketing")
    page.goto(f"{live_server.url}/loyalty/design/program/{program.public_id}/rules/new/?blank=1")
    page.fill("[name=name]", "周末满额送券")
    page.select_option("[name=trigger]", "order.paid")
    # when a condition is added and made "store is one of", with no store named
    page.click("#add-condition")
    expect(page.locator("#cond-rows .rule-row")).to_have_count(1)
    _htmx_settled(page)  # the new row's select reacts only once htmx has processed it
    page.select_option("[name=cond-0-kind]", "store_in")
    expect(page.locator("#row-cond-0 [name=cond-0-values]")).to_be_visible()
    page.fill("[name=cond-0-values]", "，")
    # and a second condition is added, then removed again
    page.click("#add-condition")
    expect(page.locator("#cond-rows .rule-row")).to_have_count(2)
    page.locator("#row-cond-1 .remove").click()
    expect(page.locator("#cond-rows .rule-row")).to_have_count(1)
    # and the first action becomes "issue a coupon", choosing it from the program's coupons
    _htmx_settled(page)
    page.select_option("[name=act-0-kind]", "issue_coupon")
    expect(page.locator("[name=act-0-template]")).to_be_visible()
    _htmx_settled(page)
    page.select_option("[name=act-0-template]", coupon.public_id)
    with page.expect_navigation():
        page.click("#save-rule")
    # then the missing store is marked on its row and nothing is saved
    expect(page.locator("#row-cond-0.invalid .error")).to_be_visible()
    page.screenshot(path=str(artifacts / "loyalty-rule-error.png"), full_page=True)
    assert not Rule.objects.filter(name="周末满额送券").exists()
    # when the store is named
    page.fill("[name=cond-0-values]", "静安店, 徐汇店")
    with page.expect_navigation():
        page.click("#save-rule")
    # then the rule is saved
    rule = Rule.objects.get(name="周末满额送券")
    assert rule.conditions == [{"kind": "store_in", "values": ["静安店", "徐汇店"]}]
    assert rule.actions == [{"kind": "issue_coupon", "template": coupon.public_id}]
    expect(page).to_have_url(re.compile(rf"/loyalty/design/rules/{rule.public_id}/$"))


def test_a_second_welcome_rule_going_live_is_warned_about_and_goes_live_only_when_confirmed(
        page, live_server, staff, club, log_in, artifacts):
    program, _coupon = club
    log_in(page, "marketing")
    rules = []
    for _copy in range(2):
        page.goto(f"{live_server.url}/loyalty/design/program/{program.public_id}/rules/new/")
        with page.expect_navigation():
            page.click("[data-template=welcome] button[type=submit]")
        rules.append(Rule.objects.filter(program=program, template="welcome").order_by("-pk").first())
        # when they make it live
        with page.expect_navigation():
            page.click("#activate-rule")
    # then the first went live, the second is held back with a warning naming the first
    first, second = rules
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (RuleStatus.ACTIVE, RuleStatus.DRAFT)
    expect(page.locator("#rule-overlap")).to_contain_text(first.name)
    page.screenshot(path=str(artifacts / "loyalty-rule-overlap.png"), full_page=True)
    # when they confirm
    with page.expect_navigation():
        page.click("#confirm-overlap")
    # then it is live
    second.refresh_from_db()
    assert second.status == RuleStatus.ACTIVE
