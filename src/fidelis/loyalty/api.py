"""The member club over HTTP: what a POS, an e-shop or the official account needs, every write idempotent.

Find a member by phone, card or member number; enrol; post paid and refunded orders and get the points back at
once; read balance, tier and coupons; pay with points, redeem rewards and coupons. Writes take an
`Idempotency-Key` header: the same key again gives the first answer and no second effect.
"""

import logging
from decimal import Decimal
from typing import Literal

from django.db import DatabaseError, transaction
from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import Query, Router, Schema, Status

from fidelis.accounts.api_auth import requires
from fidelis.core.errors import Conflict, DomainError, NotFound
from fidelis.core.idempotency import KEY_HEADER, header_idempotency_key
from fidelis.core.types import BigInt, Int, Text
from fidelis.customers.selectors import customer_visible_qs
from fidelis.events.api import event_customer
from fidelis.events.models import Event
from fidelis.loyalty import services
from fidelis.loyalty.cards import card_svg
from fidelis.loyalty.errors import LoyaltyCode
from fidelis.loyalty.handlers import apply_event
from fidelis.loyalty.models import AppliedEvent, Coupon, Member, Program, Reward
from fidelis.loyalty.schemas import (
    AdjustIn,
    CouponCheckIn,
    CouponCheckOut,
    CouponOut,
    CouponRedeemIn,
    CouponReverseIn,
    EnrolIn,
    EntryOut,
    MemberOut,
    PayIn,
    PayOut,
    PosOrderIn,
    PosOrderOut,
    PosRefundIn,
    RedeemIn,
    RedemptionOut,
    RewardOut,
)
from fidelis.loyalty.selectors import (
    member_by_reference,
    member_coupons,
    member_entries,
    member_get_for_user,
    member_progress,
    member_visible_qs,
    program_default,
)
from fidelis.sales.errors import SalesCode
from fidelis.sales.models import Order, PaymentMethod
from fidelis.sales.services import money, order_create, order_refund, paid_event_key, till_line

log = logging.getLogger(__name__)
router = Router(tags=["loyalty"])


def _program(public_id: str | None) -> Program:
    program = (Program.objects.filter(public_id=public_id, is_active=True).first() if public_id
               else program_default())
    if program is None:
        raise NotFound(_("No such loyalty program."), code=LoyaltyCode.NOT_FOUND, field="program")
    return program


def coupon_out(coupon: Coupon) -> dict:
    t = coupon.template
    return {"code": coupon.code, "name": t.name, "kind": t.kind, "value": t.value, "min_spend": t.min_spend,
            "status": coupon.status, "valid_from": coupon.valid_from, "valid_until": coupon.valid_until,
            "order_ref": coupon.order_ref, "discount": coupon.discount}


def member_out(member: Member, *, detail: bool = False, created: bool | None = None) -> dict:
    tier = member.tier
    out = {"number": member.number, "card_code": member.card_code, "program": member.program.public_id,
           "customer": member.customer.public_id, "customer_number": member.customer.number,
           "name": member.customer.name, "status": member.status, "joined_at": member.joined_at,
           "balance": member.balance,
           "points_value_cny": (Decimal(member.balance) * member.program.point_value).quantize(Decimal("0.01")),
           "tier": ({"id": tier.pk, "name": tier.name, "rank": tier.rank, "earn_multiplier": tier.earn_multiplier}
                    if tier else None),
           "created": created}
    if detail:
        progress = member_progress(member)
        out["progress"] = {
            "next_tier": progress.next_tier.name if progress.next_tier else None,
            "basis": progress.next_tier.basis if progress.next_tier else None, "value": progress.value,
            "needed": progress.needed, "percent": progress.percent,
            "grace_until": progress.grace_until.isoformat() if progress.grace_until else None}
        out["coupons"] = [coupon_out(c) for c in member_coupons(member)]
    return out


def _find_member(user, *, number: str | None, card: str | None, phone: str | None,
                 program: Program | None = None) -> Member:
    given = [(f, v.strip()) for f, v in (("member", number), ("card", card), ("phone", phone)) if v and v.strip()]
    if not given:
        raise DomainError(_("Name the member: phone, card or member number."),
                          code=LoyaltyCode.REQUIRED, field="member")
    field, value = given[0]
    program = program or _program(None)
    lookup = services.members_lookup(program, number=value if field == "member" else "",
                                     card=value if field == "card" else "", phone=value if field == "phone" else "")
    matches = list(member_visible_qs(user).filter(lookup, program=program).order_by("pk")[:2])
    if len(matches) > 1:
        raise Conflict(_("Several members have this phone number; use the card or member number."),
                       code=LoyaltyCode.AMBIGUOUS_MEMBER, field=field)
    if not matches:
        raise NotFound(_("No such member."), code=LoyaltyCode.NOT_FOUND, field=field)
    return matches[0]


class MemberQuery(Schema):
    phone: str | None = None
    card: str | None = None
    number: str | None = None
    program: str | None = None


@router.get("/members", response=MemberOut,
            summary=gettext_lazy("Find a member by phone, card/QR code or member number"))
@requires("loyalty:read", "loyalty.view")
def member_find(request, filters: Query[MemberQuery]):
    member = _find_member(request.auth, number=filters.number, card=filters.card, phone=filters.phone,
                          program=_program(filters.program))
    return member_out(member, detail=True)


@router.post("/members", response={200: MemberOut, 201: MemberOut},
             summary=gettext_lazy("Enrol a customer as a member"),
             description=gettext_lazy("Enrolling a member twice gives the existing membership back (200)."))
@requires("loyalty:write", "loyalty.operate")
def member_enrol(request, payload: EnrolIn):
    program = _program(payload.program)

    class _Who:  # event_customer reads these three fields
        customer, customer_number, phone = payload.customer, payload.customer_number, payload.phone

    customer = event_customer(request.auth, _Who)
    referrer = None
    if payload.referrer:
        referrer = member_by_reference(program, payload.referrer)
        if referrer is None:
            raise NotFound(_("No such referring member."), code=LoyaltyCode.NOT_FOUND, field="referrer")
    member, created = services.member_enrol(actor=request.auth, program=program, customer=customer,
                                            channel=payload.channel, referrer=referrer, via="api")
    member.refresh_from_db()
    return Status(201 if created else 200, member_out(member, detail=True, created=created))


@router.get("/members/{number}", response=MemberOut,
            summary=gettext_lazy("A member: balance, tier, progress, coupons"))
@requires("loyalty:read", "loyalty.view")
def member_detail(request, number: Text):
    return member_out(member_get_for_user(request.auth, number=number), detail=True)


@router.get("/members/{number}/card.svg",
            summary=gettext_lazy("The member's card code as a QR code or a Code 128 barcode (SVG)"),
            response={200: None}, openapi_extra={"responses": {200: {"content": {"image/svg+xml": {}}}}})
@requires("loyalty:read", "loyalty.view")
def member_card_symbol(request, number: Text, kind: Literal["qr", "code128"] = "qr"):
    member = member_get_for_user(request.auth, number=number)
    return HttpResponse(card_svg(member.card_code, kind), content_type="image/svg+xml")


@router.get("/members/{number}/entries", response=list[EntryOut],
            summary=gettext_lazy("The member's points history"))
@requires("loyalty:read", "loyalty.view")
def member_history(request, number: Text, before: BigInt | None = None, limit: Int = 50):
    member = member_get_for_user(request.auth, number=number)
    entries = member_entries(member, before_id=before, limit=max(1, min(limit, 200)))
    return [{"id": e.pk, "kind": e.kind, "points": e.points, "balance_after": e.balance_after,
             "occurred_at": e.occurred_at, "reason": e.reason, "order_ref": e.order_ref,
             "rule": e.rule.name if e.rule else None, "expires_at": e.expires_at} for e in entries]


@router.post("/members/{number}/adjust", response=EntryOut,
             summary=gettext_lazy("Adjust points (managers, with a reason)"))
@requires("loyalty:write", "loyalty.adjust")
def member_adjust(request, number: Text, payload: AdjustIn, idempotency_key: str | None = KEY_HEADER):
    member = member_get_for_user(request.auth, number=number)
    entry = services.points_adjust(actor=request.auth, member=member, points=payload.points, reason=payload.reason,
                                   idempotency_key=header_idempotency_key(idempotency_key), via="api")
    return {"id": entry.pk, "kind": entry.kind, "points": entry.points, "balance_after": entry.balance_after,
            "occurred_at": entry.occurred_at, "reason": entry.reason, "order_ref": entry.order_ref, "rule": None,
            "expires_at": entry.expires_at}


@router.post("/members/{number}/pay", response=PayOut, summary=gettext_lazy("Pay with points"),
             description=gettext_lazy("Takes the points and answers their value in CNY at the program's "
                                      "point value."))
@requires("loyalty:write", "loyalty.operate")
def member_pay(request, number: Text, payload: PayIn, idempotency_key: str | None = KEY_HEADER):
    member = member_get_for_user(request.auth, number=number)
    entry = services.points_pay(actor=request.auth, member=member, points=payload.points, order_ref=payload.order_no,
                                idempotency_key=header_idempotency_key(idempotency_key))
    return {"points": -entry.points, "value_cny": entry.amount, "balance": entry.balance_after, "entry": entry.pk}


@router.post("/members/{number}/redeem", response=RedemptionOut,
             summary=gettext_lazy("Redeem a reward for points"))
@requires("loyalty:write", "loyalty.operate")
def member_redeem(request, number: Text, payload: RedeemIn, idempotency_key: str | None = KEY_HEADER):
    member = member_get_for_user(request.auth, number=number)
    reward = Reward.objects.filter(program_id=member.program_id, public_id=payload.reward).first()
    if reward is None:
        raise NotFound(_("No such reward."), code=LoyaltyCode.NOT_FOUND, field="reward")
    redemption = services.reward_redeem(actor=request.auth, member=member, reward=reward,
                                        idempotency_key=header_idempotency_key(idempotency_key), via="api")
    return {"reward": reward.name, "points": -redemption.entry.points, "balance": redemption.entry.balance_after,
            "coupon": coupon_out(redemption.coupon) if redemption.coupon else None}


@router.get("/rewards", response=list[RewardOut], summary=gettext_lazy("The rewards catalogue"))
@requires("loyalty:read", "loyalty.view")
def reward_list(request, program: str | None = None):
    rewards = Reward.objects.filter(program=_program(program), is_active=True).select_related("min_tier")
    return [{"id": r.public_id, "name": r.name, "kind": r.kind, "description": r.description,
             "points_cost": r.points_cost, "min_tier": r.min_tier.name if r.min_tier else None, "stock": r.stock}
            for r in rewards]


def _apply_now(event: Event) -> None:
    """Apply the till's event to the member club in the order's transaction, so that the receipt shows its points.

    A savepoint: when applying fails (a deadlock with a worker's batch), the order stands and the event stays
    queued for its handler, which applies it after the commit (or the sweep of missed events does).
    """
    try:
        with transaction.atomic():
            apply_event(event.pk)
    except DatabaseError:
        log.warning("event %s: not applied in the request; left to its handler", event.pk, exc_info=True)


def _pos_answer(program: Program, member: Member, event: Event, created: bool) -> tuple[int, dict]:
    applied = AppliedEvent.objects.filter(program=program, event=event).values_list("points", flat=True).first()
    member.refresh_from_db()
    return (201 if created else 200), {"event": event.public_id, "created": created, "points": applied or 0,
                                       "balance": member.balance, "tier": member.tier.name if member.tier else None,
                                       "waiting": applied is None and event.type == "order.refunded"}


def _pos_member(request, payload: PosOrderIn) -> tuple[Program, Member]:
    program = _program(None)
    return program, _find_member(request.auth, number=payload.member, card=payload.card, phone=payload.phone,
                                 program=program)


def _already_sold(order: Order, member: Member, amount: Decimal) -> None:
    """Refuse a sale whose order number is recorded for another customer or with another amount."""
    if order.customer_id != member.customer_id:
        raise Conflict(_("Order number %(number)s was already recorded for another member.")
                       % {"number": order.order_no}, code=LoyaltyCode.ORDER_CONFLICT, field="order_no")
    if order.paid_amount != amount:
        raise Conflict(_("%(document)s %(number)s was already recorded with another amount.")
                       % {"document": _("Purchase"), "number": order.order_no}, code=LoyaltyCode.ORDER_CONFLICT,
                       field="amount")


@router.post("/orders", response={200: PosOrderOut, 201: PosOrderOut},
             summary=gettext_lazy("A paid order (order.paid)"),
             description=gettext_lazy("Records the sale as an order (one summary line; the store by its "
                                      "code when it is in the catalogue) with its order.paid event and "
                                      "applies the earn rules at once, in one transaction. One sale per "
                                      "order number: the same number again answers the first sale (200), "
                                      "with another amount or member it is refused (409)."))
@requires("events:write", "order.add")
def order_paid(request, payload: PosOrderIn, idempotency_key: str | None = KEY_HEADER):
    header_idempotency_key(idempotency_key)  # refuses one too long; the order number names the sale
    program, member = _pos_member(request, payload)
    amount = money(payload.amount, field="amount")
    try:
        with transaction.atomic():
            # One sale per order number, whatever key it is re-sent under.
            order = order_create(actor=request.auth, customer=member.customer, lines=[till_line(amount)],
                                 channel=payload.channel, store=None, till_store=payload.store,
                                 categories=payload.categories or None, payment_method=PaymentMethod.OTHER,
                                 paid_at=payload.occurred_at, order_no=payload.order_no,
                                 idempotency_key=f"order.paid:{payload.order_no}", via="api")
            if order.created:
                _apply_now(order.event)
    except DomainError as exc:
        if exc.field == "paid_at":
            exc.field = "occurred_at"  # the till's name of the field
        if exc.code not in (SalesCode.IDEMPOTENCY_CONFLICT, SalesCode.ORDER_NO_TAKEN):
            raise
        # The number is taken: by another member's sale, or by an order recorded elsewhere.
        order = Order.objects.filter(order_no=payload.order_no).first()
        if order is None:
            raise
        _already_sold(order, member, amount)
        order.created = False
    if not order.created:
        _already_sold(order, member, amount)
        order.event = Event.objects.get(idempotency_key=paid_event_key(order))
    return Status(*_pos_answer(program, member, order.event, order.created))


@router.post("/refunds", response={200: PosOrderOut, 201: PosOrderOut},
             summary=gettext_lazy("A refunded order (order.refunded)"),
             description=gettext_lazy("Refunds the order as the order page does (order.refunded, in one "
                                      "transaction): the amount is the amount refunded now, at most what "
                                      "is left of the order; the points the order earned are taken back in "
                                      "proportion, and partial refunds add up. Name each refund by its "
                                      "refund_no (or an Idempotency-Key): the same refund again answers "
                                      "the first. A refund of an order number not recorded yet is refused "
                                      "(409 order_unknown) and writes nothing: the till sends it again "
                                      "once the sale is in."))
@requires("events:write", "order.refund")
def order_refunded(request, payload: PosRefundIn, idempotency_key: str | None = KEY_HEADER):
    key = header_idempotency_key(idempotency_key)
    program, member = _pos_member(request, payload)
    # A refund is its own document: its number, else the caller's key, names it; without either, every request is
    # one more (partial) refund, as with a payment API.
    if payload.refund_no:
        key = f"order.refunded:{payload.order_no}:{payload.refund_no}"
    order = Order.objects.filter(order_no=payload.order_no).first()
    if order is None:
        # Refunds apply to orders: one that comes before its sale would need a second way to record it.
        raise Conflict(_("Order number %(number)s is not recorded yet; send its sale first.")
                       % {"number": payload.order_no}, code=LoyaltyCode.ORDER_UNKNOWN, field="order_no")
    if order.customer_id != member.customer_id:
        raise Conflict(_("Order number %(number)s was already recorded for another member.")
                       % {"number": order.order_no},
                       code=LoyaltyCode.ORDER_CONFLICT, field="order_no")
    reason = payload.reason.strip() or _("Refund at the till")
    with transaction.atomic():
        refund = order_refund(actor=request.auth, order=order, amount=payload.amount, reason=reason,
                              idempotency_key=key, via="api")
        if refund.created:
            _apply_now(refund.event)
    if not refund.created:
        if refund.amount != money(payload.amount, field="amount"):
            raise Conflict(_("%(document)s %(number)s was already recorded with another amount.")
                           % {"document": _("Refund"), "number": payload.refund_no or order.order_no},
                           code=LoyaltyCode.ORDER_CONFLICT, field="amount")
        refund.event = Event.objects.get(idempotency_key=f"sales:refund:{refund.public_id}")
    return Status(*_pos_answer(program, member, refund.event, refund.created))


def _visible_coupon(request, code: str, member_number: str | None) -> Coupon:
    """Return the coupon if its customer is visible to the user (and is the named member's), else 404."""
    coupon = services.coupon_find(code)
    member = member_get_for_user(request.auth, number=member_number) if member_number else None
    if not customer_visible_qs(request.auth).filter(pk=coupon.customer_id).exists() or (
            member is not None and member.customer_id != coupon.customer_id):
        raise NotFound(_("No such coupon."), code=LoyaltyCode.NOT_FOUND, field="code")
    return coupon


@router.post("/coupons/check", response=CouponCheckOut,
             summary=gettext_lazy("Check a coupon against an order"))
@requires("loyalty:read", "loyalty.view")
def coupon_check(request, payload: CouponCheckIn):
    coupon = _visible_coupon(request, payload.code, payload.member)
    try:
        discount = services.coupon_check(coupon, payload.order_amount)
    except DomainError as exc:
        return {"code": coupon.code, "name": coupon.template.name, "valid": False, "discount": None,
                "code_error": exc.code, "message": str(exc.message)}
    return {"code": coupon.code, "name": coupon.template.name, "valid": True, "discount": discount}


@router.post("/coupons/redeem", response=CouponOut, summary=gettext_lazy("Use a coupon on an order"))
@requires("loyalty:write", "loyalty.operate")
def coupon_redeem(request, payload: CouponRedeemIn, idempotency_key: str | None = KEY_HEADER):
    coupon = _visible_coupon(request, payload.code, payload.member)
    coupon = services.coupon_redeem(actor=request.auth, code=coupon.code, order_ref=payload.order_no,
                                    order_amount=payload.order_amount, idempotency_key=header_idempotency_key(idempotency_key))
    return coupon_out(coupon)


@router.post("/coupons/{code}/reverse", response=CouponOut,
             summary=gettext_lazy("Give a used coupon back (managers, with a reason)"),
             description=gettext_lazy("A used coupon comes back by itself when its order is refunded in "
                                      "full; by hand only a manager may give it back, saying why."))
@requires("loyalty:write", "loyalty.adjust")
def coupon_reverse(request, code: Text, payload: CouponReverseIn):
    coupon = _visible_coupon(request, code, None)
    return coupon_out(services.coupon_reverse(actor=request.auth, coupon=coupon, reason=payload.reason))
