"""Reads of the member club: who may see which member, KPIs of a program, a member's standing."""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Subquery, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from fidelis.core.errors import NotFound
from fidelis.customers.models import Customer
from fidelis.customers.selectors import customer_visible_qs
from fidelis.events.models import Event
from fidelis.loyalty.errors import LoyaltyCode
from fidelis.loyalty.models import (
    Coupon,
    CouponStatus,
    EntryKind,
    Member,
    MemberStatus,
    PointsEntry,
    PointsLot,
    Program,
    Purchase,
    Tier,
    normalize_code,
)
from fidelis.loyalty.tiers import tier_values

ACTIVE_DAYS = 90
REPEAT_DAYS = 365


def member_visible_qs(user) -> QuerySet[Member]:
    """Members whose customer the user may see (sales reps: their own and unassigned customers)."""
    return Member.objects.filter(customer__in=customer_visible_qs(user)).select_related("customer", "tier",
                                                                                          "program")


def member_get_for_user(user, *, number: str | None = None, public_id: str | None = None,
                        program: Program | None = None) -> Member:
    """Return a visible member by number (within a program) or public id, or raise NotFound."""
    qs = member_visible_qs(user)
    if program is not None:
        qs = qs.filter(program=program)
    if public_id:
        member = qs.filter(public_id=public_id).first()
    else:
        member = qs.filter(number=(number or "").strip().upper()).order_by("pk").first() if number else None
    if member is None:
        raise NotFound(_("No such member."), code=LoyaltyCode.NOT_FOUND, field="member")
    return member


def _programs_default_first() -> QuerySet[Program]:
    return Program.objects.filter(is_active=True).order_by("pk")


def program_default() -> Program | None:
    """The program a shop with one club works with: the oldest active one."""
    return _programs_default_first().first()


def member_of_default_program(customer: Customer) -> Member | None:
    """Return the customer's membership of the default program (`program_default`), with its tier and program, or
    None. The caller has read the customer through the visibility rule (`customer_get_for_user`)."""
    default = Subquery(_programs_default_first().values("pk")[:1])
    return Member.objects.filter(customer=customer, program=default).select_related("tier", "program").first()


@dataclass
class TierProgress:
    tier: Tier | None
    next_tier: Tier | None
    value: Decimal  # towards the next tier, in its basis and window
    needed: Decimal
    percent: int
    grace_until: object = None


def member_progress(member: Member, now=None) -> TierProgress:
    now = now or timezone.now()
    tiers = list(Tier.objects.filter(program_id=member.program_id).order_by("rank"))
    current_rank = member.tier.rank if member.tier else -1
    next_tier = next((t for t in tiers if t.rank > current_rank), None)
    if next_tier is None:
        return TierProgress(member.tier, None, Decimal("0"), Decimal("0"), 100, member.tier_grace_until)
    value = tier_values(member, [next_tier], now)[next_tier.pk]
    needed = max(Decimal("0"), next_tier.threshold - value)
    percent = 100 if next_tier.threshold <= 0 else min(100, int(value * 100 / next_tier.threshold))
    return TierProgress(member.tier, next_tier, value, needed, percent, member.tier_grace_until)


def member_coupons(member: Member, *, limit: int = 20) -> list[Coupon]:
    return list(Coupon.objects.filter(customer_id=member.customer_id, template__program_id=member.program_id)
                .select_related("template").order_by("status", "-issued_at")[:limit])


def member_entries(member: Member, *, before_id: int | None = None, limit: int = 20) -> list[PointsEntry]:
    qs = PointsEntry.objects.filter(member=member).select_related("rule", "actor").order_by("-occurred_at", "-id")
    if before_id:
        pivot = PointsEntry.objects.filter(member=member, pk=before_id).values_list("occurred_at", flat=True).first()
        if pivot is not None:
            qs = qs.filter(Q(occurred_at__lt=pivot) | Q(occurred_at=pivot, id__lt=before_id))
    return list(qs[:limit])


def expiring_soon(member: Member, days: int | None = None) -> tuple[int, object]:
    """Return the points that expire next, and when."""
    lot = (PointsLot.objects.filter(member=member, remaining__gt=0, expires_at__isnull=False)
           .order_by("expires_at").values("expires_at").first())
    if lot is None:
        return 0, None
    points = PointsLot.objects.filter(member=member, remaining__gt=0, expires_at=lot["expires_at"]).aggregate(
        s=Sum("remaining"))["s"] or 0
    return points, lot["expires_at"]


@dataclass
class ProgramKpis:
    members: int
    active_members: int
    issued: int
    redeemed: int
    expired: int
    clawed_back: int
    unrecovered: int
    outstanding: int
    liability: Decimal
    redemption_rate: float | None
    repeat_members: float | None
    repeat_others: float | None
    buyers_members: int
    buyers_others: int
    tiers: list[tuple[Tier, int]]
    coupons_issued: int
    coupons_used: int


def program_kpis(program: Program, now=None) -> ProgramKpis:
    """The figures that say whether the program works (seed 004): all from the ledger and the event stream."""
    now = now or timezone.now()
    members = Member.objects.filter(program=program)
    sums = PointsEntry.objects.filter(member__program=program).aggregate(
        issued=Sum("points", filter=Q(points__gt=0) & ~Q(kind=EntryKind.REVERSAL)),
        redeemed=Sum("points", filter=Q(kind__in=[EntryKind.REDEEM, EntryKind.PAYMENT])),
        reversed=Sum("points", filter=Q(kind=EntryKind.REVERSAL)),
        expired=Sum("points", filter=Q(kind=EntryKind.EXPIRE)),
        clawed=Sum("points", filter=Q(kind=EntryKind.CLAWBACK)),
        removed=Sum("points", filter=Q(kind=EntryKind.ADJUST, points__lt=0)),
    )
    issued = sums["issued"] or 0
    redeemed = -(sums["redeemed"] or 0) - (sums["reversed"] or 0)
    outstanding = members.aggregate(s=Sum("balance"))["s"] or 0
    since = now - timedelta(days=ACTIVE_DAYS)
    active = (PointsEntry.objects.filter(member__program=program, occurred_at__gte=since)
              .values("member_id").distinct().count())
    repeat_members, repeat_others, buyers_members, buyers_others = _repeat_rates(program, now)
    coupons = coupon_counts(program)
    tiers = [(t, t.n) for t in Tier.objects.filter(program=program).annotate(
        n=Count("members", filter=Q(members__status=MemberStatus.ACTIVE))).order_by("rank")]
    return ProgramKpis(
        members=members.filter(status=MemberStatus.ACTIVE).count(), active_members=active, issued=issued,
        redeemed=redeemed, expired=-(sums["expired"] or 0), clawed_back=-(sums["clawed"] or 0),
        unrecovered=Purchase.objects.filter(member__program=program).aggregate(
            s=Sum("points_unrecovered"))["s"] or 0,
        outstanding=outstanding, liability=(Decimal(outstanding) * program.point_value).quantize(Decimal("0.01")),
        redemption_rate=(redeemed / issued) if issued else None, repeat_members=repeat_members,
        repeat_others=repeat_others, buyers_members=buyers_members, buyers_others=buyers_others, tiers=tiers,
        coupons_issued=coupons["issued"], coupons_used=coupons["used"])


def coupon_counts(program: Program) -> dict[str, int]:
    """Return how many of the program's coupons were issued and how many of them used (redeemed)."""
    return Coupon.objects.filter(template__program=program).aggregate(
        issued=Count("pk"), used=Count("pk", filter=Q(status=CouponStatus.REDEEMED)))


def coupon_use_rate(program: Program) -> Decimal | None:
    """Return the share of the program's coupons that were used so far (None before any was issued)."""
    counts = coupon_counts(program)
    return (Decimal(counts["used"]) / counts["issued"]).quantize(Decimal("0.0001")) if counts["issued"] else None


def _repeat_rates(program: Program, now) -> tuple[float | None, float | None, int, int]:
    """Share of buyers of the last year who bought twice or more: members vs everyone else."""
    since = now - timedelta(days=REPEAT_DAYS)
    members = Member.objects.filter(program=program).values("customer_id")
    orders = Event.objects.filter(type="order.paid", occurred_at__gte=since, occurred_at__lte=now)
    counts = {}
    for is_member, events in ((True, orders.filter(customer_id__in=members)),
                              (False, orders.exclude(customer_id__in=members))):
        per_buyer = events.values("customer_id").annotate(n=Count("pk"))
        counts[is_member] = (per_buyer.count(), per_buyer.filter(n__gte=2).count())
    rate = {k: (repeat / buyers if buyers else None) for k, (buyers, repeat) in counts.items()}
    return rate[True], rate[False], counts[True][0], counts[False][0]


def member_by_reference(program: Program, ref: str) -> Member | None:
    """Return the program's member with this member number or card code (how a referrer is named)."""
    ref = normalize_code(str(ref or ""))
    if not ref:
        return None
    return Member.objects.filter(program=program).filter(Q(number=ref) | Q(card_code=ref)).order_by("pk").first()
