"""The demo's member club shows every figure of the program page, with every balance moved through the ledger."""

import io

import pytest
from django.core.management import call_command
from django.db.models import Sum

from fidelis.events.models import Event
from fidelis.loyalty.models import (
    AppliedEvent,
    Coupon,
    CouponStatus,
    EntryKind,
    Member,
    PointsEntry,
    PointsLot,
)


@pytest.mark.django_db(transaction=True)
def test_the_demo_club_uses_coupons_expires_points_moves_tiers_down_and_keeps_the_ledger_whole():
    call_command("demo", customers=400, no_serve=True, stdout=io.StringIO())
    members = Member.objects.all()
    assert members.exists()
    # every join was applied by the engine (the welcome points), and every balance is the sum of its entries and lots
    joins = Event.objects.filter(type="member.joined", customer__memberships__isnull=False)
    assert AppliedEvent.objects.filter(event__in=joins).count() == joins.count()
    entries = dict(PointsEntry.objects.values("member").annotate(s=Sum("points")).values_list("member", "s"))
    lots = dict(PointsLot.objects.values("member").annotate(s=Sum("remaining")).values_list("member", "s"))
    for member_id, balance in members.values_list("pk", "balance"):
        assert entries.get(member_id, 0) == lots.get(member_id, 0) == balance
    # the figures a buyer looks at are not zero
    assert Coupon.objects.filter(status=CouponStatus.REDEEMED).exists()
    assert PointsEntry.objects.filter(kind=EntryKind.EXPIRE).exists()
    assert PointsEntry.objects.filter(kind=EntryKind.REDEEM).exists()
    assert Event.objects.filter(type="tier.changed", payload__direction="down").exists()
