"""The member club's part of a person's data export (`fidelis.customers.privacy`): memberships with their points
ledger, purchases and redemptions, and the coupons issued to the person."""

from typing import Any

from django.db.models import Prefetch

from fidelis.customers.privacy import personal_data_section, plain, plain_rows
from fidelis.loyalty.models import Coupon, Member, PointsEntry, Purchase, Redemption


def _membership(member: Member) -> dict[str, Any]:
    return {
        "program": member.program.name, "number": member.number, "card_code": member.card_code,
        "status": member.status, "joined_at": plain(member.joined_at), "channel": member.channel,
        "referred_by": member.referred_by.number if member.referred_by_id else None,
        "tier": member.tier.name if member.tier_id else None, "tier_since": plain(member.tier_since),
        "tier_grace_until": plain(member.tier_grace_until), "balance": member.balance,
        "earned_total": member.earned_total, "purchases": member.purchases,
        "points_entries": plain_rows(PointsEntry.objects.filter(member=member).order_by("occurred_at", "id"),
                                     "kind", "points", "balance_after", "occurred_at", "created_at", "order_ref",
                                     "amount", "reason", "shortfall", "expires_at"),
        "purchase_records": plain_rows(Purchase.objects.filter(member=member).order_by("occurred_at", "id"),
                                       "order_ref", "amount", "refunded", "points", "points_clawed",
                                       "points_unrecovered", "occurred_at"),
        "redemptions": [
            {"reward": r.reward.name, "points": -r.entry.points, "created_at": plain(r.created_at),
             "coupon": r.coupon.code if r.coupon_id else None}
            for r in member.redemptions.all()],
    }


@personal_data_section("loyalty", models=[Member, PointsEntry, Purchase, Redemption, Coupon])
def loyalty_personal_data(customer) -> dict[str, Any]:
    """Return the person's memberships (each with its points ledger, purchases and redemptions) and coupons."""
    redemptions = Redemption.objects.select_related("reward", "entry", "coupon").order_by("created_at", "id")
    members = (Member.objects.filter(customer=customer).select_related("program", "tier", "referred_by")
               .prefetch_related(Prefetch("redemptions", queryset=redemptions)).order_by("joined_at", "id"))
    coupons = Coupon.objects.filter(customer=customer).select_related("template").order_by("issued_at", "id")
    return {
        "memberships": [_membership(member) for member in members],
        "coupons": [
            {"coupon": c.template.name, "code": c.code, "status": c.status, "issued_at": plain(c.issued_at),
             "valid_from": plain(c.valid_from), "valid_until": plain(c.valid_until), "source": c.source,
             "redeemed_at": plain(c.redeemed_at), "order_ref": c.order_ref, "discount": plain(c.discount)}
            for c in coupons],
    }
