"""What a customer merge does to the member club: memberships, points and coupons follow the kept record."""

from django.utils.translation import gettext as _

from fidelis.customers.dedupe import on_merge
from fidelis.loyalty import ledger
from fidelis.loyalty.models import Coupon, EntryKind, Member, MemberStatus


@on_merge
def move_memberships(*, actor, keep, absorb) -> dict:
    """Move the absorbed record's memberships; where both were members, carry its balance over and close it."""
    moved, carried = [], 0
    for absorbed in Member.objects.filter(customer=absorb).order_by("pk"):
        kept = Member.objects.filter(program_id=absorbed.program_id, customer=keep).first()
        if kept is None:
            Member.objects.filter(pk=absorbed.pk).update(customer=keep)
            moved.append(absorbed.number)
            continue
        # Lock both in id order, as every other two-member operation does.
        first, second = sorted([absorbed.pk, kept.pk])
        locked = {pk: ledger.lock_member(pk) for pk in (first, second)}
        source, target = locked[absorbed.pk], locked[kept.pk]
        if source.balance:
            points = source.balance
            reason = _("Records merged: %(from)s → %(to)s") % {"from": source.number, "to": target.number}
            ledger.post(source, EntryKind.ADJUST, -points, actor=actor, reason=reason)
            ledger.post(target, EntryKind.ADJUST, points, actor=actor, reason=reason)
            carried += points
        Member.objects.filter(pk=source.pk).update(status=MemberStatus.LEFT)
        moved.append(source.number)
    coupons = Coupon.objects.filter(customer=absorb).update(customer=keep)
    return {"memberships": moved, "points_carried": carried, "coupons": coupons}
