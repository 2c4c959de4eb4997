"""Every write of the loyalty program, each in one transaction (ledger moves through `ledger.post`)."""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from fidelis.accounts.permissions import has_capability
from fidelis.accounts.services import audit_record
from fidelis.core.errors import Conflict, DomainError, NotFound, PermissionDenied, full_clean_or_raise
from fidelis.customers.normalize import InvalidPhone, normalize_phone, phone_search_digits
from fidelis.customers.selectors import customer_require_writable
from fidelis.events.services import record_event
from fidelis.loyalty import ledger
from fidelis.loyalty.apply.evaluator import rule_view
from fidelis.loyalty.engine import validate_rule
from fidelis.loyalty.errors import LoyaltyCode
from fidelis.loyalty.models import (
    Coupon,
    CouponKind,
    CouponStatus,
    CouponTemplate,
    EntryKind,
    Member,
    MemberStatus,
    PointsEntry,
    Program,
    Redemption,
    Reward,
    Rule,
    RuleStatus,
    Tier,
    normalize_code,
)
from fidelis.loyalty.overlap import rule_overlaps

PROGRAM_FIELDS = ("name", "objective", "target_customers", "lock_in", "kpi_notes", "currency_name", "point_value",
                  "expiry_months", "expiry_notice_days", "member_prefix", "enrol_on_join_event", "is_active")
TIER_FIELDS = ("name", "rank", "basis", "threshold", "window_days", "earn_multiplier", "grace_days", "benefits",
               "color")
RULE_FIELDS = ("name", "description", "trigger", "conditions", "actions", "priority", "starts_at", "ends_at",
               "cap_member_day", "cap_total", "stop_further", "status")
TEMPLATE_FIELDS = ("name", "kind", "value", "max_discount", "min_spend", "gift", "valid_days", "valid_from",
                   "valid_until", "per_customer_limit", "total_limit", "is_active")
REWARD_FIELDS = ("name", "kind", "description", "points_cost", "coupon_template", "min_tier", "stock", "is_active")


def _assign(obj: Any, data: dict, allowed: tuple[str, ...]) -> dict[str, list]:
    """Set the allowed fields that are given; return the changes for the audit log."""
    changes = {}
    for name in allowed:
        if name in data:
            before = getattr(obj, name)
            if before != data[name]:
                changes[name] = [str(before) if before is not None else None,
                                 str(data[name]) if data[name] is not None else None]
            setattr(obj, name, data[name])
    return changes


# --- program, tiers, rules, coupon templates, rewards ---------------------------------------------------------

@transaction.atomic
def program_save(*, actor, program: Program | None = None, data: dict) -> Program:
    """Create or change a program."""
    created = program is None
    program = program or Program()
    changes = _assign(program, data, PROGRAM_FIELDS)
    if program.point_value is not None and program.point_value <= 0:
        raise DomainError(_("A point is worth more than 0 CNY."),
                          code=LoyaltyCode.INVALID_AMOUNT, field="point_value")
    full_clean_or_raise(program, exclude=["last_member_number"])
    program.save()
    audit_record(actor=actor, action="loyalty.program_create" if created else "loyalty.program_change",
                 obj=program, changes=changes)
    return program


@transaction.atomic
def tier_save(*, actor, program: Program, tier: Tier | None = None, data: dict) -> Tier:
    created = tier is None
    tier = tier or Tier(program=program)
    changes = _assign(tier, data, TIER_FIELDS)
    if tier.threshold is not None and tier.threshold < 0:
        raise DomainError(_("A threshold cannot be negative."), code=LoyaltyCode.OUT_OF_RANGE, field="threshold")
    if tier.earn_multiplier is not None and tier.earn_multiplier <= 0:
        raise DomainError(_("The earn multiplier must be more than 0."),
                          code=LoyaltyCode.OUT_OF_RANGE, field="earn_multiplier")
    if Tier.objects.filter(program=program, rank=tier.rank).exclude(pk=tier.pk).exists():
        raise DomainError(_("Another tier has this rank."), code=LoyaltyCode.RANK_TAKEN, field="rank")
    full_clean_or_raise(tier, exclude=["program"])
    tier.save()
    audit_record(actor=actor, action="loyalty.tier_create" if created else "loyalty.tier_change", obj=tier,
                 changes=changes)
    return tier


def _check_rule_refs(program: Program, actions: list[dict]) -> None:
    for index, action in enumerate(actions):
        if action["kind"] == "issue_coupon" and not CouponTemplate.objects.filter(
                program=program, public_id=action["template"]).exists():
            raise DomainError(_("No such coupon template in this program."), code=LoyaltyCode.NOT_FOUND,
                              field=f"actions.{index}.template")
        if action["kind"] == "set_tier" and not Tier.objects.filter(
                program=program, pk=int(action["tier"]) if action["tier"].isdigit() else 0).exists():
            raise DomainError(_("No such tier in this program."),
                              code=LoyaltyCode.NOT_FOUND, field=f"actions.{index}.tier")


@transaction.atomic
def rule_save(*, actor, program: Program, rule: Rule | None = None, data: dict) -> Rule:
    """Create or change an earn rule; its conditions and actions are validated first."""
    created = rule is None
    rule = rule or Rule(program=program, created_by=actor if getattr(actor, "is_authenticated", False) else None)
    trigger = str(data.get("trigger", rule.trigger) or "").strip()
    if not trigger or "." not in trigger:
        raise DomainError(_("An event type looks like \"order.paid\"."),
                          code=LoyaltyCode.INVALID_TRIGGER, field="trigger")
    data = {**data, "trigger": trigger}
    data["conditions"], data["actions"] = validate_rule(trigger, data.get("conditions", rule.conditions),
                                                        data.get("actions", rule.actions))
    _check_rule_refs(program, data["actions"])
    changes = _assign(rule, data, RULE_FIELDS)
    if rule.starts_at and rule.ends_at and rule.ends_at <= rule.starts_at:
        raise DomainError(_("The rule ends before it starts."), code=LoyaltyCode.IMPOSSIBLE, field="ends_at")
    full_clean_or_raise(rule, exclude=["program", "created_by"])
    rule.save()
    audit_record(actor=actor, action="loyalty.rule_create" if created else "loyalty.rule_change", obj=rule,
                 changes=changes)
    return rule


@transaction.atomic
def coupon_template_save(*, actor, program: Program, template: CouponTemplate | None = None,
                         data: dict) -> CouponTemplate:
    created = template is None
    template = template or CouponTemplate(program=program)
    changes = _assign(template, data, TEMPLATE_FIELDS)
    if template.kind == CouponKind.PERCENT_OFF and not (0 < template.value <= 100):
        raise DomainError(_("A percentage is more than 0 and at most 100."),
                          code=LoyaltyCode.OUT_OF_RANGE, field="value")
    if template.kind == CouponKind.AMOUNT_OFF and template.value <= 0:
        raise DomainError(_("The amount off must be more than 0."), code=LoyaltyCode.INVALID_AMOUNT, field="value")
    if template.kind == CouponKind.GIFT and not template.gift:
        raise DomainError(_("Name the gift."), code=LoyaltyCode.REQUIRED, field="gift")
    if template.valid_from and template.valid_until and template.valid_until <= template.valid_from:
        raise DomainError(_("The coupon stops being valid before it starts."), code=LoyaltyCode.IMPOSSIBLE,
                          field="valid_until")
    full_clean_or_raise(template, exclude=["program"])
    template.save()
    audit_record(actor=actor, action="loyalty.coupon_template_create" if created else "loyalty.coupon_template_change",
                 obj=template, changes=changes)
    return template


@transaction.atomic
def reward_save(*, actor, program: Program, reward: Reward | None = None, data: dict) -> Reward:
    created = reward is None
    reward = reward or Reward(program=program)
    changes = _assign(reward, data, REWARD_FIELDS)
    if reward.kind == "coupon" and reward.coupon_template is None:
        raise DomainError(_("Choose the coupon this reward gives."),
                          code=LoyaltyCode.REQUIRED, field="coupon_template")
    for name in ("coupon_template", "min_tier"):
        related = getattr(reward, name)
        if related is not None and related.program_id != program.pk:
            raise DomainError(_("Not part of this program."), code=LoyaltyCode.NOT_IN_PROGRAM, field=name)
    full_clean_or_raise(reward, exclude=["program"])
    reward.save()
    audit_record(actor=actor, action="loyalty.reward_create" if created else "loyalty.reward_change", obj=reward,
                 changes=changes)
    return reward


# --- members ----------------------------------------------------------------------------------------------------

def _next_member_number(program: Program) -> str:
    # An UPDATE … RETURNING-free sequence: the row lock serialises concurrent enrolments of one program.
    Program.objects.filter(pk=program.pk).update(last_member_number=F("last_member_number") + 1)
    value = Program.objects.filter(pk=program.pk).values_list("last_member_number", flat=True).get()
    return f"{program.member_prefix}{value:08d}"


def member_enrol(*, actor, program: Program, customer, channel: str = "", referrer: Member | None = None,
                 joined_at: datetime | None = None, event=None, via: str = "web") -> tuple[Member, bool]:
    """Make the customer a member (once per program); return the member and whether it is new.

    Without `event` (the UI, the API) a member.joined event is recorded, which runs the program's
    "new member" rules; with it (the event made the member) the caller applies the rules.
    """
    if not program.is_active:
        raise DomainError(_("This program is not active."), code=LoyaltyCode.INACTIVE, field="program")
    customer_require_writable(customer)
    if referrer is not None and (referrer.program_id != program.pk or referrer.customer_id == customer.pk):
        raise DomainError(_("The referrer must be another member of this program."),
                          code=LoyaltyCode.INVALID_REFERRER, field="referrer")
    with transaction.atomic():
        existing = Member.objects.filter(program=program, customer=customer).first()
        if existing is not None:
            return existing, False
        entry_tier = Tier.objects.filter(program=program).order_by("rank").first()
        joined_at = joined_at or timezone.now()
        member = Member(program=program, customer=customer, number=_next_member_number(program), channel=channel,
                        referred_by=referrer, joined_at=joined_at, tier=entry_tier,
                        tier_since=joined_at if entry_tier else None)
        try:
            with transaction.atomic():
                member.save()
        except IntegrityError:
            # Another request enrolled this customer at the same moment: theirs stands.
            existing = Member.objects.filter(program=program, customer=customer).first()
            if existing is None:
                raise
            return existing, False
        audit_record(actor=actor, action="loyalty.member_enrol", obj=member, via=via,
                     changes={"customer": [None, customer.number], "program": [None, program.name]})
        if event is None:

            record_event(customer=customer, type="member.joined", actor=actor, occurred_at=joined_at,
                         channel=channel or "system", touchpoint=program.name,
                         payload={"member": member.number, "program": program.public_id,
                                  "program_name": program.name, "card": member.card_code},
                         idempotency_key=f"member.joined:{program.public_id}:{customer.public_id}")
    return member, True


@transaction.atomic
def member_leave(*, actor, member: Member) -> Member:
    member = ledger.lock_member(member.pk)
    member.status = MemberStatus.LEFT
    member.save(update_fields=["status", "updated_at"])
    audit_record(actor=actor, action="loyalty.member_leave", obj=member)
    return member


def _active(member: Member) -> None:
    if member.status != MemberStatus.ACTIVE:
        raise DomainError(_("This member has left the club."), code=LoyaltyCode.INACTIVE, field="member")


@transaction.atomic
def points_adjust(*, actor, member: Member, points: int, reason: str, idempotency_key: str | None = None,
                  via: str = "web") -> PointsEntry:
    """A manager's correction, with a reason; never below a zero balance."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Give the reason for the adjustment."), code=LoyaltyCode.REQUIRED, field="reason")
    member = ledger.lock_member(member.pk)
    # Looked up under the member's lock: a concurrent request with the same key has committed by now.
    if idempotency_key:
        done = PointsEntry.objects.filter(idempotency_key=idempotency_key).first()
        if done is not None:
            return _same_entry(done, member, EntryKind.ADJUST, points)
    entry = ledger.post(member, EntryKind.ADJUST, points, reason=reason, actor=actor,
                        idempotency_key=idempotency_key)
    audit_record(actor=actor, action="loyalty.points_adjust", obj=member, via=via,
                 changes={"points": [None, points], "reason": [None, reason]})
    return entry


def _same_entry(entry: PointsEntry, member: Member, kind: str, points: int) -> PointsEntry:
    if entry.member_id != member.pk or entry.kind != kind or entry.points != points:
        raise Conflict(_("This idempotency key was already used for another operation."),
                       code=LoyaltyCode.IDEMPOTENCY_CONFLICT, field="idempotency_key")
    return entry


def _idempotent(key: str | None, run):
    """Run `run()` in a transaction, once per key: a key already used (also by a concurrent request) gives the
    first result back, which `run` finds itself when its insert of the key fails."""
    try:
        with transaction.atomic():
            return run()
    except IntegrityError:
        if not key:
            raise
        with transaction.atomic():
            return run()


def points_pay(*, actor, member: Member, points: int, order_ref: str, idempotency_key: str | None = None,
               via: str = "api") -> PointsEntry:
    """Use points as payment at the program's point value; the entry's amount is the CNY value."""
    if not isinstance(points, int) or points <= 0:
        raise DomainError(_("Points must be a whole number above zero."),
                          code=LoyaltyCode.INVALID_POINTS, field="points")

    def run() -> PointsEntry:
        if idempotency_key:
            done = PointsEntry.objects.filter(idempotency_key=idempotency_key).first()
            if done is not None:
                return _same_entry(done, member, EntryKind.PAYMENT, -points)
        locked = ledger.lock_member(member.pk)
        _active(locked)
        value = (Decimal(points) * locked.program.point_value).quantize(Decimal("0.01"))
        entry = ledger.post(locked, EntryKind.PAYMENT, -points, order_ref=order_ref, amount=value, actor=actor,
                            idempotency_key=idempotency_key,
                            reason=_("¥%(value)s off order %(order)s") % {"value": value, "order": order_ref})
        audit_record(actor=actor, action="loyalty.points_pay", obj=locked, via=via,
                     changes={"points": [None, -points], "order": [None, order_ref]})
        return entry

    return _idempotent(idempotency_key, run)


def reward_redeem(*, actor, member: Member, reward: Reward, idempotency_key: str | None = None,
                  via: str = "web") -> Redemption:
    """Exchange points for a reward: check tier and stock, take the points, issue the coupon if it is one."""

    def run() -> Redemption:
        if idempotency_key:
            done = PointsEntry.objects.filter(idempotency_key=idempotency_key).select_related("redemption").first()
            if done is not None:
                _same_entry(done, member, EntryKind.REDEEM, -reward.points_cost)
                return done.redemption
        locked = ledger.lock_member(member.pk)
        _active(locked)
        if not reward.is_active or reward.program_id != locked.program_id:
            raise DomainError(_("This reward cannot be redeemed."), code=LoyaltyCode.INACTIVE, field="reward")
        if reward.min_tier_id and (locked.tier is None or locked.tier.rank < reward.min_tier.rank):
            raise DomainError(_("This reward is for %(tier)s members and above.") % {"tier": reward.min_tier.name},
                              code=LoyaltyCode.TIER_REQUIRED, field="reward")
        if locked.balance < reward.points_cost:
            raise ledger.InsufficientPoints(
                _("Not enough points: the balance is %(balance)s, %(points)s are needed.")
                % {"balance": locked.balance, "points": reward.points_cost},
                code=LoyaltyCode.INSUFFICIENT_POINTS, field="points", balance=locked.balance)
        if reward.stock is not None and not Reward.objects.filter(pk=reward.pk, stock__gt=0).update(
                stock=F("stock") - 1):
            raise Conflict(_("This reward is out of stock."), code=LoyaltyCode.OUT_OF_STOCK, field="reward")
        entry = ledger.post(locked, EntryKind.REDEEM, -reward.points_cost, actor=actor,
                            idempotency_key=idempotency_key, reason=reward.name)
        coupon = None
        if reward.coupon_template_id:
            coupon = coupon_issue(actor=actor, template=reward.coupon_template, customer=locked.customer,
                                  source="reward")
        redemption = Redemption.objects.create(member=locked, reward=reward, entry=entry, coupon=coupon,
                                               actor=actor if getattr(actor, "is_authenticated", False) else None)
        audit_record(actor=actor, action="loyalty.reward_redeem", obj=locked, via=via,
                     changes={"reward": [None, reward.name], "points": [None, -reward.points_cost]})
        return redemption

    return _idempotent(idempotency_key, run)


# --- coupons ----------------------------------------------------------------------------------------------------

def coupon_issue(*, actor, template: CouponTemplate, customer, source: str = "manual", rule=None, event=None,
                 issue_key: str | None = None, now: datetime | None = None) -> Coupon:
    """Issue one coupon within the template's limits (call inside a transaction; the template row is locked)."""
    now = now or timezone.now()
    if issue_key:
        done = Coupon.objects.filter(issue_key=issue_key).first()
        if done is not None:
            return done
    with transaction.atomic():
        locked = CouponTemplate.objects.select_for_update(no_key=True).get(pk=template.pk)
        if not locked.is_active:
            raise DomainError(_("This coupon is not being issued."), code=LoyaltyCode.INACTIVE, field="template")
        if locked.valid_until and locked.valid_until <= now:
            raise DomainError(_("This coupon's validity has ended."), code=LoyaltyCode.EXPIRED, field="template")
        if locked.total_limit is not None and locked.issued_count >= locked.total_limit:
            raise Conflict(_("All %(limit)s coupons of this kind have been issued.") % {"limit": locked.total_limit},
                           code=LoyaltyCode.LIMIT_REACHED, field="template")
        if locked.per_customer_limit is not None and Coupon.objects.filter(
                template=locked, customer=customer).count() >= locked.per_customer_limit:
            raise Conflict(_("This customer already has as many of these coupons as allowed."),
                           code=LoyaltyCode.LIMIT_REACHED, field="customer")
        valid_from = max(now, locked.valid_from) if locked.valid_from else now
        valid_until = locked.valid_until
        if locked.valid_days:
            by_days = valid_from + timedelta(days=locked.valid_days)
            valid_until = min(valid_until, by_days) if valid_until else by_days
        coupon = Coupon.objects.create(template=locked, customer=customer, valid_from=valid_from,
                                       valid_until=valid_until, source=source, rule=rule, event=event,
                                       issue_key=issue_key, issued_at=now)
        CouponTemplate.objects.filter(pk=locked.pk).update(issued_count=F("issued_count") + 1)
        _coupon_event(coupon, "coupon.issued", actor)
        if getattr(actor, "is_authenticated", False):
            audit_record(actor=actor, action="loyalty.coupon_issue", obj=coupon, via=source,
                         changes={"template": [None, locked.name], "customer": [None, customer.number]})
    return coupon


def _coupon_event(coupon: Coupon, type: str, actor, key: str | None = None) -> None:

    record_event(customer=coupon.customer, type=type, actor=actor, channel="system",
                 touchpoint=coupon.template.name,
                 payload={"coupon": coupon.code[-4:], "template": coupon.template.public_id,
                          "name": coupon.template.name,
                          "order": coupon.order_ref, "discount": str(coupon.discount or "")},
                 idempotency_key=key)


def coupon_discount(coupon: Coupon, order_amount: Decimal | None) -> Decimal:
    """Return the discount the coupon gives on an order of this amount (0 for a gift)."""
    template = coupon.template
    if template.kind == CouponKind.GIFT:
        return Decimal("0")
    if order_amount is None:
        raise DomainError(_("Give the order amount."), code=LoyaltyCode.REQUIRED, field="order_amount")
    if template.kind == CouponKind.AMOUNT_OFF:
        discount = template.value
    else:
        discount = (order_amount * template.value / 100).quantize(Decimal("0.01"))
        if template.max_discount is not None:
            discount = min(discount, template.max_discount)
    return min(discount, order_amount)


def coupon_find(code: str, *, customer=None) -> Coupon:
    """Return the coupon with this code (of this customer when given) or raise NotFound."""
    code = normalize_code(code)
    coupon = Coupon.objects.select_related("template", "customer").filter(code=code).first() if code else None
    if coupon is None or (customer is not None and coupon.customer_id != customer.pk):
        raise NotFound(_("No such coupon."), code=LoyaltyCode.NOT_FOUND, field="code")
    return coupon


def coupon_check(coupon: Coupon, order_amount: Decimal | None, now: datetime | None = None) -> Decimal:
    """Raise a DomainError unless the coupon may be used now on this order; return the discount."""
    now = now or timezone.now()
    if order_amount is not None and order_amount < 0:
        raise DomainError(_("An amount cannot be negative."),
                          code=LoyaltyCode.INVALID_AMOUNT, field="order_amount")
    if coupon.status == CouponStatus.REDEEMED:
        raise Conflict(_("This coupon was already used."), code=LoyaltyCode.COUPON_USED, field="code")
    if coupon.status == CouponStatus.VOID:
        raise DomainError(_("This coupon was cancelled."), code=LoyaltyCode.COUPON_VOID, field="code")
    if now < coupon.valid_from:
        raise DomainError(_("This coupon is not valid yet."), code=LoyaltyCode.NOT_YET_VALID, field="code")
    if coupon.valid_until is not None and now >= coupon.valid_until:
        raise DomainError(_("This coupon has expired."), code=LoyaltyCode.EXPIRED, field="code")
    minimum = coupon.template.min_spend
    if minimum is not None and (order_amount is None or order_amount < minimum):
        raise DomainError(_("This coupon needs an order of at least ¥%(amount)s.") % {"amount": minimum},
                          code=LoyaltyCode.MIN_SPEND, field="order_amount")
    return coupon_discount(coupon, order_amount)


def coupon_redeem(*, actor, code: str, order_ref: str, order_amount: Decimal | None, customer=None,
                  idempotency_key: str | None = None, via: str = "api") -> Coupon:
    """Use a coupon on an order; the same idempotency key gives the same answer."""
    if idempotency_key:
        done = Coupon.objects.select_related("template").filter(redeem_key=idempotency_key).first()
        if done is not None:
            if done.code != normalize_code(code):
                raise Conflict(_("This idempotency key was already used for another operation."),
                               code=LoyaltyCode.IDEMPOTENCY_CONFLICT, field="idempotency_key")
            return done
    with transaction.atomic():
        coupon = coupon_find(code, customer=customer)
        coupon = Coupon.objects.select_for_update(of=("self",)).select_related("template", "customer").get(
            pk=coupon.pk)
        if idempotency_key and coupon.redeem_key == idempotency_key:
            return coupon
        discount = coupon_check(coupon, order_amount)
        coupon.status = CouponStatus.REDEEMED
        coupon.redeemed_at = timezone.now()
        coupon.order_ref = order_ref[:64]
        coupon.discount = discount
        coupon.redeem_key = idempotency_key
        coupon.save(update_fields=["status", "redeemed_at", "order_ref", "discount", "redeem_key"])
        _coupon_event(coupon, "coupon.redeemed", actor)
        audit_record(actor=actor, action="loyalty.coupon_redeem", obj=coupon, via=via,
                     changes={"order": [None, order_ref], "discount": [None, str(discount)]})
    return coupon


@transaction.atomic
def coupon_reverse(*, actor, coupon: Coupon, reason: str = "", via: str = "api") -> Coupon:
    """Give a used coupon back; safe to call twice.

    The refund of its whole order gives it back by itself (`actor` None); by hand only a manager may, with a
    reason: otherwise redeem, give back and redeem again would make one single-use coupon pay several times.
    """
    reason = (reason or "").strip()
    if actor is not None:
        if not has_capability(actor, "loyalty.adjust"):
            raise PermissionDenied(_("A used coupon comes back when its order is refunded in full; only a manager "
                                     "may give it back by hand."), code=LoyaltyCode.FORBIDDEN, field="code")
        if not reason:
            raise DomainError(_("Give the reason for giving the coupon back."),
                              code=LoyaltyCode.REQUIRED, field="reason")
    coupon = Coupon.objects.select_for_update(of=("self",)).select_related("template", "customer").get(pk=coupon.pk)
    if coupon.status != CouponStatus.REDEEMED:
        return coupon
    order_ref = coupon.order_ref
    coupon.status = CouponStatus.ACTIVE
    coupon.redeemed_at = None
    coupon.discount = None
    coupon.redeem_key = None
    coupon.save(update_fields=["status", "redeemed_at", "discount", "redeem_key"])
    _coupon_event(coupon, "coupon.reversed", actor)
    audit_record(actor=actor, action="loyalty.coupon_reverse", obj=coupon, via=via,
                 changes={"order": [order_ref, None], "reason": [None, reason]})
    return coupon


@transaction.atomic
def coupon_void(*, actor, coupon: Coupon, reason: str = "") -> Coupon:
    coupon = Coupon.objects.select_for_update(of=("self",)).get(pk=coupon.pk)
    if coupon.status == CouponStatus.REDEEMED:
        raise Conflict(_("A used coupon cannot be cancelled."), code=LoyaltyCode.COUPON_USED, field="code")
    coupon.status = CouponStatus.VOID
    coupon.save(update_fields=["status"])
    audit_record(actor=actor, action="loyalty.coupon_void", obj=coupon, changes={"reason": [None, reason]})
    return coupon


@transaction.atomic
def rule_activate(*, actor, rule: Rule, status: str, confirm_overlap: bool = False) -> Rule:
    """Make a rule live, pause it or put it back to draft.

    A rule that would go live next to a live rule rewarding the same events the same way (see `loyalty.overlap`)
    is refused with the code "rule_overlap" unless `confirm_overlap`: every such event would be rewarded twice.
    """
    if status not in RuleStatus.values:
        raise DomainError(_("Unknown status."), code=LoyaltyCode.INVALID_CHOICE, field="status")
    if status == RuleStatus.ACTIVE and rule.status != RuleStatus.ACTIVE and not confirm_overlap:
        # The program's row, locked: two identical rules made live at the same moment would each find the other
        # not live yet, and neither would be warned.
        list(Program.objects.select_for_update().filter(pk=rule.program_id).values_list("pk", flat=True))
        rule_overlap_check(rule.program, rule)
    return rule_save(actor=actor, program=rule.program, rule=rule, data={"status": status})


@transaction.atomic
def rule_delete(*, actor, rule: Rule) -> None:
    """Delete a draft rule that never gave anything; a rule that went live is paused instead (its entries keep it)."""
    rule = Rule.objects.select_for_update().get(pk=rule.pk)
    if rule.status != RuleStatus.DRAFT:
        raise Conflict(_("Only a draft rule can be deleted: pause a live rule instead."),
                       code=LoyaltyCode.RULE_NOT_DRAFT, field="status")
    if PointsEntry.objects.filter(rule=rule).exists() or Coupon.objects.filter(rule=rule).exists():
        raise Conflict(_("This rule has given points or coupons: pause it instead of deleting it."),
                       code=LoyaltyCode.RULE_USED, field="status")
    audit_record(actor=actor, action="loyalty.rule_delete", obj=rule, changes={"name": [rule.name, None]})
    rule.delete()


def rule_overlap_check(program: Program, rule: Any) -> None:
    """Refuse (code "rule_overlap", naming the live rules) a rule, saved or a `RuleView`, that overlaps live ones."""

    overlapping = rule_overlaps(program, rule_view(rule) if isinstance(rule, Rule) else rule)
    if overlapping:
        raise DomainError(
            _("The live rule(s) %(names)s already reward the same events the same way: going live, this rule "
              "would reward them twice. Confirm to make it live anyway.")
            % {"names": ", ".join(f"“{r.name}”" for r in overlapping)},
            code=LoyaltyCode.RULE_OVERLAP, field="status")


def members_lookup(program: Program, *, phone: str = "", card: str = "", number: str = "") -> Q:
    """Return the filter that finds a member by phone, card/QR code or member number."""

    if number:
        return Q(number=number.strip().upper())
    if card:
        return Q(card_code=normalize_code(card))
    if phone:
        try:
            digits = phone_search_digits(normalize_phone(phone))
        except InvalidPhone:
            raise DomainError(_("“%(value)s” is not a valid phone number.") % {"value": phone},
                              code=LoyaltyCode.INVALID_PHONE, field="phone")
        return Q(customer__phone_digits=digits)
    raise DomainError(_("Name the member: phone, card or member number."),
                      code=LoyaltyCode.REQUIRED, field="member")
