"""The loyalty engine: one way to apply a program's rules to events, for live events and the back-fill alike.

A `Job` holds what stays the same for a program and a trigger (the live rules, the tiers, the columns to read). It
applies a batch of events in one transaction, set-based:
1. live events are claimed first (`writer.events_claim`: an AppliedEvent row per event, so that a redelivered
   event is applied once), then what must happen before the rules: enrolment on member.joined, the clawback of an
   order.refunded (`refunds`);
2. the batch's members and their referrers are locked in pk order (`history.Reader.lock`), and their history
   read: order numbers already purchased (an order earns once), tier windows, what capped rules gave today;
3. each event is evaluated (`evaluator.BulkEvaluator`, the answers of `engine.evaluate`) in time order, with
   the caps, the purchase number, referrer points and tier upgrades worked out in memory;
4. the points and the members go to the ledger in bulk (`ledger.Earnings`), purchases and applied events through
   `writer.batch_write`; live events also get their timeline (points.changed, tier.changed), coupons and tags.

A live batch is the events a worker took from the queue (one event is a batch of one); a back-fill chunk is the
pending order.paid events of a range or group of customers (`backfill.py`), without timeline events, coupons or
tags: those are counted instead (see `backfill.py`).
"""

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, OperationalError, transaction
from django.db.models import QuerySet
from django.db.models.fields.json import KT
from django.utils import timezone
from django.utils.translation import gettext as _

from fidelis.accounts.services import audit_record
from fidelis.core.errors import DomainError
from fidelis.events.models import Event
from fidelis.loyalty import ledger
from fidelis.loyalty.apply.evaluator import (
    MEMBER_JOINED,
    ORDER_PAID,
    ORDER_REFUNDED,
    ORDER_TYPES,
    PROGRAM_EVENT_TYPES,
    BulkEvaluator,
    condition_kinds,
    event_columns,
    event_time,
    live_rules,
    payload_amount,
    payload_categories,
    program_events_of_others,
    purchase_ref,
    rule_view,
    store_of,
    tier_names_for,
    time_column,
    where_in,
)
from fidelis.loyalty.apply.history import Account, Batch, Reader, Scope
from fidelis.loyalty.apply.refunds import refund_apply, refund_wait
from fidelis.loyalty.apply.writer import (
    actions_carry_out,
    batch_write,
    events_claim,
    events_unclaim,
    timeline_record,
)
from fidelis.loyalty.engine import EventFacts
from fidelis.loyalty.models import AppliedEvent, Member, MemberStatus, Program, Rule, Tier
from fidelis.loyalty.selectors import member_by_reference
from fidelis.loyalty.services import member_enrol

log = logging.getLogger(__name__)

ATTEMPTS = 3  # a batch that loses a race (a deadlock, an event applied meanwhile) is tried again


@dataclass
class ApplyResult:
    """What a batch, or a back-fill, did (summed over its batches)."""

    events: int = 0  # events read
    applied: int = 0  # events of members applied now
    not_members: int = 0  # the customer is no (active) member
    purchases: int = 0
    duplicate_orders: int = 0  # the member's order number was counted before: applied, earned nothing
    entries: int = 0
    points: int = 0
    referrer_points: int = 0
    members: int = 0  # members whose account changed (summed over batches: a referrer may count in several)
    tier_upgrades: int = 0
    coupons_not_issued: int = 0
    tags_not_added: int = 0
    chunks: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@contextmanager
def _no_turn() -> Iterator[Callable[[], None]]:
    yield lambda: None


class Job:
    """One program's rules for one trigger, applied to batches of events (`apply`: live; `run`: back-fill)."""

    def __init__(self, program: Program, trigger: str, *, actor=None, events: QuerySet[Event] | None = None) -> None:
        self.program = program
        self.trigger = trigger
        self.actor = actor
        self.orders = trigger == ORDER_PAID  # each event is a purchase
        self.events = (events if events is not None else Event.objects.all()).filter(type=trigger)
        if trigger in PROGRAM_EVENT_TYPES:  # an event that names another program is that program's alone
            self.events = self.events.exclude(program_events_of_others(program))
        self.rules = {r.pk: r for r in live_rules(program, trigger)}
        views = [rule_view(r) for r in self.rules.values()]
        kinds = condition_kinds(views)
        self.bulk = BulkEvaluator(views, tier_names_for(program, views), trigger)
        self.tiers = {t.pk: t for t in Tier.objects.filter(program=program).order_by("rank")}
        self.tier_list = [(t.pk, t.rank, (t.basis, t.window_days), t.threshold) for t in self.tiers.values()]
        self.tier_ranks = {t.pk: t.rank for t in self.tiers.values()}
        extra = event_columns(kinds, trigger)
        if trigger in ORDER_TYPES:
            extra.update(order_no=KT("payload__order_no"), order=KT("payload__order"))
        self.columns = {"occurred_us": time_column(), **extra}
        self.names = ["id", "public_id", "customer_id", "occurred_us", "channel", "touchpoint", *extra]
        self.at = {name: i for i, name in enumerate(self.names)}  # each column's place in a row
        self.day_capped = [pk for pk, r in self.rules.items() if r.cap_member_day is not None]
        self.total_capped = [pk for pk, r in self.rules.items() if r.cap_total is not None]
        self.reader = Reader(program, tier_keys=sorted({(t.basis, t.window_days) for t in self.tiers.values()}),
                             kinds=kinds, day_capped=self.day_capped, local_day=self.bulk.local_day)

    # --- entry points -----------------------------------------------------------------------------------------

    def apply(self, event_ids: list[int], customer_ids: set[int]) -> ApplyResult:
        """Apply live events of the trigger (and of these customers) that the program has not applied yet, in the
        caller's transaction, with their timeline, coupons and tags."""
        return self._attempts(Batch(tuple(event_ids), frozenset(customer_ids)), live=True)

    def run(self, scope: Scope, turn: Callable[[], AbstractContextManager] = _no_turn) -> ApplyResult:
        """Apply the pending events of a back-fill chunk (only members' events), in a transaction of its own.

        `turn()` is entered once the transaction has begun and gives the function to call when everything is
        read and worked out, before the writes (the back-fill's chunks take turns to compute).
        """
        return self._attempts(scope, live=False, turn=turn)

    def _attempts(self, scope: Scope, *, live: bool, turn: Callable[[], AbstractContextManager] = _no_turn
                  ) -> ApplyResult:
        for attempt in range(ATTEMPTS):
            try:
                with transaction.atomic(), turn() as computed:
                    return self._batch(scope, live, computed)
            except (IntegrityError, OperationalError):
                # Another writer applied one of these events meanwhile, or a deadlock with it: nothing of the
                # batch was written; read again under the locks.
                if attempt == ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    # --- one batch, inside its transaction --------------------------------------------------------------------

    def _batch(self, scope: Scope, live: bool, computed: Callable[[], None]) -> ApplyResult:
        now = timezone.now()
        claimed: set[int] = set()
        if live:
            # The events first, then the members: the order every batch takes its locks in.
            claimed = events_claim(self.program, list(scope.event_ids), now)
            if not claimed:
                return ApplyResult()
            claimed = self._before_rules(claimed)
        accounts = self.reader.lock(scope)
        by_customer = {a.customer_id: a for a in accounts.values() if scope.holds(a.customer_id) and a.active}
        # Read after the locks: an event that another batch applied before we got them is not pending any more.
        events = scope.events(self.events)
        if not live:
            members = self.reader.members(scope).filter(status=MemberStatus.ACTIVE).values("customer_id")
            events = events.filter(customer_id__in=members)
        # Live events in time order, as they happened: what one member's event gives another (a referrer's points,
        # a rule's total cap) then comes in the same order too. The back-fill goes member by member.
        order = ("occurred_at", "id") if live else ("customer_id", "occurred_at", "id")
        rows = list(events.annotate(**self.columns).order_by(*order).values_list(*self.names))
        order_no_at, order_at = self.at.get("order_no"), self.at.get("order")
        if live:
            rows = [row for row in rows if row[0] in claimed]
        else:
            applied_before = set(where_in(AppliedEvent.objects.filter(program=self.program).values_list(
                "event_id", flat=True), "event_id", [row[0] for row in rows]))
            if applied_before:
                rows = [row for row in rows if row[0] not in applied_before]
        member_ids = [a.pk for a in by_customer.values()]
        if live:
            refs, times = set(), []
            for row in rows:
                account = by_customer.get(row[2])
                if account is not None:
                    times.append(event_time(row[3]))
                    if self.orders:
                        refs.add((account.pk, purchase_ref(row[order_no_at], row[order_at], row[1])))
            if times:
                self.reader.load_live(by_customer, refs, times)
            day_used = self.reader.day_used(member_ids, min(times)) if times else defaultdict(int)
        else:
            self.reader.load(by_customer, member_ids)
            day_used = self.reader.day_used(member_ids)
        totals = dict(Rule.objects.select_for_update(no_key=True).filter(pk__in=self.total_capped).order_by("pk")
                      .values_list("pk", "points_awarded")) if self.total_capped else {}
        step = _Step(self, accounts, by_customer, day_used, totals, self.reader.birthdays(scope),
                     self.reader.tags(scope), live, now)
        for row in rows:
            step.event(row)

        changed = [a for a in accounts.values() if a.changed]
        computed()
        step.earnings.write(changed)
        batch_write(self.program, purchases=step.purchases, applied=step.applied, totals=totals, claimed=live)
        result = step.result
        result.events = len(rows)
        result.purchases = len(step.purchases)
        result.entries = len(step.earnings.rows)
        result.points += result.referrer_points
        result.members = len(changed)
        if live:
            timeline_record(self.program, step.earnings.timeline(accounts), accounts, step.tier_changes, self.tiers,
                            _("Qualified"))
            actions_carry_out(self.program, self.rules, step.actions)
        elif step.applied:
            audit_record(actor=self.actor, action="loyalty.points_backfill", obj=self.program, via="backfill",
                         changes={"events": [None, len(step.applied)], "points": [None, result.points],
                                  "members": [None, len(changed)]})
        return result

    def _before_rules(self, claimed: set[int]) -> set[int]:
        """Do what comes before the rules for claimed live events: enrol on member.joined, take back the points of
        a refund (or keep it waiting for its purchase). Return the events still to apply."""
        if self.trigger == MEMBER_JOINED and self.program.enrol_on_join_event:
            events = list(Event.objects.select_related("customer").filter(pk__in=claimed).order_by("pk"))
            members = set(Member.objects.filter(program=self.program, customer_id__in={e.customer_id for e in events})
                          .values_list("customer_id", flat=True))
            for event in events:
                if event.customer_id in members:
                    continue
                members.add(event.customer_id)  # a customer who joined twice in the batch is enrolled once
                referrer = member_by_reference(self.program, event.payload.get("referrer"))
                try:
                    member_enrol(actor=None, program=self.program, customer=event.customer, channel=event.channel,
                                 referrer=referrer, joined_at=event.occurred_at, event=event, via="rule")
                except DomainError as exc:
                    log.info("event %s: not enrolled: %s", event.pk, exc.message)
        if self.trigger == ORDER_REFUNDED:
            waiting = []
            for event in Event.objects.filter(pk__in=claimed).order_by("pk"):
                member = ledger.lock_member_of(self.program.pk, event.customer_id)
                if member is not None and member.status == MemberStatus.ACTIVE and not refund_apply(member, event):
                    refund_wait(self.program, member, event)
                    waiting.append(event.pk)
            if waiting:
                events_unclaim(self.program, waiting)
                claimed = claimed.difference(waiting)
        return claimed

    # --- tiers ------------------------------------------------------------------------------------------------

    def tier_upgrade(self, account: Account, when: datetime, spent: Decimal) -> bool:
        """Move the member up when they qualify after this event (spending `spent`), as `tiers.tier_upgrade`
        does; return whether it happened."""
        values = {}
        for key, window in account.windows.items():
            if key[0] == Tier.Basis.SPEND:
                window.add(when, spent)
            values[key] = window.value_at(when)
        best = None  # (rank, pk)
        for pk, rank, key, threshold in self.tier_list:
            if values[key] >= threshold and (best is None or rank > best[0]):
                best = (rank, pk)
        current = self.tier_ranks.get(account.tier_id)
        if best is not None and (current is None or best[0] > current):
            account.tier_id, account.tier_since, account.grace_until = best[1], when, None
            return True
        if best is not None and account.grace_until is not None and current is not None and best[0] >= current:
            account.grace_until = None
        return False


class _Step:
    """The events of one batch, one after another, worked out in memory."""

    def __init__(self, job: Job, accounts: dict[int, Account], by_customer: dict[int, Account],
                 day_used: dict[tuple, int], totals: dict[int, int], birthdays: dict[int, Any],
                 tags: dict[int, frozenset[str]], live: bool, now: datetime) -> None:
        self.job, self.accounts, self.by_customer = job, accounts, by_customer
        self.day_used, self.totals, self.birthdays, self.tags = day_used, totals, birthdays, tags
        self.live, self.now = live, now
        self.result = ApplyResult()
        self.earnings = ledger.Earnings(job.program, now)
        self.purchases: list[tuple] = []
        self.applied: list[tuple] = []
        self.tier_changes: list[tuple] = []  # (member id, from tier id, to tier id, when, reason)
        self.actions: list[tuple] = []  # (rule id, event id, customer id, outcome): coupons and tags
        # Plain tuples, not model attributes, in the loop: (cap per member per day, cap in total, name).
        self.rules = {pk: (r.cap_member_day, r.cap_total, r.name) for pk, r in job.rules.items()}
        self.tier_facts = {pk: (t.rank, t.earn_multiplier) for pk, t in job.tiers.items()}
        self.referral_reason = _("%(rule)s: %(member)s")

    def event(self, row: tuple) -> None:
        job, result, zero, none, at = self.job, self.result, Decimal("0"), frozenset(), self.job.at
        event_id, public_id, customer_id, occurred_at, channel, touchpoint = row[:6]
        occurred_at = event_time(occurred_at)
        day = job.bulk.local_day(occurred_at)
        amount = payload_amount(row[at["amount"]]) if "amount" in at else None
        store = store_of(row[at["store"]], row[at["shop"]], touchpoint) if "store" in at else ""
        categories = payload_categories(row[at["categories"]], row[at["lines"]]) if "categories" in at else none
        account = self.by_customer.get(customer_id)
        if account is None:
            result.not_members += 1
            if self.live:  # the rules may still give a customer who is no member coupons or tags
                facts = EventFacts(type=job.trigger, occurred_at=occurred_at, channel=channel, amount=amount,
                                   store=store, categories=categories, tags=self.tags.get(customer_id, none),
                                   birthday=self.birthdays.get(customer_id))
                for outcome in job.bulk.evaluate(facts, day)[1]:
                    if outcome.coupons or outcome.tags:
                        self.actions.append((outcome.rule_id, event_id, customer_id, outcome))
            return
        result.applied += 1
        ref, purchase = "", False
        if job.orders:
            ref = purchase_ref(row[at["order_no"]], row[at["order"]], public_id)
            if ref in account.refs:
                result.duplicate_orders += 1
                self.applied.append((job.program.pk, event_id, self.now, 0))
                return
            account.refs.add(ref)
            account.purchases += 1
            account.changed = purchase = True
        rank, multiplier = self.tier_facts.get(account.tier_id, (0, Decimal("1")))
        facts = EventFacts(
            type=job.trigger, occurred_at=occurred_at, channel=channel, amount=amount, store=store,
            categories=categories, is_member=True, tier_id=account.tier_id, tier_rank=rank,
            tier_multiplier=multiplier, tags=self.tags.get(customer_id, none),
            birthday=self.birthdays.get(customer_id), purchase_number=account.purchases if purchase else 0,
            has_referrer=account.referrer_id is not None)
        if account.history:
            account.advance(occurred_at)
        spent = (amount or zero) if purchase else zero
        earned = 0
        for outcome in job.bulk.evaluate(facts, day)[1]:
            earned += self._outcome(outcome, account, event_id, occurred_at, day, ref, spent if purchase else None)
        if purchase:
            self.purchases.append((account.pk, event_id, ref, spent, zero, earned, 0, 0, occurred_at))
        self.applied.append((job.program.pk, event_id, self.now, earned))
        result.points += earned
        if earned:
            account.changed = True
        if account.windows and (purchase or earned):
            before = account.tier_id
            if job.tier_upgrade(account, occurred_at, spent):
                account.changed = True
                result.tier_upgrades += 1
                self.tier_changes.append((account.pk, before, account.tier_id, occurred_at, None))

    def _outcome(self, outcome, account: Account, event_id: int, occurred_at: datetime, day, ref: str,
                 amount: Decimal | None) -> int:
        """Carry out what one rule does to a member's event; return the points it gave the member."""
        job, result = self.job, self.result
        rule_id = outcome.rule_id
        cap_day, cap_total, rule_name = self.rules[rule_id]
        points = outcome.points
        if points > 0 and cap_day is not None:
            key = (rule_id, account.pk, day)
            points = max(0, min(points, cap_day - self.day_used[key]))
            self.day_used[key] += points
        if points > 0 and cap_total is not None:
            points = max(0, min(points, cap_total - self.totals[rule_id]))
            self.totals[rule_id] += points
        if points > 0:
            self.earnings.add(account, points, occurred_at=occurred_at, day=day, rule_id=rule_id, event_id=event_id,
                              order_ref=ref, amount=amount, reason=rule_name)
            for key, window in account.windows.items():
                if key[0] == Tier.Basis.POINTS:
                    window.add(occurred_at, Decimal(points))
        if outcome.coupons or outcome.tags:
            if self.live:
                self.actions.append((rule_id, event_id, account.customer_id, outcome))
            else:  # a coupon "for" a purchase of two years ago would be issued today
                result.coupons_not_issued += len(outcome.coupons)
                result.tags_not_added += len(outcome.tags)
        if outcome.tier:
            raised = job.tiers.get(int(outcome.tier))
            current = job.tiers.get(account.tier_id)
            if raised is not None and (current is None or raised.rank > current.rank):
                self.tier_changes.append((account.pk, account.tier_id, raised.pk, occurred_at, rule_name))
                account.tier_id, account.tier_since, account.grace_until = raised.pk, occurred_at, None
                account.changed = True
                result.tier_upgrades += 1
        if outcome.referrer_points and account.referrer_id is not None:
            referrer = self.accounts.get(account.referrer_id)
            if referrer is not None and referrer.active:
                referrer.changed = True
                reason = self.referral_reason % {"rule": rule_name, "member": account.number}
                # A referrer's tier windows are not kept in time order: its points do not move its tier here.
                self.earnings.add(referrer, outcome.referrer_points, occurred_at=occurred_at, day=day,
                                  rule_id=rule_id, event_id=event_id, order_ref="", amount=None, reason=reason)
                result.referrer_points += outcome.referrer_points
        return points
