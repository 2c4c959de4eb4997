"""The member club: programs, members, the points ledger, tiers, earn rules, coupons and rewards.

The invariants (ARCHITECTURE "Invariants" 1–3) live here and in `ledger.py`:
- a member's `balance` changes only together with an appended `PointsEntry`, in one transaction, with the member
  row locked; `balance == sum(entries)` and `balance >= 0` always (a database check keeps the second);
- ledger entries are never updated (a database trigger refuses it, see migration 0002) nor deleted by the app;
- points are whole numbers; money (order amounts, point value, discounts) is Decimal CNY.
"""

import secrets
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fidelis.core.models import PublicIdModel

# Member card and coupon codes: no 0/O, 1/I/L, so that they can be read out over the phone.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_code(length: int = 12) -> str:
    """Return an unguessable code (12 characters of a 31-letter alphabet: about 59 random bits)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _i in range(length))


def normalize_code(raw: str) -> str:
    """Return a card or coupon code as stored: upper case, without the spaces and dashes people type."""
    return (raw or "").strip().upper().replace("-", "").replace(" ", "")


class Objective(models.TextChoices):
    """What the program is for (seed 004: 忠诚计划的目标)."""

    FREQUENCY = "frequency", _("Raise purchase frequency")
    BASKET = "basket", _("Raise the average basket")
    SWITCHING = "switching", _("Stop brand switching")
    ACQUISITION = "acquisition", _("Attract new customers")
    WINBACK = "winback", _("Win back lapsed customers")


class Rounding(models.TextChoices):
    FLOOR = "floor", _("Round down")
    HALF_UP = "half_up", _("Round half up")
    CEIL = "ceil", _("Round up")


class Program(PublicIdModel):
    name = models.CharField(_("name"), max_length=80)
    objective = models.CharField(_("objective"), max_length=12, choices=Objective.choices,
                                 default=Objective.FREQUENCY)
    target_customers = models.CharField(_("target customers"), max_length=200, blank=True,
                                        help_text=_("Who the program is for, e.g. “shoppers who visit monthly”."))
    lock_in = models.TextField(_("lock-in strategy"), blank=True,
                               help_text=_("Why members keep coming back: benefits, tiers, member-only events."))
    kpi_notes = models.TextField(_("success criteria"), blank=True,
                                 help_text=_("The figures that say whether the program works, and their targets."))
    currency_name = models.CharField(_("points name"), max_length=20, default="积分")
    point_value = models.DecimalField(_("value of one point (CNY)"), max_digits=8, decimal_places=4,
                                      default=Decimal("0.01"))
    expiry_months = models.PositiveSmallIntegerField(
        _("points expire after (months)"), default=24,
        help_text=_("Points expire at the end of the month this many months after they were earned; 0: never."))
    expiry_notice_days = models.PositiveSmallIntegerField(_("expiry notice (days before)"), default=30)
    member_prefix = models.CharField(_("member number prefix"), max_length=4, default="M")
    last_member_number = models.BigIntegerField(default=0, editable=False)
    enrol_on_join_event = models.BooleanField(
        _("enrol on “joined the member club” events"), default=True,
        help_text=_("A member.joined event from the POS or the official account makes the customer a member."))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("loyalty program")
        verbose_name_plural = _("loyalty programs")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Tier(models.Model):
    class Basis(models.TextChoices):
        POINTS = "points", _("Points earned")
        SPEND = "spend", _("Amount spent (CNY)")

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="tiers",
                                verbose_name=_("program"))
    name = models.CharField(_("name"), max_length=30)
    rank = models.PositiveSmallIntegerField(_("rank"), help_text=_("0 is the entry tier; higher is better."))
    basis = models.CharField(_("qualifies on"), max_length=8, choices=Basis.choices, default=Basis.SPEND)
    threshold = models.DecimalField(_("threshold"), max_digits=14, decimal_places=2, default=Decimal("0"))
    window_days = models.PositiveSmallIntegerField(_("rolling window (days)"), default=365)
    earn_multiplier = models.DecimalField(_("earn multiplier"), max_digits=4, decimal_places=2,
                                          default=Decimal("1"))
    grace_days = models.PositiveSmallIntegerField(
        _("grace period (days)"), default=30,
        help_text=_("A member who no longer qualifies keeps the tier this long after the review."))
    benefits = models.TextField(_("benefits"), blank=True)
    color = models.CharField(_("colour"), max_length=7, default="#8a8f98")

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["program", "rank"]
        constraints = [models.UniqueConstraint(fields=["program", "rank"], name="tier_rank_unique")]

    def __str__(self) -> str:
        return self.name


class MemberStatus(models.TextChoices):
    ACTIVE = "active", pgettext_lazy("member", "Active")
    LEFT = "left", _("Left the club")


class Member(PublicIdModel):
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="members",
                                verbose_name=_("program"))
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="memberships",
                                 verbose_name=_("customer"))
    number = models.CharField(_("member number"), max_length=24)
    card_code = models.CharField(_("card / QR code"), max_length=32, unique=True, default=new_code)
    status = models.CharField(_("status"), max_length=8, choices=MemberStatus.choices, default=MemberStatus.ACTIVE)
    joined_at = models.DateTimeField(_("joined at"), default=timezone.now)
    channel = models.CharField(_("joined through"), max_length=16, blank=True)
    referred_by = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="referrals",
                                    verbose_name=_("referred by"))
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="members",
                             verbose_name=_("tier"))
    tier_since = models.DateTimeField(_("tier since"), null=True, blank=True)
    tier_grace_until = models.DateField(_("keeps the tier until"), null=True, blank=True)
    # Changed only by fidelis.loyalty.ledger, together with a PointsEntry.
    balance = models.BigIntegerField(_("points balance"), default=0, editable=False)
    earned_total = models.BigIntegerField(_("points earned"), default=0, editable=False)
    purchases = models.PositiveIntegerField(_("purchases"), default=0, editable=False)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        ordering = ["-joined_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["program", "customer"], name="member_program_customer_unique"),
            models.UniqueConstraint(fields=["program", "number"], name="member_program_number_unique"),
            models.CheckConstraint(condition=models.Q(balance__gte=0), name="member_balance_not_negative"),
        ]

    def __str__(self) -> str:
        return self.number


class EntryKind(models.TextChoices):
    EARN = "earn", _("Earned")
    REDEEM = "redeem", _("Redeemed for a reward")
    PAYMENT = "payment", _("Paid with points")
    EXPIRE = "expire", _("Expired")
    ADJUST = "adjust", _("Manual adjustment")
    CLAWBACK = "clawback", _("Taken back after a refund")
    REVERSAL = "reversal", _("Returned after a cancellation")


class PointsEntry(models.Model):
    """One change of a member's balance. Append-only: never updated, never deleted by the application."""

    # The member's entries are read through points_entry_member_idx (member first): no index of its own, one index
    # fewer to write per entry. The same for the other foreign keys that lead a composite index below.
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="entries", verbose_name=_("member"),
                               db_index=False)
    kind = models.CharField(_("kind"), max_length=10, choices=EntryKind.choices)
    points = models.BigIntegerField(_("points"))
    balance_after = models.BigIntegerField(_("balance after"))
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    # No SET_NULL here: clearing a reference would update the entry. Rules with entries are paused, not deleted;
    # events go only with their customer, and the customer's entries with them.
    rule = models.ForeignKey("Rule", on_delete=models.PROTECT, null=True, blank=True, related_name="entries",
                             verbose_name=_("rule"), db_index=False)
    # No index: nothing looks entries up by their event (a refund finds its purchase, an event its AppliedEvent).
    event = models.ForeignKey("events.Event", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False,
                              null=True, blank=True, related_name="+", verbose_name=_("event"))
    order_ref = models.CharField(_("order"), max_length=64, blank=True)
    amount = models.DecimalField(_("amount (CNY)"), max_digits=14, decimal_places=2, null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    shortfall = models.BigIntegerField(
        _("not recovered"), default=0,
        help_text=_("Points a refund should have taken back but that were already spent."))
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+", verbose_name=_("by"), db_index=False)
    # The key of the request that made the entry (an adjustment, a redemption, a payment), so that it is made once.
    # Entries of rules have none: the event's AppliedEvent, written in the same transaction, makes them once. Unique
    # through a partial constraint: no index entry for the entries without a key (most of them).
    idempotency_key = models.CharField(max_length=160, null=True, blank=True)

    class Meta:
        verbose_name = _("points entry")
        verbose_name_plural = _("points entries")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["member", "-occurred_at", "-id"], name="points_entry_member_idx"),
            models.Index(fields=["rule", "member", "occurred_at"], name="points_entry_rule_idx"),
            # Only manual adjustments have an actor: a partial index, not one row per entry.
            models.Index(fields=["actor"], name="points_entry_actor_idx", condition=models.Q(actor__isnull=False)),
        ]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="points_entry_idempotency_unique",
                                    condition=models.Q(idempotency_key__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.points:+d}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("points entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("points entries are append-only")


class PointsLot(models.Model):
    """What is left of one earning, spent and expired oldest first (FIFO). The only mutable part of the ledger."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="lots", db_index=False)  # fifo index
    entry = models.OneToOneField(PointsEntry, on_delete=models.CASCADE, related_name="lot")
    points = models.BigIntegerField()
    remaining = models.BigIntegerField()
    expires_at = models.DateTimeField(null=True, blank=True)
    notified = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["member", "expires_at", "id"], name="points_lot_fifo_idx"),
                   models.Index(fields=["expires_at"], name="points_lot_expiry_idx")]
        constraints = [models.CheckConstraint(condition=models.Q(remaining__gte=0), name="points_lot_not_negative")]

    def __str__(self) -> str:
        return f"{self.remaining}/{self.points}"


class Purchase(models.Model):
    """A member's paid order as the program sees it: the basis for spend tiers, nth-purchase rules and refunds."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="purchase_set",
                               db_index=False)  # purchase_member_idx
    # One purchase per member and order (purchase_order_unique), so one per program for an event: not one-to-one.
    # No foreign key in the database for the event here and in AppliedEvent (Django still sets it to NULL, or
    # deletes the row, with the event): its check locks every event row a purchase is made from, which rewrites the
    # event stream's table page by page (bench/ledger.py: the back-fill 1.3x faster without the two).
    event = models.ForeignKey("events.Event", on_delete=models.SET_NULL, db_constraint=False, null=True, blank=True,
                              related_name="+")
    order_ref = models.CharField(max_length=64)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    refunded = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    points = models.BigIntegerField(default=0)
    points_clawed = models.BigIntegerField(default=0)
    points_unrecovered = models.BigIntegerField(default=0)
    occurred_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["member", "occurred_at"], name="purchase_member_idx")]
        constraints = [models.UniqueConstraint(fields=["member", "order_ref"], name="purchase_order_unique")]

    def __str__(self) -> str:
        return self.order_ref


class AppliedEvent(models.Model):
    """An event the program has processed; written in the same transaction as its effects (exactly once)."""

    # Both found through applied_event_unique, the event first: it also serves deleting an event's rows. No foreign
    # key in the database to the event: see Purchase.event.
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="+", db_index=False)
    event = models.ForeignKey("events.Event", on_delete=models.CASCADE, related_name="+", db_index=False,
                              db_constraint=False)  # see Purchase.event
    applied_at = models.DateTimeField(default=timezone.now)
    points = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "program"], name="applied_event_unique")]

    def __str__(self) -> str:
        return f"{self.program_id}:{self.event_id}"


class WaitingRefund(models.Model):
    """A refund that came before its purchase (a till that syncs late sends in any order).

    Its event is not marked applied while it waits: when the purchase is applied, the refund is applied after it
    (`handlers.refunds_waiting_apply`), and the sweep of missed events retries it as well.
    """

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    order_ref = models.CharField(_("order number"), max_length=64)
    event = models.ForeignKey("events.Event", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("refund waiting for its purchase")
        verbose_name_plural = _("refunds waiting for their purchase")
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["program", "event"], name="waiting_refund_unique")]
        indexes = [models.Index(fields=["program", "member", "order_ref"], name="waiting_refund_order")]

    def __str__(self) -> str:
        return f"{self.member_id}:{self.order_ref}"


class RuleStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Live")
    PAUSED = "paused", _("Paused")


class Rule(PublicIdModel):
    """An earn rule: when an event of `trigger` matches every condition, do every action (see engine.py)."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="rules", verbose_name=_("program"))
    name = models.CharField(_("name"), max_length=80)
    description = models.CharField(_("description"), max_length=200, blank=True)
    trigger = models.CharField(_("when"), max_length=40, help_text=_("The event type, e.g. order.paid."))
    conditions = models.JSONField(_("conditions"), default=list, blank=True)
    actions = models.JSONField(_("actions"), default=list)
    priority = models.SmallIntegerField(_("priority"), default=100, help_text=_("Higher runs first."))
    starts_at = models.DateTimeField(_("starts"), null=True, blank=True)
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True)
    cap_member_day = models.PositiveIntegerField(_("cap per member per day (points)"), null=True, blank=True)
    cap_total = models.PositiveBigIntegerField(_("cap in total (points)"), null=True, blank=True)
    points_awarded = models.BigIntegerField(_("points given"), default=0, editable=False)
    stop_further = models.BooleanField(_("stop here"), default=False,
                                       help_text=_("When this rule applies, rules of lower priority are skipped."))
    status = models.CharField(_("status"), max_length=8, choices=RuleStatus.choices, default=RuleStatus.DRAFT)
    template = models.CharField(max_length=30, blank=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")

    class Meta:
        verbose_name = _("earn rule")
        verbose_name_plural = _("earn rules")
        ordering = ["-priority", "id"]

    def __str__(self) -> str:
        return self.name


class CouponKind(models.TextChoices):
    AMOUNT_OFF = "amount", _("Amount off")
    PERCENT_OFF = "percent", _("Percent off")
    GIFT = "gift", _("Gift")


class CouponTemplate(PublicIdModel):
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="coupon_templates",
                                verbose_name=_("program"))
    name = models.CharField(_("name"), max_length=80)
    kind = models.CharField(_("kind"), max_length=8, choices=CouponKind.choices, default=CouponKind.AMOUNT_OFF)
    value = models.DecimalField(_("value"), max_digits=10, decimal_places=2, default=Decimal("0"),
                                help_text=_("CNY off, or the percentage off."))
    max_discount = models.DecimalField(_("maximum discount (CNY)"), max_digits=10, decimal_places=2, null=True,
                                       blank=True)
    min_spend = models.DecimalField(_("minimum spend (CNY)"), max_digits=10, decimal_places=2, null=True, blank=True)
    gift = models.CharField(_("gift"), max_length=100, blank=True)
    valid_days = models.PositiveSmallIntegerField(_("valid for (days after issue)"), null=True, blank=True)
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    per_customer_limit = models.PositiveSmallIntegerField(_("per customer at most"), null=True, blank=True)
    total_limit = models.PositiveIntegerField(_("in total at most"), null=True, blank=True)
    issued_count = models.PositiveIntegerField(_("issued"), default=0, editable=False)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("coupon template")
        verbose_name_plural = _("coupon templates")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CouponStatus(models.TextChoices):
    ACTIVE = "active", _("Valid")
    REDEEMED = "redeemed", _("Used")
    VOID = "void", _("Cancelled")


class Coupon(models.Model):
    template = models.ForeignKey(CouponTemplate, on_delete=models.PROTECT, related_name="coupons",
                                 verbose_name=_("coupon"))
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="coupons",
                                 verbose_name=_("customer"))
    code = models.CharField(_("code"), max_length=20, unique=True, default=new_code)
    status = models.CharField(_("status"), max_length=8, choices=CouponStatus.choices, default=CouponStatus.ACTIVE)
    issued_at = models.DateTimeField(_("issued at"), default=timezone.now)
    valid_from = models.DateTimeField(_("valid from"), default=timezone.now)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=12, default="manual")
    rule = models.ForeignKey(Rule, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    event = models.ForeignKey("events.Event", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    redeemed_at = models.DateTimeField(_("used at"), null=True, blank=True)
    order_ref = models.CharField(_("order"), max_length=64, blank=True)
    discount = models.DecimalField(_("discount (CNY)"), max_digits=10, decimal_places=2, null=True, blank=True)
    redeem_key = models.CharField(max_length=160, null=True, blank=True, unique=True)
    issue_key = models.CharField(max_length=160, null=True, blank=True, unique=True)

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        ordering = ["-issued_at", "-id"]
        indexes = [models.Index(fields=["customer", "template"], name="coupon_customer_idx")]

    def __str__(self) -> str:
        return self.code

    def is_valid_at(self, when) -> bool:
        return (self.status == CouponStatus.ACTIVE and self.valid_from <= when
                and (self.valid_until is None or when < self.valid_until))


class RewardKind(models.TextChoices):
    GIFT = "gift", _("Gift")
    COUPON = "coupon", _("Coupon")
    EVENT = "event", _("Member event")


class Reward(PublicIdModel):
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="rewards", verbose_name=_("program"))
    name = models.CharField(_("name"), max_length=80)
    kind = models.CharField(_("kind"), max_length=8, choices=RewardKind.choices, default=RewardKind.GIFT)
    description = models.CharField(_("description"), max_length=200, blank=True)
    points_cost = models.PositiveIntegerField(_("points"))
    coupon_template = models.ForeignKey(CouponTemplate, on_delete=models.PROTECT, null=True, blank=True,
                                        related_name="+", verbose_name=_("coupon"))
    min_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                 verbose_name=_("for tier and above"))
    stock = models.PositiveIntegerField(_("in stock"), null=True, blank=True, help_text=_("Empty: unlimited."))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("reward")
        verbose_name_plural = _("rewards")
        ordering = ["points_cost", "id"]

    def __str__(self) -> str:
        return self.name


class Redemption(models.Model):
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="redemptions")
    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, related_name="redemptions")
    entry = models.OneToOneField(PointsEntry, on_delete=models.CASCADE, related_name="redemption")
    coupon = models.ForeignKey(Coupon, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.member} → {self.reward}"
