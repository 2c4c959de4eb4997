"""How the loyalty program reacts to events: enrol on member.joined, earn on rules, claw back on refunds.

`apply_event` runs once per (program, event): it writes an `AppliedEvent` row in the same transaction as the
points, coupons and tier changes the event causes, so that a worker that dies half-way and a redelivered task
(Celery acks late) give exactly one effect.

Refund policy (order.refunded, payload {"order_no", "amount"}): the points the order earned are taken back in
proportion to the amount refunded. Points the member has already spent are not recovered: the clawback takes
what the balance holds and never goes below zero; the rest is recorded as "not recovered" on the entry and on
the purchase, and shown on the program page as a cost. A full refund also gives back the coupons used on it.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import connection, transaction
from django.db.models import Q, Sum
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _

from fidelis.core.errors import DomainError
from fidelis.events.models import Event
from fidelis.events.registry import on_event, validates
from fidelis.loyalty import ledger
from fidelis.loyalty.engine import EventFacts, RuleView, evaluate
from fidelis.loyalty.models import (
    AppliedEvent,
    Coupon,
    CouponStatus,
    CouponTemplate,
    EntryKind,
    Member,
    MemberStatus,
    PointsEntry,
    Program,
    Purchase,
    Rule,
    RuleStatus,
    Tier,
    WaitingRefund,
    normalize_code,
)

log = logging.getLogger(__name__)

# Events the program writes itself: never fed back into the rules.
OWN_TYPES = frozenset({"points.changed", "points.expiring", "coupon.issued", "coupon.redeemed", "coupon.reversed",
                       "tier.changed"})
BUILT_IN = frozenset({"member.joined", "order.paid", "order.refunded"})
ORDER_PAID = "order.paid"
# Events that name their program in the payload ("program": its public id) and count for that program only:
# joining one club is not news to another.
PROGRAM_EVENT_TYPES = frozenset({"member.joined"})


def order_amount(payload: dict, field: str = "amount") -> Decimal | None:
    """Return the order amount of a payload as Decimal (None when absent); raise on a bad one."""
    raw = payload.get(field)
    if raw in (None, ""):
        return None
    try:
        amount = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise DomainError(_("The amount “%(value)s” is not a number.") % {"value": raw}, code="invalid",
                          field=f"payload.{field}")
    if not amount.is_finite() or amount < 0 or amount > Decimal("1e11"):
        raise DomainError(_("The amount must be zero or more."), code="invalid", field=f"payload.{field}")
    return amount.quantize(Decimal("0.01"))


def order_ref(payload: dict) -> str:
    return order_number(payload.get("order_no"), payload.get("order"))


def order_number(order_no: Any, order: Any) -> str:
    """The order number an order event names (payload "order_no", else "order"), at most 64 characters."""
    return str(order_no or order or "").strip()[:64]


def purchase_ref(order_no: Any, order: Any, public_id: str) -> str:
    """The key a member's purchase is kept under: its order number, else the event's public id."""
    return order_number(order_no, order) or f"event:{public_id}"


@validates("order.paid", "order.refunded")
def validate_order_payload(event_type: str, payload: dict) -> None:
    """Refuse order events the program could not count: a bad amount, a refund without its order."""
    if order_amount(payload) is None:
        raise DomainError(_("An order event needs payload.amount."), code="required", field="payload.amount")
    if "categories" in payload and not isinstance(payload["categories"], list):
        raise DomainError(_("payload.categories is a list."), code="invalid", field="payload.categories")
    if event_type == "order.refunded" and not order_ref(payload):
        raise DomainError(_("Name the refunded order: payload.order_no."), code="required", field="payload.order_no")


@on_event("*", exclude=OWN_TYPES, batch=True)
def loyalty_on_events(event_ids: list[int]) -> None:
    apply_events(event_ids)


@dataclass
class _Loaded:
    program: Program
    rules: list[Rule]
    tiers: list[Tier]
    orders: Any = None  # the program's live order.paid job (`backfill._Job`), made when first needed

    def orders_job(self):
        if self.orders is None:
            from fidelis.loyalty.backfill import _Job

            self.orders = _Job(self.program, None, None)
        return self.orders


# The active programs with their live rules and tiers, per event type, read once and kept for CACHE_SECONDS:
# every event needs them, and they change a few times a year. A save or delete in this process clears them at
# once; other processes (the workers) see a change within CACHE_SECONDS.
CACHE_SECONDS = 2.0
_cache: dict[str, tuple[float, list[_Loaded]]] = {}


def programs_cache_clear() -> None:
    _cache.clear()


@receiver([post_save, post_delete], sender=Program)
@receiver([post_save, post_delete], sender=Rule)
@receiver([post_save, post_delete], sender=Tier)
def _programs_changed(sender, **kwargs) -> None:
    programs_cache_clear()


def _programs_for(event_type: str) -> list[_Loaded]:
    cached = _cache.get(event_type)
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    programs = list(Program.objects.filter(is_active=True).order_by("pk"))
    rules: dict[int, list[Rule]] = {p.pk: [] for p in programs}
    tiers: dict[int, list[Tier]] = {p.pk: [] for p in programs}
    for rule in Rule.objects.filter(program__in=programs, status=RuleStatus.ACTIVE, trigger=event_type) \
            .order_by("-priority", "id"):
        rules[rule.program_id].append(rule)
    if event_type in BUILT_IN or any(rules.values()):
        for tier in Tier.objects.filter(program__in=programs).order_by("rank"):
            tiers[tier.program_id].append(tier)
    loaded = [_Loaded(p, rules[p.pk], tiers[p.pk]) for p in programs if rules[p.pk] or event_type in BUILT_IN]
    _cache[event_type] = (time.monotonic(), loaded)
    return loaded


def apply_events(event_ids: list[int]) -> None:
    """Apply a batch of events in the order they were recorded: each run of order.paid events at once, as the
    back-fill computes them (`backfill._Job.apply_orders`, which does what `apply_event` does for each, timeline
    and coupons included), every other event by itself."""
    rows = (Event.objects.filter(pk__in=event_ids).exclude(type__in=OWN_TYPES).order_by("pk")
            .values_list("pk", "type", "customer_id"))
    run: list[tuple[int, str, int]] = []
    for row in [*rows, None]:
        if row is not None and row[1] == ORDER_PAID:
            run.append(row)
            continue
        if run:
            _apply_orders(run)
            run = []
        if row is not None:
            apply_event(row[0])


def _apply_orders(rows: list[tuple[int, str, int]]) -> None:
    ids, customers = [row[0] for row in rows], {row[2] for row in rows}
    for loaded in _programs_for(ORDER_PAID):
        # The events of customers who are not active members: rules may still give them coupons or tags.
        left_over = loaded.orders_job().apply_orders(ids, customers)
        # Refunds that came before these purchases: their members were locked by the batch, so a refund either
        # waited before it (and is found here) or came after its commit (and found the purchase).
        waiting = (WaitingRefund.objects.filter(program=loaded.program, member__customer_id__in=customers)
                   .values_list("member_id", flat=True).distinct())
        if waiting:
            refunds_waiting_apply(loaded.program, list(waiting))
        events = Event.objects.select_related("customer").in_bulk(left_over)
        for event_id in left_over:
            if event_id in events:
                _apply(loaded.program, loaded.rules, events[event_id], loaded.tiers, claimed=True)


def program_events_of_others(program: Program) -> Q:
    """Return the condition of the events that name another program (PROGRAM_EVENT_TYPES): not this one's."""
    return Q(type__in=PROGRAM_EVENT_TYPES, payload__has_key="program") & ~Q(payload__program=program.public_id)


def apply_event(event_id: int) -> int:
    """Apply an event to every active program once; return the points it gave."""
    event = Event.objects.select_related("customer").filter(pk=event_id).first()
    if event is None or event.type in OWN_TYPES:
        return 0
    named = event.payload.get("program") if event.type in PROGRAM_EVENT_TYPES and isinstance(event.payload, dict) \
        else None
    total = 0
    for loaded in _programs_for(event.type):
        if named is None or named == loaded.program.public_id:
            total += _apply(loaded.program, loaded.rules, event, loaded.tiers)
    return total


def _insert_once(model, **values) -> int | None:
    """INSERT a row unless it breaks a unique constraint; return its id, or None when the row was there.

    One statement (INSERT … ON CONFLICT DO NOTHING RETURNING, on PostgreSQL and SQLite alike) instead of a
    savepoint, the INSERT and its release: the hot path of every event writes two such rows.
    """
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in values]
    params = [f.get_db_prep_save(values[f.name], connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
                       f"VALUES ({', '.join(['%s'] * len(fields))}) ON CONFLICT DO NOTHING RETURNING id", params)
        row = cursor.fetchone()
    return row[0] if row else None


def _apply(program: Program, rules: list[Rule], event: Event, tiers: list[Tier] | None = None, *,
           claimed: bool = False) -> int:
    """Apply one event to a program; `claimed`: its AppliedEvent row was written already, in this transaction."""
    with transaction.atomic():
        # The member first, then the AppliedEvent row: the order a batch takes them in (it locks its members, then
        # writes each event's row), so that a single event and a batch that share a member cannot deadlock.
        member = ledger.lock_member_of(program.pk, event.customer_id)
        if not claimed and _insert_once(AppliedEvent, program=program.pk, event=event.pk, applied_at=timezone.now(),
                                        points=0) is None:
            return 0  # applied before (a redelivered task, a second worker)
        if member is None and event.type == "member.joined" and program.enrol_on_join_event:
            from fidelis.loyalty.services import member_enrol

            referrer = member_by_reference(program, event.payload.get("referrer"))
            try:
                enrolled, _new = member_enrol(actor=None, program=program, customer=event.customer,
                                              channel=event.channel, referrer=referrer, joined_at=event.occurred_at,
                                              event=event, via="rule")
                member = ledger.lock_member(enrolled.pk)
            except DomainError as exc:
                log.info("event %s: not enrolled: %s", event.pk, exc.message)
        if member is not None and member.status != MemberStatus.ACTIVE:
            member = None
        purchase = None
        if member is not None and event.type == "order.paid":
            purchase = _record_purchase(member, event)
            if purchase is None:
                return 0  # the same order came again under another key: it earns once
        if member is not None and event.type == "order.refunded" and not _refund(member, event):
            # Its purchase has not been applied yet: not done, it waits for the purchase.
            AppliedEvent.objects.filter(program=program, event=event).delete()
            _insert_once(WaitingRefund, program=program.pk, member=member.pk, order_ref=order_ref(event.payload),
                         event=event.pk, created_at=timezone.now())
            return 0
        facts = _facts(program, event, member, purchase, rules)
        # The program's tiers, for the tier_in conditions and the tier upgrade after a purchase.
        uses_tier_in = any(c["kind"] == "tier_in" for r in rules for c in r.conditions)
        if tiers is None and (uses_tier_in or (member is not None and purchase is not None)):
            tiers = list(Tier.objects.filter(program=program).order_by("rank"))
        outcomes = evaluate([_view(r) for r in rules], facts,
                            {t.pk: t.name for t in tiers} if uses_tier_in and tiers else {})
        by_id = {r.pk: r for r in rules}
        earned = 0
        for outcome in outcomes:
            rule = by_id[outcome.rule_id]
            earned += _carry_out(program, rule, outcome, event, member, purchase)
        if purchase is not None and earned:
            Purchase.objects.filter(pk=purchase.pk).update(points=earned)
        if member is not None and (earned or purchase is not None):
            tier_upgrade(member, now=event.occurred_at, tiers=tiers)
        if earned:
            AppliedEvent.objects.filter(program=program, event=event).update(points=earned)
        if purchase is not None:
            refunds_waiting_apply(program, [member.pk])
        return earned


def _view(rule: Rule) -> RuleView:
    return RuleView(id=rule.pk, trigger=rule.trigger, conditions=rule.conditions, actions=rule.actions,
                    priority=rule.priority, starts_at=rule.starts_at, ends_at=rule.ends_at,
                    stop_further=rule.stop_further)


def member_by_reference(program: Program, ref: str) -> Member | None:
    """Return the program's member with this member number or card code (how a referrer is named)."""
    ref = normalize_code(str(ref or ""))
    if not ref:
        return None
    return Member.objects.filter(program=program).filter(Q(number=ref) | Q(card_code=ref)).order_by("pk").first()


def _record_purchase(member: Member, event: Event) -> Purchase | None:
    amount = order_amount(event.payload) or Decimal("0")
    ref = purchase_ref(event.payload.get("order_no"), event.payload.get("order"), event.public_id)
    purchase = Purchase(member=member, event=event, order_ref=ref, amount=amount, occurred_at=event.occurred_at)
    purchase.pk = _insert_once(Purchase, member=member.pk, event=event.pk, order_ref=ref, amount=amount,
                               refunded=purchase.refunded, points=0, points_clawed=0, points_unrecovered=0,
                               occurred_at=event.occurred_at)
    if purchase.pk is None:
        return None
    purchase._state.adding = False
    Member.objects.filter(pk=member.pk).update(purchases=member.purchases + 1)
    member.purchases += 1
    return purchase


def _facts(program: Program, event: Event, member: Member | None, purchase: Purchase | None,
           rules: list[Rule]) -> EventFacts:
    payload = event.payload or {}
    kinds = {c["kind"] for r in rules for c in r.conditions}
    tags: frozenset[str] = frozenset()
    if "tag_in" in kinds:
        tags = frozenset(event.customer.tags.values_list("name", flat=True))
    categories = payload.get("categories") or [line.get("category") for line in payload.get("lines") or []
                                               if isinstance(line, dict) and line.get("category")]
    tier = member.tier if member is not None else None
    return EventFacts(
        type=event.type, occurred_at=event.occurred_at, channel=event.channel,
        amount=order_amount(payload) if event.type in ("order.paid", "order.refunded") else None,
        store=str(payload.get("store") or payload.get("shop") or event.touchpoint or ""),
        categories=frozenset(str(c) for c in categories), is_member=member is not None,
        tier_id=tier.pk if tier else None, tier_rank=tier.rank if tier else 0,
        tier_multiplier=tier.earn_multiplier if tier else Decimal("1"), tags=tags,
        birthday=event.customer.birthday, purchase_number=member.purchases if purchase is not None else 0,
        has_referrer=member is not None and member.referred_by_id is not None,
    )


def _capped(rule: Rule, member: Member, points: int, when: datetime) -> int:
    """Return how many of `points` the rule's caps still allow."""
    if rule.cap_member_day is not None:
        local = timezone.localtime(when)
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        used = (PointsEntry.objects.filter(rule=rule, member=member, occurred_at__gte=start,
                                           occurred_at__lt=start + timedelta(days=1))
                .aggregate(s=Sum("points"))["s"] or 0)
        points = max(0, min(points, rule.cap_member_day - used))
    if rule.cap_total is not None and points:
        # Lock the rule row only for capped rules: the total must not be overrun by concurrent events.
        given = Rule.objects.select_for_update(no_key=True).filter(pk=rule.pk).values_list("points_awarded", flat=True).get()
        points = max(0, min(points, rule.cap_total - given))
        if points:
            Rule.objects.filter(pk=rule.pk).update(points_awarded=given + points)
    return points


def _carry_out(program: Program, rule: Rule, outcome, event: Event, member: Member | None,
               purchase: Purchase | None) -> int:
    from fidelis.customers.services import customer_tag_add

    points = 0
    if member is not None and outcome.points > 0:
        points = _capped(rule, member, outcome.points, event.occurred_at)
        if points:
            ledger.post(member, EntryKind.EARN, points, occurred_at=event.occurred_at, rule=rule, event=event,
                        order_ref=purchase.order_ref if purchase else "", amount=purchase.amount if purchase else None,
                        reason=rule.name)
    coupons_issue(program, rule, outcome, event)
    for tag in outcome.tags:
        customer_tag_add(actor=None, customer=event.customer, tag_name=tag, via="rule")
    if member is not None and outcome.tier:
        tier = Tier.objects.filter(program=program, pk=int(outcome.tier)).first()
        if tier is not None and (member.tier is None or tier.rank > member.tier.rank):
            tier_change(member, tier, reason=rule.name, when=event.occurred_at)
    if member is not None and outcome.referrer_points and member.referred_by_id:
        referrer = ledger.lock_member(member.referred_by_id)
        if referrer.status == MemberStatus.ACTIVE:
            ledger.post(referrer, EntryKind.EARN, outcome.referrer_points, occurred_at=event.occurred_at, rule=rule,
                        event=event, reason=_("%(rule)s: %(member)s") % {"rule": rule.name, "member": member.number})
    return points


def coupons_issue(program: Program, rule: Rule, outcome, event: Event) -> None:
    """Issue the coupons a rule gives the event's customer, once per rule, event and coupon."""
    from fidelis.loyalty.services import coupon_issue

    for index, template_id in enumerate(outcome.coupons):
        template = CouponTemplate.objects.filter(program=program, public_id=template_id).first()
        if template is None:
            continue
        try:
            coupon_issue(actor=None, template=template, customer=event.customer, source="rule", rule=rule,
                         event=event, issue_key=f"rule:{rule.pk}:event:{event.pk}:{index}")
        except DomainError as exc:
            # A limit reached is not an error of the event: the customer simply gets no more of them.
            log.info("rule %s, event %s: no coupon: %s", rule.pk, event.pk, exc.message)


def refunds_waiting_apply(program: Program, member_ids: list[int]) -> int:
    """Apply the refunds of these members that waited for their purchase; return how many were applied."""
    waiting = list(WaitingRefund.objects.filter(program=program, member_id__in=member_ids)
                   .values_list("event_id", flat=True).order_by("pk"))
    events = Event.objects.select_related("customer").in_bulk(waiting)
    loaded = next((lo for lo in _programs_for("order.refunded") if lo.program.pk == program.pk), None)
    for event_id in waiting:
        if event_id in events:
            _apply(program, loaded.rules if loaded else [], events[event_id], loaded.tiers if loaded else None)
    return len(events)


def _purchase_applied(member: Member, ref: str) -> bool:
    """Return whether the program has applied a paid order with this number for the member's customer."""
    paid = Event.objects.filter(customer_id=member.customer_id, type=ORDER_PAID, payload__order_no=ref)
    return AppliedEvent.objects.filter(program_id=member.program_id, event__in=paid).exists()


def _refund(member: Member, event: Event) -> bool:
    """Take back the points of the refunded share of a purchase; return False when the purchase is still to come."""
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
        from fidelis.loyalty.services import coupon_reverse

        for coupon in Coupon.objects.filter(customer_id=member.customer_id, order_ref=ref,
                                            status=CouponStatus.REDEEMED):
            coupon_reverse(actor=None, coupon=coupon, reason=_("Order refunded"), via="rule")
    return True


# --- tiers ------------------------------------------------------------------------------------------------------

def tier_values(member: Member, tiers: list[Tier], now: datetime) -> dict[int, Decimal]:
    """Return, per tier, the member's qualifying value (points earned or CNY spent) in that tier's window."""
    values: dict[int, Decimal] = {}
    cache: dict[tuple[str, int], Decimal] = {}
    for tier in tiers:
        key = (tier.basis, tier.window_days)
        if key not in cache:
            since = now - timedelta(days=tier.window_days)
            if tier.basis == Tier.Basis.POINTS:
                value = (PointsEntry.objects.filter(member=member, kind=EntryKind.EARN, occurred_at__gt=since,
                                                    occurred_at__lte=now).aggregate(s=Sum("points"))["s"] or 0)
                cache[key] = Decimal(value)
            else:
                sums = Purchase.objects.filter(member=member, occurred_at__gt=since, occurred_at__lte=now).aggregate(
                    a=Sum("amount"), r=Sum("refunded"))
                cache[key] = (sums["a"] or Decimal("0")) - (sums["r"] or Decimal("0"))
        values[tier.pk] = cache[key]
    return values


def tier_qualified(member: Member, now: datetime, tiers: list[Tier] | None = None) -> Tier | None:
    """Return the best tier the member qualifies for now."""
    tiers = tiers if tiers is not None else list(Tier.objects.filter(program_id=member.program_id).order_by("rank"))
    values = tier_values(member, tiers, now)
    best = None
    for tier in tiers:
        if values[tier.pk] >= tier.threshold and (best is None or tier.rank > best.rank):
            best = tier
    return best


def tier_change(member: Member, tier: Tier, *, reason: str, when: datetime | None = None) -> None:
    """Move a locked member to a tier; a tier.changed event goes on the timeline."""
    from fidelis.events.services import record_events

    before = member.tier
    member.tier = tier
    member.tier_since = when or timezone.now()
    member.tier_grace_until = None
    member.save(update_fields=["tier", "tier_since", "tier_grace_until", "updated_at"])
    record_events([tier_changed_event(member.program, member.customer_id, member.number, before, tier,
                                      member.tier_since, reason)])


def tier_changed_event(program: Program, customer_id: int, number: str, before: Tier | None, tier: Tier,
                       when: datetime, reason: str) -> Event:
    """Return the (unsaved) tier.changed event of a member's move from `before` to `tier`."""
    up = before is None or tier.rank > before.rank
    summary = (_("Upgraded to %(tier)s") if up else _("Moved down to %(tier)s")) % {"tier": tier.name}
    return Event(customer_id=customer_id, type="tier.changed", occurred_at=when, channel="system",
                 touchpoint=program.name, summary=summary,
                 payload={"member": number, "from": before.name if before else None, "to": tier.name,
                          "direction": "up" if up else "down", "reason": reason})


def tier_upgrade(member: Member, *, now: datetime | None = None, tiers: list[Tier] | None = None) -> bool:
    """Upgrade a locked member at once when they qualify for a better tier; return whether it happened."""
    now = now or timezone.now()
    tiers = tiers if tiers is not None else list(Tier.objects.filter(program_id=member.program_id).order_by("rank"))
    if member.tier is not None and member.tier_grace_until is None and all(t.rank <= member.tier.rank for t in tiers):
        return False  # at the top already: nothing to sum
    best = tier_qualified(member, now, tiers)
    if best is not None and (member.tier is None or best.rank > member.tier.rank):
        tier_change(member, best, reason=_("Qualified"), when=now)
        return True
    if best is not None and member.tier_grace_until is not None and member.tier and best.rank >= member.tier.rank:
        Member.objects.filter(pk=member.pk).update(tier_grace_until=None)
        member.tier_grace_until = None
    return False


def tier_review(member: Member, *, now: datetime | None = None) -> str:
    """Review a locked member: upgrade at once, downgrade only after the grace period. Return what happened."""
    now = now or timezone.now()
    best = tier_qualified(member, now)
    current = member.tier
    if best is None or current is None or best.rank >= current.rank:
        return "upgraded" if tier_upgrade(member, now=now) else "kept"
    today = timezone.localtime(now).date()
    if member.tier_grace_until is None:
        member.tier_grace_until = today + timedelta(days=current.grace_days)
        Member.objects.filter(pk=member.pk).update(tier_grace_until=member.tier_grace_until)
        if current.grace_days:
            return "grace"
    if today >= member.tier_grace_until:
        tier_change(member, best, reason=_("Tier review"), when=now)
        return "downgraded"
    return "grace"
