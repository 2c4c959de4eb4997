"""The POS / e-shop integration through the API: find, enrol, order, refund, pay, redeem, coupons."""

import json

import pytest

from fidelis.accounts.models import Role
from fidelis.accounts.services import api_token_create
from fidelis.events.models import Event
from fidelis.events.services import record_event
from fidelis.loyalty.errors import LoyaltyCode
from fidelis.loyalty.ledger import ledger_check
from fidelis.loyalty.models import Coupon, CouponStatus, Member, PointsEntry, Reward
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pos(manager):
    """A POS token acting as a service desk user."""
    desk = UserFactory(username="desk", role=Role.SERVICE)
    _token, raw = api_token_create(actor=manager, user=desk, name="POS 1F",
                                   scopes=["loyalty:read", "loyalty:write", "events:write"])
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def _call(client, auth, method, path, body=None, **headers):
    response = client.generic(method, "/api/loyalty" + path, data=json.dumps(body or {}),
                              content_type="application/json", **auth, **headers)
    return response, response.json()


def test_mall_scenario_through_the_api(client, program, pos):
    customer = CustomerFactory(name="王芳", phone="+8613912345678")
    # Joins at the desk and follows the official account.
    response, member = _call(client, pos, "POST", "/members", {"phone": "139 1234 5678", "channel": "store"})
    assert response.status_code == 201 and member["balance"] == 500 and member["tier"]["name"] == "普通会员"
    assert _call(client, pos, "POST", "/members", {"phone": "13912345678"})[0].status_code == 200
    record_event(customer=customer, type="wechat.followed", channel="wechat")
    # Buys: found by phone at the till; 1 point per CNY; reaches silver.
    response, order = _call(client, pos, "POST", "/orders", {"phone": "13912345678", "order_no": "POS-1",
                                                            "amount": "3200.50", "store": "1F 化妆品"})
    assert response.status_code == 201
    assert (order["points"], order["balance"], order["tier"]) == (3200, 3700, "银卡")
    again, same = _call(client, pos, "POST", "/orders", {"phone": "13912345678", "order_no": "POS-1",
                                                         "amount": "3200.50"})
    assert again.status_code == 200 and same["balance"] == 3700
    # Uses the welcome coupon on the next order.
    _r, detail = _call(client, pos, "GET", f"/members/{member['number']}")
    code = detail["coupons"][0]["code"]
    _r, check = _call(client, pos, "POST", "/coupons/check", {"code": code, "order_amount": "80"})
    assert check["valid"] is False and check["code_error"] == "min_spend"
    _r, check = _call(client, pos, "POST", "/coupons/check", {"code": code, "order_amount": "150"})
    assert check["valid"] is True and check["discount"] == "20.00"
    key = {"HTTP_IDEMPOTENCY_KEY": "redeem-1"}
    first, used = _call(client, pos, "POST", "/coupons/redeem", {"code": code, "order_no": "POS-2",
                                                                 "order_amount": "150"}, **key)
    second, _same = _call(client, pos, "POST", "/coupons/redeem", {"code": code, "order_no": "POS-2",
                                                                  "order_amount": "150"}, **key)
    assert (first.status_code, second.status_code, used["status"]) == (200, 200, "redeemed")
    response, body = _call(client, pos, "POST", "/coupons/redeem", {"code": code, "order_no": "POS-3",
                                                                    "order_amount": "150"})
    assert response.status_code == 409 and body["code"] == "used"
    # Pays part of an order with points, redeems a reward.
    _r, paid = _call(client, pos, "POST", f"/members/{member['number']}/pay", {"points": 500, "order_no": "POS-2"},
                     HTTP_IDEMPOTENCY_KEY="pay-1")
    assert (paid["value_cny"], paid["balance"]) == ("5.00", 3200)
    parking = Reward.objects.get(program=program, points_cost=200)
    _r, redeemed = _call(client, pos, "POST", f"/members/{member['number']}/redeem", {"reward": parking.public_id})
    assert redeemed["balance"] == 3000
    # A full refund of the first order takes its points back as far as the balance allows.
    _r, refund = _call(client, pos, "POST", "/refunds", {"member": member["number"], "order_no": "POS-1",
                                                         "amount": "3200.50"})
    assert refund["balance"] == 0
    m = Member.objects.get(number=member["number"])
    assert ledger_check(m) == {"balance": 0, "entries": 0, "lots": 0}
    _r, history = _call(client, pos, "GET", f"/members/{member['number']}/entries")
    assert [e["kind"] for e in history][:3] == ["clawback", "redeem", "payment"]


def test_find_member_by_card_and_number(client, member, pos):
    by_card = _call(client, pos, "GET", f"/members?card={member.card_code.lower()}")[1]
    by_number = _call(client, pos, "GET", f"/members?number={member.number}")[1]
    assert by_card["number"] == by_number["number"] == member.number
    response, body = _call(client, pos, "GET", "/members?phone=13000000000")
    assert response.status_code == 404 and body["field"] == "phone"


@pytest.mark.parametrize("body, field", [
    ({"member": "M00000001", "order_no": "X", "amount": "-1"}, "amount"),
    ({"member": "M00000001", "order_no": "X", "amount": "abc"}, "amount"),
    ({"member": "NOPE", "order_no": "X", "amount": "10"}, "member"),
    ({"member": "M00000001", "order_no": "X", "amount": "10", "colour": "red"}, "colour"),
])
def test_bad_orders_are_refused_and_nothing_is_written(client, member, pos, body, field):
    events, entries = Event.objects.count(), PointsEntry.objects.count()
    response, answer = _call(client, pos, "POST", "/orders", body)
    assert response.status_code in (400, 404, 422)
    assert answer["field"] == field
    assert (Event.objects.count(), PointsEntry.objects.count()) == (events, entries)


def test_overdraw_and_foreign_coupon_are_refused(client, program, member, pos, manager):
    response, body = _call(client, pos, "POST", f"/members/{member.number}/pay", {"points": 501, "order_no": "Y"})
    assert response.status_code == 409 and body["code"] == "insufficient_points"
    other = CustomerFactory()
    from fidelis.loyalty.services import coupon_issue

    template = program.coupon_templates.get(kind="amount")
    coupon = coupon_issue(actor=manager, template=template, customer=other)
    response, body = _call(client, pos, "POST", "/coupons/redeem",
                           {"code": coupon.code, "order_no": "Z", "order_amount": "200", "member": member.number})
    assert response.status_code == 404 and body["field"] == "code"
    assert Coupon.objects.get(pk=coupon.pk).status == CouponStatus.ACTIVE


def test_sales_rep_cannot_see_another_reps_member(client, program, manager):
    from fidelis.loyalty.services import member_enrol

    rep, other_rep = UserFactory(username="rep1", role=Role.SALES), UserFactory(username="rep2", role=Role.SALES)
    customer = CustomerFactory(owner=other_rep)
    theirs, _new = member_enrol(actor=manager, program=program, customer=customer)
    _token, raw = api_token_create(actor=manager, user=rep, name="rep", scopes=["loyalty:read", "loyalty:write"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert _call(client, auth, "GET", f"/members/{theirs.number}")[0].status_code == 404
    assert _call(client, auth, "POST", f"/members/{theirs.number}/pay",
                 {"points": 1, "order_no": "S"})[0].status_code == 404


def test_only_managers_adjust_and_a_reason_is_required(client, member, pos, manager):
    response, _body = _call(client, pos, "POST", f"/members/{member.number}/adjust", {"points": 10, "reason": "x"})
    assert response.status_code == 403
    _token, raw = api_token_create(actor=manager, user=manager, name="mgr", scopes=["loyalty:write"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    response, body = _call(client, auth, "POST", f"/members/{member.number}/adjust", {"points": 10, "reason": " "})
    assert response.status_code == 400 and body["field"] == "reason"
    response, body = _call(client, auth, "POST", f"/members/{member.number}/adjust",
                           {"points": -600, "reason": "更正"})
    assert response.status_code == 409
    response, body = _call(client, auth, "POST", f"/members/{member.number}/adjust",
                           {"points": -100, "reason": "更正"})
    assert response.status_code == 200 and body["balance_after"] == 400


@pytest.mark.parametrize(("body", "field", "code"), [
    ({"points": 0, "reason": "盘点"}, "points", LoyaltyCode.INVALID_POINTS),
    ({"points": 10, "reason": "  "}, "reason", LoyaltyCode.REQUIRED),
])
def test_adjust_refusal_carries_the_code_of_its_meaning_as_text(client, member, manager, body, field, code):
    _token, raw = api_token_create(actor=manager, user=manager, name="back office", scopes=["loyalty:write"])
    entries = PointsEntry.objects.count()
    response, answer = _call(client, {"HTTP_AUTHORIZATION": f"Bearer {raw}"}, "POST",
                             f"/members/{member.number}/adjust", body)
    assert response.status_code == 400, answer
    assert (answer["field"], answer["code"]) == (field, code.value) and isinstance(answer["code"], str)
    assert PointsEntry.objects.count() == entries
