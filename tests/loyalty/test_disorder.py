"""The ledger stays right when a till sends in any order, retries, or sends the same thing at once."""

import json

import pytest
from django.db import connection, transaction
from django.test import Client

from fidelis.accounts.models import Role
from fidelis.accounts.services import api_token_create
from fidelis.events.models import Event
from fidelis.loyalty.ledger import ledger_check
from fidelis.loyalty.models import (
    Coupon,
    CouponStatus,
    CouponTemplate,
    EntryKind,
    Member,
    PointsEntry,
    Purchase,
    WaitingRefund,
)
from fidelis.loyalty.services import coupon_issue
from fidelis.loyalty.tasks import apply_missed
from fidelis.sales.models import Order, OrderStatus, Refund
from tests.factories import UserFactory
from tests.threads import at_once

pytestmark = pytest.mark.django_db(transaction=True)


def _token(manager, role, username, scopes=("loyalty:read", "loyalty:write", "events:write")):
    user = UserFactory(username=username, role=role)
    _token, raw = api_token_create(actor=manager, user=user, name=username, scopes=list(scopes))
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.fixture
def pos(manager):
    return _token(manager, Role.SERVICE, "till")


def _call(auth, method, path, body=None, **headers):
    response = Client().generic(method, "/api/loyalty" + path, data=json.dumps(body or {}),
                                content_type="application/json", **auth, **headers)
    return response, response.json()


def _assert_consistent(member):
    """Balance = Σ entries = Σ open lots."""
    member.refresh_from_db()
    assert ledger_check(member) == {"balance": member.balance, "entries": member.balance, "lots": member.balance}


def _clawed(member, order_ref):
    return -sum(PointsEntry.objects.filter(member=member, kind=EntryKind.CLAWBACK, order_ref=order_ref)
                .values_list("points", flat=True))


def test_a_refund_before_its_purchase_is_refused_and_applied_when_sent_again_after_it(pos, member):
    # given a till that syncs its refund before the sale it refunds
    response, body = _call(pos, "POST", "/refunds", {"member": member.number, "order_no": "LATE-1",
                                                     "amount": "1000", "refund_no": "R1"})
    # then it is refused, naming the order, and nothing is written
    assert response.status_code == 409 and body["code"] == "order_unknown" and body["field"] == "order_no"
    assert not Refund.objects.exists() and not Event.objects.filter(type="order.refunded").exists()
    # when the sale arrives and the till sends the refund again
    response, sale = _call(pos, "POST", "/orders", {"member": member.number, "order_no": "LATE-1", "amount": "1000"})
    assert response.status_code == 201 and sale["points"] == 1000
    response, refund = _call(pos, "POST", "/refunds", {"member": member.number, "order_no": "LATE-1",
                                                       "amount": "1000", "refund_no": "R1"})
    # then the refund takes the points straight back
    assert response.status_code == 201 and refund["waiting"] is False and refund["balance"] == 500
    member.refresh_from_db()
    assert member.balance == 500 and _clawed(member, "LATE-1") == 1000
    assert not WaitingRefund.objects.exists()
    assert Purchase.objects.get(member=member, order_ref="LATE-1").points_clawed == 1000
    assert Order.objects.get(order_no="LATE-1").status == OrderStatus.REFUNDED
    _assert_consistent(member)
    # and the sweep of missed events finds nothing left to do twice
    apply_missed(older_than_s=0)
    assert _clawed(member, "LATE-1") == 1000


def test_partial_refunds_without_a_key_add_up(pos, member):
    _call(pos, "POST", "/orders", {"member": member.number, "order_no": "P-1", "amount": "500"})
    first, _body = _call(pos, "POST", "/refunds", {"member": member.number, "order_no": "P-1", "amount": "100"})
    second, body = _call(pos, "POST", "/refunds", {"member": member.number, "order_no": "P-1", "amount": "150"})
    assert (first.status_code, second.status_code) == (201, 201)
    member.refresh_from_db()
    assert _clawed(member, "P-1") == 250 and body["balance"] == member.balance == 500 + 500 - 250


def test_a_refund_number_sent_twice_is_one_refund(pos, member):
    _call(pos, "POST", "/orders", {"member": member.number, "order_no": "P-2", "amount": "500"})
    body = {"member": member.number, "order_no": "P-2", "amount": "100", "refund_no": "R-7"}
    first, one = _call(pos, "POST", "/refunds", body)
    again, two = _call(pos, "POST", "/refunds", body)
    assert (first.status_code, again.status_code) == (201, 200) and one["balance"] == two["balance"]
    assert _clawed(member, "P-2") == 100


def test_an_order_number_again_with_another_amount_is_refused(pos, member):
    _call(pos, "POST", "/orders", {"member": member.number, "order_no": "P-3", "amount": "500"})
    response, body = _call(pos, "POST", "/orders", {"member": member.number, "order_no": "P-3", "amount": "900"},
                           HTTP_IDEMPOTENCY_KEY="new-key")
    assert response.status_code == 409 and body["code"] == "order_conflict"
    member.refresh_from_db()
    assert member.balance == 1000 and Purchase.objects.filter(member=member).count() == 1


def test_an_order_number_resent_under_a_new_key_is_one_sale(pos, member):
    body = {"member": member.number, "order_no": "P-4", "amount": "500"}
    first, _one = _call(pos, "POST", "/orders", body, HTTP_IDEMPOTENCY_KEY="k-1")
    again, _two = _call(pos, "POST", "/orders", body, HTTP_IDEMPOTENCY_KEY="k-2")
    assert (first.status_code, again.status_code) == (201, 200)
    member.refresh_from_db()
    assert member.balance == 1000


def test_the_same_key_with_another_body_is_refused_and_charges_nothing(pos, member):
    key = {"HTTP_IDEMPOTENCY_KEY": "till-42"}
    first, _body = _call(pos, "POST", "/orders", {"member": member.number, "order_no": "K-1", "amount": "100"}, **key)
    response, body = _call(pos, "POST", "/orders", {"member": member.number, "order_no": "K-2", "amount": "300"},
                           **key)
    assert first.status_code == 201
    assert response.status_code == 409 and body["code"] == "idempotency_conflict"
    assert not Purchase.objects.filter(order_ref="K-2").exists()


def test_a_retry_gets_the_first_answer_byte_for_byte(pos, member):
    key = {"HTTP_IDEMPOTENCY_KEY": "till-43"}
    body = {"member": member.number, "order_no": "K-3", "amount": "100"}
    first, _one = _call(pos, "POST", "/orders", body, **key)
    # the balance moves meanwhile; the retry still answers what the first request answered
    _call(pos, "POST", "/orders", {"member": member.number, "order_no": "K-4", "amount": "50"})
    again, _two = _call(pos, "POST", "/orders", {"amount": "100", "order_no": "K-3", "member": member.number}, **key)
    assert again.status_code == first.status_code == 201
    assert again.content == first.content and again["Idempotent-Replayed"] == "true"


def test_keys_belong_to_their_caller(pos, member, manager):
    other = _token(manager, Role.SERVICE, "till-2")
    key = {"HTTP_IDEMPOTENCY_KEY": "shared"}
    one, _a = _call(pos, "POST", "/orders", {"member": member.number, "order_no": "C-1", "amount": "10"}, **key)
    two, _b = _call(other, "POST", "/orders", {"member": member.number, "order_no": "C-2", "amount": "20"}, **key)
    assert (one.status_code, two.status_code) == (201, 201)
    assert set(Purchase.objects.filter(member=member).values_list("order_ref", flat=True)) == {"C-1", "C-2"}


def test_a_failed_request_keeps_nothing_and_its_key_can_be_used_again(pos, member):
    key = {"HTTP_IDEMPOTENCY_KEY": "till-44"}
    bad, _body = _call(pos, "POST", "/orders", {"member": member.number, "order_no": "F-1", "amount": "-5"}, **key)
    good, _body = _call(pos, "POST", "/orders", {"member": member.number, "order_no": "F-1", "amount": "5"}, **key)
    assert (bad.status_code, good.status_code) == (400, 201)


def test_a_used_coupon_comes_back_only_by_a_refund_or_a_manager(pos, member, manager, program):
    template = CouponTemplate.objects.filter(program=program).first()
    with transaction.atomic():
        coupon = coupon_issue(actor=manager, template=template, customer=member.customer)
    amount = str(max(template.min_spend or 0, 200))
    redeemed, _body = _call(pos, "POST", "/coupons/redeem", {"code": coupon.code, "order_no": "CP-1",
                                                              "order_amount": amount})
    assert redeemed.status_code == 200
    # a till user cannot give it back to use it again
    response, body = _call(pos, "POST", f"/coupons/{coupon.code}/reverse", {"reason": "oops"})
    assert response.status_code == 403
    coupon.refresh_from_db()
    assert coupon.status == CouponStatus.REDEEMED
    again, _body = _call(pos, "POST", "/coupons/redeem", {"code": coupon.code, "order_no": "CP-2",
                                                           "order_amount": amount})
    assert again.status_code == 409
    # a manager can, saying why
    boss = _token(manager, Role.MANAGER, "boss")
    response, body = _call(boss, "POST", f"/coupons/{coupon.code}/reverse", {"reason": ""})
    assert response.status_code == 400 and body["field"] == "reason"
    response, body = _call(boss, "POST", f"/coupons/{coupon.code}/reverse", {"reason": "收银员扫错了券"})
    assert response.status_code == 200 and body["status"] == "active"


def test_a_full_refund_gives_the_coupon_of_its_order_back(pos, member, manager, program):
    template = CouponTemplate.objects.filter(program=program).first()
    with transaction.atomic():
        coupon = coupon_issue(actor=manager, template=template, customer=member.customer)
    amount = str(max(template.min_spend or 0, 200))
    _call(pos, "POST", "/orders", {"member": member.number, "order_no": "CP-3", "amount": amount})
    _call(pos, "POST", "/coupons/redeem", {"code": coupon.code, "order_no": "CP-3", "order_amount": amount})
    _call(pos, "POST", "/refunds", {"member": member.number, "order_no": "CP-3", "amount": amount})
    coupon.refresh_from_db()
    assert coupon.status == CouponStatus.ACTIVE
    assert Coupon.objects.filter(pk=coupon.pk, status=CouponStatus.REDEEMED).count() == 0


# --- at the same moment (PostgreSQL: real row locks) -----------------------------------------------------------


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")


def test_sale_and_refund_fired_together_always_claw_back(postgres, pos, member):
    for round_ in range(15):
        number = f"T-{round_}"
        refund = {"member": member.number, "order_no": number, "amount": "100", "refund_no": "R"}

        def fire(i, number=number, refund=refund):
            if i == 0:
                return _call(pos, "POST", "/orders", {"member": member.number, "order_no": number, "amount": "100"})
            return _call(pos, "POST", "/refunds", refund)

        (sale, _body), (answer, body) = at_once(2, fire)
        assert sale.status_code == 201, sale.content
        # a refund that came before the sale's commit is refused and sent again; it is never half applied
        if answer.status_code == 409:
            assert body["code"] == "order_unknown" and not Refund.objects.filter(order__order_no=number).exists()
            answer, body = _call(pos, "POST", "/refunds", refund)
        assert answer.status_code == 201, body
        assert _clawed(member, number) == 100, round_
    member.refresh_from_db()
    assert member.balance == 500 and not WaitingRefund.objects.exists()
    _assert_consistent(member)


def test_twenty_concurrent_adjustments_with_one_key_make_one_entry_and_twenty_equal_answers(postgres, member,
                                                                                             manager):
    boss = _token(manager, Role.MANAGER, "boss", scopes=("loyalty:read", "loyalty:write"))
    answers = at_once(20, lambda i: _call(boss, "POST", f"/members/{member.number}/adjust",
                                           {"points": 300, "reason": "补偿"}, HTTP_IDEMPOTENCY_KEY="adj-1")[0])
    assert {a.status_code for a in answers} == {200}, answers
    assert len({a.content for a in answers}) == 1
    assert PointsEntry.objects.filter(member=member, kind=EntryKind.ADJUST).count() == 1
    assert Member.objects.get(pk=member.pk).balance == 800


def test_twenty_concurrent_adjustments_with_one_key_through_the_service_make_one_entry(postgres, member, manager):
    from fidelis.loyalty.services import points_adjust

    results = at_once(20, lambda i: points_adjust(actor=manager, member=member, points=300, reason="补偿",
                                                   idempotency_key="svc-1", via="api"))
    assert all(isinstance(r, PointsEntry) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert Member.objects.get(pk=member.pk).balance == 800


def test_a_sale_for_an_erased_member_is_refused_and_earns_nothing(pos, member, manager):
    from fidelis.customers.privacy import customer_erase

    customer_erase(actor=manager, customer=member.customer, reason="本人要求删除")
    response, body = _call(pos, "POST", "/orders", {"member": member.number, "order_no": "E-1", "amount": "100"})
    assert response.status_code in (400, 404) and body["code"] in ("erased", "not_found")
    assert not Purchase.objects.filter(order_ref="E-1").exists()
