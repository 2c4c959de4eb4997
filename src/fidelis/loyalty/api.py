"""The member club over HTTP: what a POS, an e-shop or the official account needs, every write idempotent.

Find a member by phone, card or member number; enrol; post paid and refunded orders and get the points back at
once; read balance, tier and coupons; pay with points, redeem rewards and coupons. Writes take an
`Idempotency-Key` header: the same key again gives the first answer and no second effect.
"""

import logging
from decimal import Decimal

from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status

from fidelis.accounts.api_auth import requires
from fidelis.core.errors import Conflict, DomainError, NotFound
from fidelis.core.idempotency import KEY_HEADER, header_idempotency_key
from fidelis.core.types import BigInt, Int, Text
from fidelis.customers.selectors import customer_require_writable, customer_visible_qs
from fidelis.events.api import event_customer
from fidelis.events.services import record_event
from fidelis.loyalty import services
from fidelis.loyalty.models import AppliedEvent, Coupon, Member, Program, Reward
from fidelis.loyalty.rules import apply_event, member_by_reference
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
    member_coupons,
    member_entries,
    member_get_for_user,
    member_progress,
    member_visible_qs,
    program_default,
)

log = logging.getLogger(__name__)
router = Router(tags=["loyalty"])


def _program(public_id: str | None) -> Program:
    program = (Program.objects.filter(public_id=public_id, is_active=True).first() if public_id
               else program_default())
    if program is None:
        raise NotFound(_("No such loyalty program."), code="not_found", field="program")
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
        raise DomainError(_("Name the member: phone, card or member number."), code="required", field="member")
    field, value = given[0]
    program = program or _program(None)
    lookup = services.members_lookup(program, number=value if field == "member" else "",
                                     card=value if field == "card" else "", phone=value if field == "phone" else "")
    matches = list(member_visible_qs(user).filter(lookup, program=program).order_by("pk")[:2])
    if len(matches) > 1:
        raise Conflict(_("Several members have this phone number; use the card or member number."),
                       code="ambiguous_member", field=field)
    if not matches:
        raise NotFound(_("No such member."), code="not_found", field=field)
    return matches[0]


class MemberQuery(Schema):
    phone: str | None = None
    card: str | None = None
    number: str | None = None
    program: str | None = None


@router.get("/members", response=MemberOut, summary="Find a member by phone, card/QR code or member number")
@requires("loyalty:read", "loyalty.view")
def member_find(request, filters: Query[MemberQuery]):
    member = _find_member(request.auth, number=filters.number, card=filters.card, phone=filters.phone,
                          program=_program(filters.program))
    return member_out(member, detail=True)


@router.post("/members", response={200: MemberOut, 201: MemberOut}, summary="Enrol a customer as a member",
             description="Enrolling a member twice gives the existing membership back (200).")
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
            raise NotFound(_("No such referring member."), code="not_found", field="referrer")
    member, created = services.member_enrol(actor=request.auth, program=program, customer=customer,
                                            channel=payload.channel, referrer=referrer, via="api")
    member.refresh_from_db()
    return Status(201 if created else 200, member_out(member, detail=True, created=created))


@router.get("/members/{number}", response=MemberOut, summary="A member: balance, tier, progress, coupons")
@requires("loyalty:read", "loyalty.view")
def member_detail(request, number: Text):
    return member_out(member_get_for_user(request.auth, number=number), detail=True)


@router.get("/members/{number}/entries", response=list[EntryOut], summary="The member's points history")
@requires("loyalty:read", "loyalty.view")
def member_history(request, number: Text, before: BigInt | None = None, limit: Int = 50):
    member = member_get_for_user(request.auth, number=number)
    entries = member_entries(member, before_id=before, limit=max(1, min(limit, 200)))
    return [{"id": e.pk, "kind": e.kind, "points": e.points, "balance_after": e.balance_after,
             "occurred_at": e.occurred_at, "reason": e.reason, "order_ref": e.order_ref,
             "rule": e.rule.name if e.rule else None, "expires_at": e.expires_at} for e in entries]


@router.post("/members/{number}/adjust", response=EntryOut, summary="Adjust points (managers, with a reason)")
@requires("loyalty:write", "loyalty.adjust")
def member_adjust(request, number: Text, payload: AdjustIn, idempotency_key: str | None = KEY_HEADER):
    member = member_get_for_user(request.auth, number=number)
    entry = services.points_adjust(actor=request.auth, member=member, points=payload.points, reason=payload.reason,
                                   idempotency_key=header_idempotency_key(idempotency_key), via="api")
    return {"id": entry.pk, "kind": entry.kind, "points": entry.points, "balance_after": entry.balance_after,
            "occurred_at": entry.occurred_at, "reason": entry.reason, "order_ref": entry.order_ref, "rule": None,
            "expires_at": entry.expires_at}


@router.post("/members/{number}/pay", response=PayOut, summary="Pay with points",
             description="Takes the points and answers their value in CNY at the program's point value.")
@requires("loyalty:write", "loyalty.operate")
def member_pay(request, number: Text, payload: PayIn, idempotency_key: str | None = KEY_HEADER):
    member = member_get_for_user(request.auth, number=number)
    entry = services.points_pay(actor=request.auth, member=member, points=payload.points, order_ref=payload.order_no,
                                idempotency_key=header_idempotency_key(idempotency_key))
    return {"points": -entry.points, "value_cny": entry.amount, "balance": entry.balance_after, "entry": entry.pk}


@router.post("/members/{number}/redeem", response=RedemptionOut, summary="Redeem a reward for points")
@requires("loyalty:write", "loyalty.operate")
def member_redeem(request, number: Text, payload: RedeemIn, idempotency_key: str | None = KEY_HEADER):
    member = member_get_for_user(request.auth, number=number)
    reward = Reward.objects.filter(program_id=member.program_id, public_id=payload.reward).first()
    if reward is None:
        raise NotFound(_("No such reward."), code="not_found", field="reward")
    redemption = services.reward_redeem(actor=request.auth, member=member, reward=reward,
                                        idempotency_key=header_idempotency_key(idempotency_key), via="api")
    return {"reward": reward.name, "points": -redemption.entry.points, "balance": redemption.entry.balance_after,
            "coupon": coupon_out(redemption.coupon) if redemption.coupon else None}


@router.get("/rewards", response=list[RewardOut], summary="The rewards catalogue")
@requires("loyalty:read", "loyalty.view")
def reward_list(request, program: str | None = None):
    rewards = Reward.objects.filter(program=_program(program), is_active=True).select_related("min_tier")
    return [{"id": r.public_id, "name": r.name, "kind": r.kind, "description": r.description,
             "points_cost": r.points_cost, "min_tier": r.min_tier.name if r.min_tier else None, "stock": r.stock}
            for r in rewards]


def _order(request, payload: PosOrderIn, event_type: str, key: str | None) -> tuple[int, dict]:
    if payload.amount < 0 or not payload.amount.is_finite():
        raise DomainError(_("The amount must be zero or more."), code="invalid", field="amount")
    program = _program(None)
    member = _find_member(request.auth, number=payload.member, card=payload.card, phone=payload.phone,
                          program=program)
    if event_type == "order.paid":  # a refund of an earlier sale is still taken back
        customer_require_writable(member.customer)
    occurred_at = payload.occurred_at
    if occurred_at is not None and timezone.is_naive(occurred_at):
        occurred_at = timezone.make_aware(occurred_at)
    body = {"amount": str(payload.amount), "order_no": payload.order_no, "currency": "CNY",
            "member": member.number}
    if payload.store:
        body["store"] = payload.store
    if payload.categories:
        body["categories"] = payload.categories
    if event_type == "order.refunded":
        refund_no = getattr(payload, "refund_no", None)
        if refund_no:
            body["refund_no"] = refund_no
        # A refund is its own document: its number, else the caller's key, names it; without either, every
        # request is one more (partial) refund, as with a payment API.
        key = f"order.refunded:{payload.order_no}:{refund_no}" if refund_no else key
        verb = _("Refund")
    else:
        # One sale per order number, whatever key it is re-sent under.
        key = f"order.paid:{payload.order_no}"
        verb = _("Purchase")
    try:
        with transaction.atomic():
            event, created = record_event(customer=member.customer, type=event_type, actor=request.auth,
                                          occurred_at=occurred_at, channel=payload.channel,
                                          touchpoint=payload.store, payload=body, idempotency_key=key,
                                          summary=f"{verb} {payload.order_no} ¥{payload.amount}")
    except DomainError as exc:
        if exc.code == "idempotency_conflict":
            raise Conflict(_("Order number %(number)s was already recorded for another member.")
                           % {"number": payload.order_no}, code="order_conflict", field="order_no")
        raise
    if not created and (event.payload.get("amount") != body["amount"]
                        or event.payload.get("member") != body["member"]):
        raise Conflict(_("%(document)s %(number)s was already recorded with another amount.")
                       % {"document": verb, "number": payload.order_no}, code="order_conflict", field="amount")
    # Apply now so that the receipt can show the points; a worker that got there first has already done it. The
    # event is committed: if applying it fails now (a deadlock with a worker's batch), the worker's run or the
    # sweep of missed events applies it, and the till still gets the answer for the recorded sale.
    try:
        apply_event(event.pk)
    except DatabaseError:
        log.warning("event %s: not applied in the request; left to the workers", event.pk, exc_info=True)
    applied = AppliedEvent.objects.filter(program=program, event=event).values_list("points", flat=True).first()
    member.refresh_from_db()
    return (201 if created else 200), {"event": event.public_id, "created": created, "points": applied or 0,
                                       "balance": member.balance, "tier": member.tier.name if member.tier else None,
                                       "waiting": applied is None and event_type == "order.refunded"}


@router.post("/orders", response={200: PosOrderOut, 201: PosOrderOut}, summary="A paid order (order.paid)",
             description="Records order.paid for the member and applies the earn rules at once. One sale per "
                         "order number: the same number again answers the first sale (200), with another amount "
                         "or member it is refused (409).")
@requires("events:write", "loyalty.operate")
def order_paid(request, payload: PosOrderIn, idempotency_key: str | None = KEY_HEADER):
    status, body = _order(request, payload, "order.paid", header_idempotency_key(idempotency_key))
    return Status(status, body)


@router.post("/refunds", response={200: PosOrderOut, 201: PosOrderOut}, summary="A refunded order (order.refunded)",
             description="The amount is the amount refunded now; the points the order earned are taken back in "
                         "proportion, and partial refunds add up. Name each refund by its refund_no (or an "
                         "Idempotency-Key): the same refund again answers the first. A refund that arrives before "
                         "its purchase waits for it (waiting: true) and is applied when the purchase arrives.")
@requires("events:write", "loyalty.operate")
def order_refunded(request, payload: PosRefundIn, idempotency_key: str | None = KEY_HEADER):
    status, body = _order(request, payload, "order.refunded", header_idempotency_key(idempotency_key))
    return Status(status, body)


def _visible_coupon(request, code: str, member_number: str | None) -> Coupon:
    """Return the coupon if its customer is visible to the user (and is the named member's), else 404."""
    coupon = services.coupon_find(code)
    member = member_get_for_user(request.auth, number=member_number) if member_number else None
    if not customer_visible_qs(request.auth).filter(pk=coupon.customer_id).exists() or (
            member is not None and member.customer_id != coupon.customer_id):
        raise NotFound(_("No such coupon."), code="not_found", field="code")
    return coupon


@router.post("/coupons/check", response=CouponCheckOut, summary="Check a coupon against an order")
@requires("loyalty:read", "loyalty.view")
def coupon_check(request, payload: CouponCheckIn):
    coupon = _visible_coupon(request, payload.code, payload.member)
    try:
        discount = services.coupon_check(coupon, payload.order_amount)
    except DomainError as exc:
        return {"code": coupon.code, "name": coupon.template.name, "valid": False, "discount": None,
                "code_error": exc.code, "message": str(exc.message)}
    return {"code": coupon.code, "name": coupon.template.name, "valid": True, "discount": discount}


@router.post("/coupons/redeem", response=CouponOut, summary="Use a coupon on an order")
@requires("loyalty:write", "loyalty.operate")
def coupon_redeem(request, payload: CouponRedeemIn, idempotency_key: str | None = KEY_HEADER):
    coupon = _visible_coupon(request, payload.code, payload.member)
    coupon = services.coupon_redeem(actor=request.auth, code=coupon.code, order_ref=payload.order_no,
                                    order_amount=payload.order_amount, idempotency_key=header_idempotency_key(idempotency_key))
    return coupon_out(coupon)


@router.post("/coupons/{code}/reverse", response=CouponOut, summary="Give a used coupon back (managers, with a reason)",
             description="A used coupon comes back by itself when its order is refunded in full; by hand only a "
                         "manager may give it back, saying why.")
@requires("loyalty:write", "loyalty.adjust")
def coupon_reverse(request, code: Text, payload: CouponReverseIn):
    coupon = _visible_coupon(request, code, None)
    return coupon_out(services.coupon_reverse(actor=request.auth, coupon=coupon, reason=payload.reason))
