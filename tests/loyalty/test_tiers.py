"""Tiers: up at once on qualifying, down only at the review after the grace period."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from fidelis.events.models import Event
from fidelis.events.services import record_event
from fidelis.loyalty import ledger
from fidelis.loyalty.tiers import tier_review

pytestmark = pytest.mark.django_db(transaction=True)


def _review(member, now):
    with transaction.atomic():
        return tier_review(ledger.lock_member(member.pk), now=now)


def test_downgrade_waits_for_the_grace_period(member):
    long_ago = timezone.now() - timedelta(days=300)
    record_event(customer=member.customer, type="order.paid", occurred_at=long_ago,
                 payload={"amount": "3500.00", "order_no": "G1"})
    member.refresh_from_db()
    assert member.tier.name == "银卡"
    now = timezone.now()
    assert _review(member, now) == "kept"  # the purchase is still inside the 365-day window
    later = long_ago + timedelta(days=366)
    assert _review(member, later) == "grace"
    member.refresh_from_db()
    assert member.tier.name == "银卡" and member.tier_grace_until == timezone.localtime(later).date() + timedelta(30)
    assert _review(member, later + timedelta(days=10)) == "grace"
    assert _review(member, later + timedelta(days=31)) == "downgraded"
    member.refresh_from_db()
    assert member.tier.name == "普通会员" and member.tier_grace_until is None
    changes = list(Event.objects.filter(customer=member.customer, type="tier.changed").order_by("pk")
                   .values_list("payload__direction", flat=True))
    assert changes == ["up", "down"]


def test_qualifying_again_during_grace_keeps_the_tier(member):
    long_ago = timezone.now() - timedelta(days=380)
    record_event(customer=member.customer, type="order.paid", occurred_at=long_ago,
                 payload={"amount": "3500.00", "order_no": "G2"})
    member.refresh_from_db()
    assert _review(member, timezone.now()) == "grace"
    record_event(customer=member.customer, type="order.paid", payload={"amount": "3100.00", "order_no": "G3"})
    member.refresh_from_db()
    assert member.tier_grace_until is None
    assert _review(member, timezone.now() + timedelta(days=40)) == "kept"
    member.refresh_from_db()
    assert member.tier.name == "银卡"
