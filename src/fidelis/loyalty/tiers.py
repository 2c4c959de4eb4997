"""Tiers: what a member qualifies for, and moving a member between tiers (with the tier.changed event).

Live processing and the back-fill raise a member's tier in the engine (`apply.job`) as purchases come in; the
nightly review (`tier_review`) moves members up at once and down after the tier's grace period.
"""

from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from fidelis.events.models import Event
from fidelis.events.services import record_events
from fidelis.loyalty.models import EntryKind, Member, PointsEntry, Program, Purchase, Tier


def tier_values(member: Member, tiers: list[Tier], now: datetime) -> dict[int, Decimal]:
    """Return, per tier, the member's qualifying value (points earned or CNY spent) in that tier's window."""
    values: dict[int, Decimal] = {}
    cache: dict[tuple[str, int], Decimal] = {}
    for tier in tiers:
        key = (tier.basis, tier.window_days)
        if key not in cache:
            since = now - timedelta(days=tier.window_days)
            if tier.basis == Tier.Basis.POINTS:
                value = (PointsEntry.objects.filter(member=member, kind=EntryKind.EARN, occurred_at__gt=since,
                                                    occurred_at__lte=now).aggregate(s=Sum("points"))["s"] or 0)
                cache[key] = Decimal(value)
            else:
                sums = Purchase.objects.filter(member=member, occurred_at__gt=since, occurred_at__lte=now).aggregate(
                    a=Sum("amount"), r=Sum("refunded"))
                cache[key] = (sums["a"] or Decimal("0")) - (sums["r"] or Decimal("0"))
        values[tier.pk] = cache[key]
    return values


def tier_qualified(member: Member, now: datetime, tiers: list[Tier] | None = None) -> Tier | None:
    """Return the best tier the member qualifies for now."""
    tiers = tiers if tiers is not None else list(Tier.objects.filter(program_id=member.program_id).order_by("rank"))
    values = tier_values(member, tiers, now)
    best = None
    for tier in tiers:
        if values[tier.pk] >= tier.threshold and (best is None or tier.rank > best.rank):
            best = tier
    return best


def tier_change(member: Member, tier: Tier, *, reason: str, when: datetime | None = None) -> None:
    """Move a locked member to a tier; a tier.changed event goes on the timeline."""
    before = member.tier
    member.tier = tier
    member.tier_since = when or timezone.now()
    member.tier_grace_until = None
    member.save(update_fields=["tier", "tier_since", "tier_grace_until", "updated_at"])
    record_events([tier_changed_event(member.program, member.customer_id, member.number, before, tier,
                                      member.tier_since, reason)])


def tier_changed_event(program: Program, customer_id: int, number: str, before: Tier | None, tier: Tier,
                       when: datetime, reason: str) -> Event:
    """Return the (unsaved) tier.changed event of a member's move from `before` to `tier`."""
    up = before is None or tier.rank > before.rank
    return Event(customer_id=customer_id, type="tier.changed", occurred_at=when, channel="system",
                 touchpoint=program.name,
                 payload={"member": number, "from": before.name if before else None, "to": tier.name,
                          "direction": "up" if up else "down", "reason": reason})


def tier_upgrade(member: Member, *, now: datetime | None = None, tiers: list[Tier] | None = None) -> bool:
    """Upgrade a locked member at once when they qualify for a better tier; return whether it happened."""
    now = now or timezone.now()
    tiers = tiers if tiers is not None else list(Tier.objects.filter(program_id=member.program_id).order_by("rank"))
    if member.tier is not None and member.tier_grace_until is None and all(t.rank <= member.tier.rank for t in tiers):
        return False  # at the top already: nothing to sum
    best = tier_qualified(member, now, tiers)
    if best is not None and (member.tier is None or best.rank > member.tier.rank):
        tier_change(member, best, reason=_("Qualified"), when=now)
        return True
    if best is not None and member.tier_grace_until is not None and member.tier and best.rank >= member.tier.rank:
        Member.objects.filter(pk=member.pk).update(tier_grace_until=None)
        member.tier_grace_until = None
    return False


def tier_review(member: Member, *, now: datetime | None = None) -> str:
    """Review a locked member: upgrade at once, downgrade only after the grace period. Return what happened."""
    now = now or timezone.now()
    best = tier_qualified(member, now)
    current = member.tier
    if best is None or current is None or best.rank >= current.rank:
        return "upgraded" if tier_upgrade(member, now=now) else "kept"
    today = timezone.localtime(now).date()
    if member.tier_grace_until is None:
        member.tier_grace_until = today + timedelta(days=current.grace_days)
        Member.objects.filter(pk=member.pk).update(tier_grace_until=member.tier_grace_until)
        if current.grace_days:
            return "grace"
    if today >= member.tier_grace_until:
        tier_change(member, best, reason=_("Tier review"), when=now)
        return "downgraded"
    return "grace"
