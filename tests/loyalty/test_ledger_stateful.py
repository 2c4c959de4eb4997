"""A till in disorder, driven by hypothesis: sales, partial refunds (also before their sale: refused, sent again
after it), payments with points,
adjustments, expiry and retries in any order — and, on PostgreSQL, at the same moment from several threads.
After every step: balance = Σ entries = Σ open lots, no lot below zero, every refunded share clawed back exactly
once, nothing applied twice."""

import json
from decimal import ROUND_DOWN, Decimal

import pytest
from django.db import connection
from django.db.models import Count, Sum
from django.test import Client
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from fidelis.accounts.models import Role
from fidelis.accounts.services import api_token_create
from fidelis.events.models import Event
from fidelis.loyalty.ledger import ledger_check
from fidelis.loyalty.models import (
    AppliedEvent,
    EntryKind,
    Member,
    PointsEntry,
    PointsLot,
    Purchase,
    WaitingRefund,
)
from fidelis.loyalty.services import member_enrol
from fidelis.loyalty.tasks import expire_points
from tests.factories import CustomerFactory, UserFactory
from tests.threads import at_once

pytestmark = pytest.mark.django_db(transaction=True)


def _call(auth, method, path, body, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    response = Client().generic(method, "/api/loyalty" + path, data=json.dumps(body),
                                content_type="application/json", **auth, **headers)
    assert response.status_code < 500, response.content
    return response


class Till(RuleBasedStateMachine):
    """One member, one till, one manager; the model keeps what was sold and refunded."""

    program = manager = till = boss = None  # set by the test

    def __init__(self):
        super().__init__()
        customer = CustomerFactory()
        self.member, _new = member_enrol(actor=self.manager, program=self.program, customer=customer)
        self.serial = 0
        self.sold: dict[str, Decimal] = {}  # order number -> amount
        self.refunded: dict[str, Decimal] = {}  # order number -> refunded so far (capped at the amount)
        # refunded before its sale (refused): order number -> (amount of the sale, refund sent again after it)
        self.pending: dict[str, tuple[Decimal, dict]] = {}

    def _number(self, prefix):
        self.serial += 1
        return f"{prefix}{self.member.pk}-{self.serial}"

    def _sale_body(self, number, amount, days_ago):
        from datetime import timedelta

        from django.utils import timezone

        when = timezone.now() - timedelta(days=days_ago)
        return {"member": self.member.number, "order_no": number, "amount": str(amount),
                "occurred_at": when.isoformat()}

    # --- what a till does -------------------------------------------------------------------------------------

    @rule(amount=st.integers(0, 3000), days_ago=st.integers(0, 800), retry=st.booleans())
    def sale(self, amount, days_ago, retry):
        number = self._number("S")
        body = self._sale_body(number, amount, days_ago)
        assert _call(self.till, "POST", "/orders", body, key=f"k-{number}").status_code == 201
        if retry:
            again = _call(self.till, "POST", "/orders", body, key=f"k-{number}")
            assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
        self.sold[number] = Decimal(amount)

    @rule(data=st.data(), percent=st.integers(1, 100), retry=st.booleans())
    def partial_refund(self, data, percent, retry):
        if not self.sold:
            return
        number = data.draw(st.sampled_from(sorted(self.sold)))
        amount = (self.sold[number] * percent / 100).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        amount = min(amount, self.sold[number] - self.refunded.get(number, Decimal(0)))
        refund_no = self._number("R")
        body = {"member": self.member.number, "order_no": number, "amount": str(amount), "refund_no": refund_no}
        if amount <= 0:  # nothing left to refund: refused, as on the order page
            assert _call(self.till, "POST", "/refunds", body).status_code == 400
            return
        assert _call(self.till, "POST", "/refunds", body).status_code == 201
        if retry:  # the same refund number again: the same refund
            assert _call(self.till, "POST", "/refunds", body).status_code == 200
        self.refunded[number] = min(self.sold[number], self.refunded.get(number, Decimal(0)) + amount)

    @rule(amount=st.integers(1, 3000), percent=st.integers(1, 100))
    def refund_before_its_sale(self, amount, percent):
        number = self._number("L")
        refunded = (Decimal(amount) * percent / 100).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        body = {"member": self.member.number, "order_no": number, "amount": str(refunded), "refund_no": f"{number}-r"}
        response = _call(self.till, "POST", "/refunds", body)
        assert response.status_code == 409 and response.json()["code"] == "order_unknown"
        self.pending[number] = (Decimal(amount), body)

    @rule(data=st.data())
    def late_sale(self, data):
        if not self.pending:
            return
        number = data.draw(st.sampled_from(sorted(self.pending)))
        amount, refund = self.pending.pop(number)
        assert _call(self.till, "POST", "/orders", self._sale_body(number, amount, 0)).status_code == 201
        self.sold[number] = amount
        assert _call(self.till, "POST", "/refunds", refund).status_code == 201
        self.refunded[number] = Decimal(refund["amount"])

    @rule(points=st.integers(1, 2000))
    def pay_with_points(self, points):
        number = self._number("P")
        response = _call(self.till, "POST", f"/members/{self.member.number}/pay",
                         {"points": points, "order_no": number}, key=f"pay-{number}")
        assert response.status_code in (200, 400, 409), response.content

    @rule(points=st.integers(-1500, 1500).filter(bool), retry=st.booleans())
    def adjust(self, points, retry):
        key = f"adj-{self._number('A')}"
        body = {"points": points, "reason": "盘点更正"}
        first = _call(self.boss, "POST", f"/members/{self.member.number}/adjust", body, key=key)
        if retry:
            again = _call(self.boss, "POST", f"/members/{self.member.number}/adjust", body, key=key)
            assert (again.status_code, again.content) == (first.status_code, first.content)

    @rule()
    def expire(self):
        expire_points()

    @rule(amount=st.integers(1, 3000), percent=st.integers(1, 100))
    def sale_and_refunds_at_once(self, amount, percent):
        """The sale, its retry and two partial refunds, fired together from four threads (PostgreSQL)."""
        if connection.vendor != "postgresql":
            return
        number = self._number("T")
        part = (Decimal(amount) * percent / 200).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        sale = self._sale_body(number, amount, 0)
        calls = [("/orders", sale, f"k-{number}"), ("/orders", sale, f"k-{number}"),
                 ("/refunds", {"member": self.member.number, "order_no": number, "amount": str(part),
                               "refund_no": f"{number}-a"}, None),
                 ("/refunds", {"member": self.member.number, "order_no": number, "amount": str(part),
                               "refund_no": f"{number}-b"}, None)]
        answers = [a.status_code if hasattr(a, "status_code") else a
                   for a in at_once(len(calls), lambda i: _call(self.till, "POST", calls[i][0], calls[i][1],
                                                                key=calls[i][2]))]
        # a refund that came before the sale's commit is refused (409) and sent again
        for i, answer in enumerate(answers):
            if i >= 2 and answer == 409:
                answers[i] = _call(self.till, "POST", calls[i][0], calls[i][1]).status_code
        assert answers == [201, 201, 201, 201], answers
        self.sold[number] = Decimal(amount)
        self.refunded[number] = min(Decimal(amount), 2 * part)

    # --- what must always hold --------------------------------------------------------------------------------

    @invariant()
    def balance_is_the_sum_of_entries_and_of_open_lots(self):
        member = Member.objects.get(pk=self.member.pk)
        assert ledger_check(member) == {"balance": member.balance, "entries": member.balance,
                                        "lots": member.balance}
        assert member.balance >= 0
        assert not PointsLot.objects.filter(member=member, remaining__lt=0).exists()

    @invariant()
    def every_refunded_share_is_clawed_back_once(self):
        purchases = {p.order_ref: p for p in Purchase.objects.filter(member=self.member)}
        assert set(purchases) == set(self.sold)
        clawed = dict(PointsEntry.objects.filter(member=self.member, kind=EntryKind.CLAWBACK)
                      .values_list("order_ref").annotate(s=Sum("points")))
        for number, purchase in purchases.items():
            refunded = self.refunded.get(number, Decimal(0))
            assert purchase.refunded == refunded, number
            owed = int(Decimal(purchase.points) * refunded / purchase.amount) if purchase.amount else 0
            assert purchase.points_clawed + purchase.points_unrecovered == owed, number
            assert -clawed.get(number, 0) == purchase.points_clawed, number
        assert not WaitingRefund.objects.filter(member=self.member).exists()

    @invariant()
    def nothing_is_applied_twice(self):
        events = Event.objects.filter(customer_id=self.member.customer_id)
        twice = (AppliedEvent.objects.filter(event__in=events).values("event_id", "program_id")
                 .annotate(n=Count("id")).filter(n__gt=1))
        assert not twice.exists()
        sales = events.filter(type="order.paid").values("payload__order_no").annotate(n=Count("id")).filter(n__gt=1)
        assert not sales.exists()


def test_the_ledger_stays_right_whatever_the_till_does(program, manager):
    Till.program, Till.manager = program, manager
    desk = UserFactory(username="till", role=Role.SERVICE)
    _t, raw = api_token_create(actor=manager, user=desk, name="till", scopes=["loyalty:read", "loyalty:write",
                                                                            "events:write"])
    Till.till = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    _t, raw = api_token_create(actor=manager, user=manager, name="boss", scopes=["loyalty:read", "loyalty:write"])
    Till.boss = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    run_state_machine_as_test(Till, settings=settings(
        max_examples=12, stateful_step_count=12, deadline=None, derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]))
