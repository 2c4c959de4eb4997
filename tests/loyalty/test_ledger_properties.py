"""Random sequences of earn / redeem / expire / adjust / refund: the ledger invariants always hold."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fidelis.core.errors import DomainError
from fidelis.events.services import record_event
from fidelis.loyalty import ledger
from fidelis.loyalty.handlers import apply_event
from fidelis.loyalty.models import EntryKind, Member, PointsEntry, Purchase
from fidelis.loyalty.selectors import program_kpis
from fidelis.loyalty.services import member_enrol, points_adjust, points_pay
from tests.factories import CustomerFactory

OPERATIONS = st.lists(st.one_of(
    st.tuples(st.just("earn"), st.integers(0, 5000), st.integers(0, 900)),  # amount, days ago
    st.tuples(st.just("pay"), st.integers(1, 3000)),
    st.tuples(st.just("adjust"), st.integers(-2000, 2000).filter(bool)),
    st.tuples(st.just("refund"), st.integers(0, 10), st.integers(1, 100)),  # which order, percent
    st.tuples(st.just("expire"),),
), min_size=1, max_size=12)


def _snapshot(member):
    return list(PointsEntry.objects.filter(member=member).order_by("id")
                .values_list("id", "kind", "points", "balance_after", "occurred_at", "shortfall"))


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(operations=OPERATIONS)
def test_ledger_invariants_hold_for_any_sequence(program, manager, operations):
    with transaction.atomic():
        member, _new = member_enrol(actor=manager, program=program, customer=CustomerFactory())
        # In this test transaction on_commit never fires: apply the member.joined event by hand.
        apply_event(member.customer.events.get(type="member.joined").pk)
        orders: list[str] = []
        before = _snapshot(member)
        for index, op in enumerate(operations):
            try:
                with transaction.atomic():
                    if op[0] == "earn":
                        ref = f"O{index}"
                        event, _n = record_event(customer=member.customer, type="order.paid",
                                                 occurred_at=timezone.now() - timedelta(days=op[2]),
                                                 payload={"amount": f"{op[1]}.00", "order_no": ref})
                        apply_event(event.pk)
                        orders.append(ref)
                    elif op[0] == "pay":
                        points_pay(actor=manager, member=member, points=op[1], order_ref=f"P{index}")
                    elif op[0] == "adjust":
                        points_adjust(actor=manager, member=member, points=op[1], reason="测试")
                    elif op[0] == "refund" and orders:
                        ref = orders[op[1] % len(orders)]
                        paid = Purchase.objects.get(member=member, order_ref=ref).amount
                        event, _n = record_event(customer=member.customer, type="order.refunded",
                                                 payload={"amount": str((paid * op[2] / 100).quantize(Decimal("0.01"))),
                                                          "order_no": ref})
                        apply_event(event.pk)
                    elif op[0] == "expire":
                        ledger.expire_due(ledger.lock_member(member.pk))
            except DomainError as exc:
                assert exc.code == "insufficient_points"
            after = _snapshot(member)
            assert after[:len(before)] == before, "an entry was changed or deleted"
            before = after
            sums = ledger.ledger_check(member)
            assert sums["balance"] >= 0
            assert sums["balance"] == sums["entries"] == sums["lots"], (op, sums)
            assert all(row[3] >= 0 for row in after)
        kpis = program_kpis(program)
        outstanding = Member.objects.filter(program=program).values_list("balance", flat=True)
        assert kpis.outstanding == sum(outstanding)
        removed = -sum(e.points for e in PointsEntry.objects.filter(member__program=program, kind=EntryKind.ADJUST,
                                                                       points__lt=0))
        assert kpis.issued - kpis.redeemed - kpis.expired - kpis.clawed_back - removed == kpis.outstanding
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_the_database_refuses_to_update_an_entry(member, manager):
    from django.db import DatabaseError

    entry = points_adjust(actor=manager, member=member, points=500, reason="测试")
    with pytest.raises(ValueError):
        entry.save()
    with pytest.raises(DatabaseError), transaction.atomic():
        PointsEntry.objects.filter(pk=entry.pk).update(points=1_000_000)
    assert PointsEntry.objects.get(pk=entry.pk).points == 500
