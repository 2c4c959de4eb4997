"""Demo data for the member club: the mall's program, its members from the demo timeline, their points.

Runs after the customer archive's loader. Every customer whose timeline has a member.joined event becomes a
member on that day (the card number of the event is the card code), enrolled in bulk; then their joins (the
welcome points) and their purchases are back-filled through `backfill.orders_backfill`, the engine of live
processing, so that every balance moves through the ledger (one member in twelve was referred by an earlier
member, so the referral rule pays both at the first purchase). A few members redeem a reward, some followers
get the welcome coupon and about a third of those coupons are used, and the points whose time has come expire,
so that every figure of the program page has something to show.
"""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal
from random import Random

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from fidelis.core.errors import DomainError
from fidelis.customers.demo import CLUB_NAME
from fidelis.customers.models import Customer
from fidelis.events.models import Event
from fidelis.loyalty.apply.evaluator import MEMBER_JOINED
from fidelis.loyalty.backfill import orders_backfill
from fidelis.loyalty.models import (
    AppliedEvent,
    Coupon,
    CouponStatus,
    CouponTemplate,
    Member,
    PointsEntry,
    Program,
    Reward,
    Tier,
)
from fidelis.loyalty.services import coupon_issue, coupon_redeem, program_save, reward_redeem
from fidelis.loyalty.tasks import expire_points, tier_reviews
from fidelis.loyalty.templates import starter_program

BATCH = 5000
REDEEMERS = 200
COUPON_FOLLOWERS = 300
DEMO_EXPIRY_MONTHS = 12
REVIEW_GAP_DAYS = 42  # longer than the tiers' grace period
COUPONS_USED_SHARE = 0.35  # of the coupons issued, used on an order
REFERRED_SHARE = 0.08  # of the members, brought in by a member friend


def demo_load(ctx) -> dict[str, int]:
    started = time.monotonic()
    program = starter_program(actor=ctx.actor, name=CLUB_NAME)
    # The mall's points last a year: over two years of history some of them expire, as they would have.
    program = program_save(actor=ctx.actor, program=program, data={"expiry_months": DEMO_EXPIRY_MONTHS})
    members = _members(program)
    ctx.write(f"  {members:,} members enrolled from the timeline ({time.monotonic() - started:.0f} s)")
    _referrals(program, Random(ctx.seed + 1))
    orders_backfill(actor=ctx.actor, program=program, trigger=MEMBER_JOINED)
    result = orders_backfill(actor=ctx.actor, program=program)
    ctx.write(f"  {result.purchases:,} purchases back-filled into the points ledger ({time.monotonic() - started:.0f} s)")
    rng = Random(ctx.seed)
    redeemed = _redemptions(program, rng, ctx.actor)
    coupons = _coupons(program, rng, ctx.actor)
    used = _coupons_used(program, rng, ctx.actor)
    expired = expire_points()
    # Two tier reviews, six weeks apart: members who no longer spend enough get their grace period at the first
    # and move down at the second.
    tier_reviews(now=timezone.now() - timedelta(days=REVIEW_GAP_DAYS))
    moved_down = tier_reviews().get("downgraded", 0)
    return {"members": members, "points entries": PointsEntry.objects.filter(member__program=program).count(),
            "redemptions": redeemed, "coupons": coupons, "coupons used": used, "points expired": expired,
            "tier downgrades": moved_down}


def _members(program: Program) -> int:
    """Enrol every customer with a member.joined event on that day, in bulk (their points come from the back-fill)."""
    entry_tier = Tier.objects.filter(program=program).order_by("rank").first()
    joins = (Event.objects.filter(type="member.joined").order_by("occurred_at", "pk")
             .values_list("pk", "customer_id", "occurred_at", "channel", "payload"))
    seen: set[int] = set()
    cards: set[str] = set()
    count = 0
    batch: list[tuple] = []

    def flush() -> None:
        nonlocal count
        if not batch:
            return
        with transaction.atomic():
            start = Program.objects.filter(pk=program.pk).values_list("last_member_number", flat=True).get()
            Program.objects.filter(pk=program.pk).update(last_member_number=F("last_member_number") + len(batch))
            Member.objects.bulk_create([
                Member(program=program, customer_id=customer_id, number=f"{program.member_prefix}{start + i + 1:08d}",
                       card_code=card, joined_at=at, channel=channel, tier=entry_tier, tier_since=at)
                for i, (_pk, customer_id, at, channel, card) in enumerate(batch)])
        count += len(batch)
        batch.clear()

    for row in joins.iterator(chunk_size=BATCH):
        if row[1] in seen:
            continue
        seen.add(row[1])
        # The timeline's card number is the card code, unless two cards happen to share it.
        card = str(row[4].get("card") or "").upper()
        if not card or card in cards:
            card = f"XD{row[0]:012d}"
        cards.add(card)
        batch.append((*row[:4], card))
        if len(batch) >= BATCH:
            flush()
    flush()
    return count


def _referrals(program: Program, rng: Random) -> int:
    """Let some members have been brought in by a friend who was a member already: the referral rule then pays
    both at the newcomer's first purchase, which the back-fill applies."""
    ids = list(Member.objects.filter(program=program).order_by("joined_at", "pk").values_list("pk", flat=True))
    referred = [Member(pk=ids[i], referred_by_id=ids[rng.randrange(i)])
                for i in range(10, len(ids)) if rng.random() < REFERRED_SHARE]
    Member.objects.bulk_update(referred, ["referred_by"], batch_size=BATCH)
    return len(referred)


def _redemptions(program: Program, rng: Random, actor) -> int:
    rewards = list(Reward.objects.filter(program=program, is_active=True, min_tier__isnull=True))
    cheapest = min((r.points_cost for r in rewards), default=0)
    candidates = list(Member.objects.filter(program=program, balance__gte=max(cheapest, 1))
                      .order_by("pk").values_list("pk", flat=True)[:REDEEMERS * 5])
    done = 0
    for member_id in rng.sample(candidates, min(REDEEMERS, len(candidates))):
        member = Member.objects.get(pk=member_id)
        affordable = [r for r in rewards if r.points_cost <= member.balance]
        if affordable:
            reward_redeem(actor=actor, member=member, reward=rng.choice(affordable), via="demo")
            done += 1
    return done


def _coupons(program: Program, rng: Random, actor) -> int:
    template = CouponTemplate.objects.filter(program=program, per_customer_limit=1).first()
    if template is None:
        return 0
    followers = list(Event.objects.filter(type="wechat.followed").order_by("pk")
                     .values_list("customer_id", flat=True)[:COUPON_FOLLOWERS * 5])
    issued = 0

    for customer_id in rng.sample(followers, min(COUPON_FOLLOWERS, len(followers))):
        if not Coupon.objects.filter(template=template, customer_id=customer_id).exists():
            coupon_issue(actor=None, template=template, customer=Customer.objects.get(pk=customer_id),
                         source="demo")
            issued += 1
    return issued


def _coupons_used(program: Program, rng: Random, actor) -> int:
    """Use about a third of the coupons issued so far on an order of their customer (more than the minimum spend)."""
    used = 0
    for coupon in (Coupon.objects.filter(template__program=program, status=CouponStatus.ACTIVE)
                   .select_related("template", "customer").order_by("pk")):
        if rng.random() >= COUPONS_USED_SHARE:
            continue
        amount = (coupon.template.min_spend or Decimal("0")) + Decimal(rng.randrange(20, 400))
        try:
            coupon_redeem(actor=actor, code=coupon.code, order_ref=f"DEMO-C{coupon.pk}", order_amount=amount,
                          customer=coupon.customer, via="demo")
        except DomainError:
            continue  # not valid any more (expired, not yet valid)
        used += 1
    return used


def demo_reset(ctx) -> None:
    """Delete the member club: members (with their ledgers), coupons, programs."""
    with transaction.atomic():
        Member.objects.all().delete()
        Coupon.objects.all().delete()
        AppliedEvent.objects.all().delete()
        Reward.objects.all().delete()  # rewards protect the tiers and coupons they name
        Program.objects.all().delete()
