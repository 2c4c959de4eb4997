"""Demo data for the member club: the mall's program, its members from the demo timeline, their points.

Runs after the customer archive's loader. Every customer whose timeline has a member.joined event becomes a
member on that day (the card number of the event is the card code). The welcome points are written in bulk
(the members are new, so their balances start at zero), then the purchases are back-filled through
`backfill.orders_backfill`, the same engine as live processing (one member in twelve was referred by an earlier
member, so the referral rule pays both at the first purchase). A few members redeem a reward and a few
followers get the welcome coupon, so that the program page and the member pages have something to show.
"""

from __future__ import annotations

import time
from random import Random

from django.db import transaction
from django.db.models import F

from fidelis.customers.demo import CLUB_NAME
from fidelis.customers.models import Customer
from fidelis.events.models import Event
from fidelis.loyalty.backfill import orders_backfill
from fidelis.loyalty.ledger import expiry_for
from fidelis.loyalty.models import (
    AppliedEvent,
    Coupon,
    CouponTemplate,
    EntryKind,
    Member,
    PointsEntry,
    PointsLot,
    Program,
    Reward,
    Rule,
    Tier,
)
from fidelis.loyalty.services import coupon_issue, reward_redeem
from fidelis.loyalty.templates import starter_program

BATCH = 5000
REDEEMERS = 200
COUPON_FOLLOWERS = 300
REFERRED_SHARE = 0.08  # of the members, brought in by a member friend


def demo_load(ctx) -> dict[str, int]:
    started = time.monotonic()
    program = starter_program(actor=ctx.actor, name=CLUB_NAME)
    members = _members(program)
    ctx.write(f"  {members:,} members enrolled from the timeline ({time.monotonic() - started:.0f} s)")
    _referrals(program, Random(ctx.seed + 1))
    result = orders_backfill(actor=ctx.actor, program=program)
    ctx.write(f"  {result.purchases:,} purchases back-filled into the points ledger ({time.monotonic() - started:.0f} s)")
    rng = Random(ctx.seed)
    redeemed = _redemptions(program, rng, ctx.actor)
    coupons = _coupons(program, rng, ctx.actor)
    return {"members": members, "points entries": PointsEntry.objects.filter(member__program=program).count(),
            "redemptions": redeemed, "coupons": coupons}


def _members(program: Program) -> int:
    """Enrol every customer with a member.joined event, with the welcome points of that day, in bulk."""
    welcome = Rule.objects.get(program=program, template="welcome")
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
            members = Member.objects.bulk_create([
                Member(program=program, customer_id=customer_id, number=f"{program.member_prefix}{start + i + 1:08d}",
                       card_code=card,
                       joined_at=at, channel=channel, tier=entry_tier, tier_since=at, balance=500, earned_total=500)
                for i, (_pk, customer_id, at, channel, card) in enumerate(batch)])
            by_customer = {m.customer_id: m for m in members}
            if not members or members[0].pk is None:  # backends without RETURNING on bulk insert
                by_customer = {m.customer_id: m for m in Member.objects.filter(
                    program=program, customer_id__in=[row[1] for row in batch])}
            entries = PointsEntry.objects.bulk_create([
                PointsEntry(member=by_customer[customer_id], kind=EntryKind.EARN, points=500, balance_after=500,
                            occurred_at=at, created_at=at, rule=welcome, event_id=pk, reason=welcome.name,
                            expires_at=expiry_for(program, at))
                for pk, customer_id, at, _channel, _payload in batch])
            if entries[0].pk is None:
                entries = list(PointsEntry.objects.filter(rule=welcome, member__in=list(by_customer.values())))
            PointsLot.objects.bulk_create([
                PointsLot(member_id=e.member_id, entry=e, points=500, remaining=500, expires_at=e.expires_at)
                for e in entries])
            AppliedEvent.objects.bulk_create([AppliedEvent(program=program, event_id=row[0], points=500)
                                              for row in batch])
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


def demo_reset(ctx) -> None:
    """Delete the member club: members (with their ledgers), coupons, programs."""
    with transaction.atomic():
        Member.objects.all().delete()
        Coupon.objects.all().delete()
        AppliedEvent.objects.all().delete()
        Reward.objects.all().delete()  # rewards protect the tiers and coupons they name
        Program.objects.all().delete()
