"""Refunds: the points of the refunded share of a purchase are taken back, through the ledger.

Policy (order.refunded, payload {"order_no", "amount"}): the points the order earned are taken back in proportion
to the amount refunded. Points the member has already spent are not recovered: the clawback takes what the balance
holds and never goes below zero; the rest is recorded as "not recovered" on the entry and on the purchase, and
shown on the program page as a cost. A full refund also gives back the coupons used on it. A refund that comes
before its purchase (a till that syncs late) waits for it (`WaitingRefund`) and is applied after it.
"""

from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _

from fidelis.events.models import Event
from fidelis.loyalty import ledger
from fidelis.loyalty.apply.evaluator import ORDER_PAID, order_amount, order_ref
from fidelis.loyalty.models import (
    AppliedEvent,
    Coupon,
    CouponStatus,
    EntryKind,
    Member,
    Program,
    Purchase,
    WaitingRefund,
)
from fidelis.loyalty.services import coupon_reverse


def refund_apply(member: Member, event: Event) -> bool:
    """Take back the points of the refunded share of a purchase of a locked member; return False when the
    purchase is still to come."""
    ref = order_ref(event.payload)
    refunded = order_amount(event.payload) or Decimal("0")
    purchase = Purchase.objects.select_for_update(no_key=True).filter(member=member, order_ref=ref).first() if ref else None
    if purchase is None:
        # A paid order the program applied without a purchase (its customer was no member then) has nothing to
        # take back; any other refund waits for its purchase.
        return not ref or _purchase_applied(member, ref)
    WaitingRefund.objects.filter(program_id=member.program_id, event=event).delete()
    if purchase.amount <= 0:
        return True
    total_refunded = min(purchase.amount, purchase.refunded + refunded)
    share = total_refunded / purchase.amount
    target = int(Decimal(purchase.points) * share)  # rounded down: never take more than was given
    owed = target - purchase.points_clawed - purchase.points_unrecovered
    take = min(max(owed, 0), member.balance)
    missing = max(owed, 0) - take
    if take:
        ledger.post(member, EntryKind.CLAWBACK, -take, occurred_at=event.occurred_at, event=event, order_ref=ref,
                    amount=refunded, shortfall=missing, reason=_("Refund of order %(order)s") % {"order": ref})
    Purchase.objects.filter(pk=purchase.pk).update(refunded=total_refunded, points_clawed=purchase.points_clawed + take,
                                                   points_unrecovered=purchase.points_unrecovered + missing)
    if total_refunded >= purchase.amount:
        for coupon in Coupon.objects.filter(customer_id=member.customer_id, order_ref=ref,
                                            status=CouponStatus.REDEEMED):
            coupon_reverse(actor=None, coupon=coupon, reason=_("Order refunded"), via="rule")
    return True


def refund_wait(program: Program, member: Member, event: Event) -> None:
    """Keep a refund whose purchase has not been applied yet, to be applied after it."""
    WaitingRefund.objects.get_or_create(program=program, event=event,
                                        defaults={"member": member, "order_ref": order_ref(event.payload),
                                                  "created_at": timezone.now()})


def refunds_waiting(program: Program, customer_ids: set[int]) -> list[int]:
    """Return the events of the refunds of these customers' members that wait for their purchase, oldest first."""
    return list(WaitingRefund.objects.filter(program=program, member__customer_id__in=sorted(customer_ids))
                .order_by("pk").values_list("event_id", flat=True))


def _purchase_applied(member: Member, ref: str) -> bool:
    """Return whether the program has applied a paid order with this number for the member's customer."""
    paid = Event.objects.filter(customer_id=member.customer_id, type=ORDER_PAID, payload__order_no=ref)
    return AppliedEvent.objects.filter(program_id=member.program_id, event__in=paid).exists()
