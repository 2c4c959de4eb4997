"""The mall scenario of the member club in a real browser, with the POS talking to the API of the same server."""

import json
import re
import urllib.request

import pytest
from django.db.models import Sum
from playwright.sync_api import expect

from fidelis.accounts.models import Role
from fidelis.accounts.services import api_token_create
from fidelis.customers.services import customer_create
from fidelis.events.services import record_event
from fidelis.loyalty.models import Coupon, Member, PointsEntry
from fidelis.loyalty.templates import starter_program

pytestmark = pytest.mark.e2e


def _number(n: int) -> re.Pattern:
    """The number as the page shows it, with or without thousands separators (it depends on the language)."""
    return re.compile("^" + f"{n:,}".replace(",", ",?") + "$")


def _pos(live_server, token, path, body, key):
    request = urllib.request.Request(f"{live_server.url}/api/loyalty{path}", data=json.dumps(body).encode(),
                                     method="POST", headers={"Authorization": f"Bearer {token}",
                                                             "Content-Type": "application/json",
                                                             "Idempotency-Key": key})
    with urllib.request.urlopen(request, timeout=20) as response:
        return json.loads(response.read())


def test_join_follow_buy_reach_a_tier_and_use_the_coupon_at_the_pos(page, live_server, staff, log_in, artifacts):
    manager = staff[Role.MANAGER]
    program = starter_program(actor=manager, name="星河会员俱乐部")
    customer = customer_create(actor=manager, data={"name": "林晓", "phone": "13600136000"})
    _token, raw = api_token_create(actor=manager, user=staff[Role.SERVICE], name="POS",
                                   scopes=["loyalty:read", "loyalty:write", "events:write"])
    # The service desk opens the customer and makes her a member from the 360° page.
    log_in(page, "service")
    page.goto(f"{live_server.url}/customers/{customer.public_id}/")
    page.click("#member-enrol")
    expect(page.locator("#member-balance")).to_have_text("500")
    member = Member.objects.get(customer=customer)
    # She follows the official account (an event from WeChat) and gets the welcome coupon.
    record_event(customer=customer, type="wechat.followed", channel="wechat", idempotency_key="wx-follow-1")
    coupon = Coupon.objects.get(customer=customer)
    # She buys at the till: the POS finds her by phone and posts the order; she earns and reaches silver.
    receipt = _pos(live_server, raw, "/orders", {"phone": "136 0013 6000", "order_no": "T-1001",
                                                 "amount": "3580.00", "store": "1F 化妆品"}, "till-1:T-1001")
    assert (receipt["points"], receipt["tier"]) == (3580, "银卡")
    # She uses the coupon on the next order at the POS.
    used = _pos(live_server, raw, "/coupons/redeem", {"code": coupon.code, "order_no": "T-1002",
                                                      "order_amount": "260.00", "member": member.number},
                "till-1:T-1002:coupon")
    assert used["status"] == "redeemed" and used["discount"] == "20.00"
    # The member page shows balance, tier, coupon and the ledger.
    page.goto(f"{live_server.url}/loyalty/members/{member.public_id}/")
    expect(page.locator("#member-balance")).to_have_text(_number(4080))
    expect(page.locator("#member-tier")).to_have_text("银卡")
    expect(page.locator(".coupon-redeemed")).to_be_visible()
    expect(page.locator("#entry-table .entry-earn")).to_have_count(2)
    page.screenshot(path=str(artifacts / "loyalty-member.png"), full_page=True)
    # The 360° page shows the member card.
    page.goto(f"{live_server.url}/customers/{customer.public_id}/")
    expect(page.locator("[data-testid=panel-balance]")).to_have_text(_number(4080))
    # A manager reads the program page: its numbers are the ledger's.
    log_in(page, "manager")
    page.goto(f"{live_server.url}/loyalty/")
    issued = PointsEntry.objects.filter(member__program=program, points__gt=0).aggregate(s=Sum("points"))["s"]
    outstanding = Member.objects.filter(program=program).aggregate(s=Sum("balance"))["s"]
    expect(page.locator("[data-kpi=issued]")).to_have_text(_number(issued))
    expect(page.locator("[data-kpi=outstanding]")).to_have_text(_number(outstanding))
    expect(page.locator("[data-kpi=members]")).to_have_text("1")
    page.screenshot(path=str(artifacts / "loyalty-program.png"), full_page=True)


def test_manager_applies_imported_order_history_from_the_program_page(page, live_server, staff, log_in):
    # given: a member whose orders of last year came in by an order import (events without live processing)
    from django.utils import timezone

    from fidelis.events.models import Event
    from fidelis.loyalty.services import member_enrol

    manager = staff[Role.MANAGER]
    program = starter_program(actor=manager, name="星河会员俱乐部")
    customer = customer_create(actor=manager, data={"name": "周敏", "phone": "13600136001"})
    member, _new = member_enrol(actor=manager, program=program, customer=customer)
    Event.objects.bulk_create([
        Event(customer=customer, type="order.paid", occurred_at=timezone.now() - timezone.timedelta(days=days),
              channel="store", payload={"amount": amount, "order_no": f"H-{days}"}, idempotency_key=f"hist:{days}")
        for days, amount in ((300, "1800.00"), (200, "1500.00"))])
    # when: the manager presses "apply historical orders" on the program page
    log_in(page, "manager")
    page.goto(f"{live_server.url}/loyalty/")
    with page.expect_navigation():
        page.click("#program-backfill")
    # then: the page says what was applied, and the member has the points and the tier of that history
    expect(page.locator(".messages .msg-success")).to_contain_text("2")
    member.refresh_from_db()
    assert member.balance == 500 + 1800 + 1500 and member.tier.name == "银卡"
    page.goto(f"{live_server.url}/loyalty/members/{member.public_id}/")
    expect(page.locator("#member-balance")).to_have_text(_number(3800))
    expect(page.locator("#member-tier")).to_have_text("银卡")
