"""Bulk back-fill of historical orders into the points ledger: what the live rules would have given, set-based.

A shop that starts the program with years of order history (imported `order.paid` events) wants its members to
have the points, purchases and tiers that history earns. `orders_backfill` computes them with the live engine
(`engine.evaluate`, through `preview.BulkEvaluator`) and writes them in bulk, member by member, one transaction per
chunk of events (COPY on PostgreSQL, executemany on SQLite):
- a `Purchase` per order (the same order number twice earns once, as live), `PointsEntry` rows with the running
  `balance_after` of each member, a `PointsLot` per earning, an `AppliedEvent` per event, and the members' final
  `balance`, `earned_total`, `purchases` and tier;
- the members' rows are locked (in pk order, referrers included) for the chunk, so that live events of the same
  members wait, and an event that has an `AppliedEvent` for the program already is skipped: nothing is applied
  twice. Afterwards, for every member: balance == sum(entries) == sum(lots.remaining).

It replays each member's events in time order as live processing would have applied them: the purchase number
counts on from the member's purchases so far, the tier multiplier is the tier of the moment, and the tier rises
after each purchase when the spend (or points) in the tier's window qualifies, as `rules.tier_upgrade` does.
What it does not do, on purpose:
- no `points.changed` or `tier.changed` events on the timeline: a million history lines would drown the timeline,
  and the history is visible in the points ledger itself;
- no coupons and no tags: a coupon "for" a purchase of two years ago would be issued today; they are counted in
  the result (`coupons_not_issued`, `tags_not_added`) instead;
- no expiry: points earned long ago get their lots with the expiry date live processing would give them, and the
  nightly `loyalty.expire_points` task expires them as it does any lot;
- events of customers who are not (active) members are left alone, so that a later back-fill can still count them;
- only order.paid: historical refunds go through live processing afterwards (`rules.apply_event`), which finds
  the back-filled purchases and takes their points back.
Tier upgrades set the member's tier and `tier_since` (the time of the purchase) without a timeline event. Tiers on
points earned count the member's own earnings; points given to a referrer during the same back-fill do not move
the referrer's tier. Capped rules are capped as live (their `points_awarded` moves for a total cap).

On PostgreSQL two chunks are worked on at once (`workers`), each on its own connection: while the database writes
one chunk, Python computes the next (`_Turn`). Such chunks are made of whole groups of members who referred one
another (`_groups`), so that they never wait for each other's locks. Most of the time goes to the database: per
order about four foreign-key checks at commit (the member's) and some fifteen index entries over the four tables.
"""

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Count, Exists, F, OuterRef, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KT
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from fidelis.accounts.services import audit_record
from fidelis.core.bulk import ids_reserve, rows_insert
from fidelis.customers.models import Customer, CustomerTag
from fidelis.events.models import Event
from fidelis.loyalty.engine import EventFacts
from fidelis.loyalty.ledger import expiry_for
from fidelis.loyalty.models import (
    AppliedEvent,
    EntryKind,
    Member,
    MemberStatus,
    PointsEntry,
    PointsLot,
    Program,
    Purchase,
    Rule,
    Tier,
)
from fidelis.loyalty.preview import (
    BulkEvaluator,
    array_in,
    condition_kinds,
    event_columns,
    event_time,
    live_rules,
    payload_amount,
    payload_categories,
    rule_view,
    store_of,
    tier_names_for,
    time_column,
    where_in,
)
from fidelis.loyalty.rules import purchase_ref

TRIGGER = "order.paid"
ATTEMPTS = 3  # a chunk that loses a race (deadlock, an event applied meanwhile) is tried again


@dataclass
class BackfillResult:
    """What a back-fill did (cumulative while it runs)."""

    events: int = 0  # events read
    applied: int = 0  # events applied now (one AppliedEvent each)
    not_members: int = 0  # the customer is no longer an active member: left alone
    purchases: int = 0
    duplicate_orders: int = 0  # the member's order number was counted before: applied, earned nothing
    entries: int = 0
    points: int = 0
    referrer_points: int = 0
    members: int = 0  # members whose ledger changed (summed over chunks: a referrer may count in several)
    tier_upgrades: int = 0
    coupons_not_issued: int = 0
    tags_not_added: int = 0
    chunks: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Window:
    """The values that count for one kind of tier (basis, window) in a sliding window of time."""

    days: int
    items: deque = field(default_factory=deque)
    total: Decimal = Decimal("0")

    def add(self, when: datetime, value: Decimal) -> None:
        self.items.append((when, value))
        self.total += value

    def value_at(self, when: datetime) -> Decimal:
        horizon = when - timedelta(days=self.days)
        items = self.items
        while items and items[0][0] <= horizon:
            self.total -= items.popleft()[1]
        return self.total


class _Account:
    """A locked member as the back-fill moves it."""

    __slots__ = ("pk", "customer_id", "number", "balance", "earned", "purchases", "tier_id", "tier_since",
                 "grace_until", "referrer_id", "active", "refs", "history", "windows", "changed")

    def __init__(self, row: tuple) -> None:
        (self.pk, self.customer_id, self.number, self.balance, self.earned, self.purchases, self.tier_id,
         self.tier_since, self.grace_until, self.referrer_id, status) = row
        self.active = status == MemberStatus.ACTIVE
        self.refs: set[str] = set()
        self.history: dict[tuple[str, int], deque] = {}  # values from before the back-fill, oldest first
        self.windows: dict[tuple[str, int], _Window] = {}
        self.changed = False

    def advance(self, when: datetime) -> None:
        """Move the values from before the back-fill up to `when` into the tier windows."""
        for key, history in self.history.items():
            window = self.windows[key]
            while history and history[0][0] <= when:
                window.add(*history.popleft())


def orders_backfill(*, actor, program: Program, events: QuerySet[Event] | None = None, chunk_size: int = 20_000,
                    workers: int | None = None,
                    progress: Callable[[BackfillResult], None] | None = None) -> BackfillResult:
    """Apply historical order.paid events of the program's members to the ledger in bulk; return what it did.

    `events` narrows the events considered (e.g. one import); by default every order.paid event of an active
    member that the program has not applied yet. Each chunk of about `chunk_size` events (whole members) is one
    transaction, so an interrupted back-fill keeps what it finished and a second run carries on. On PostgreSQL
    two chunks are worked on at once by default (`workers`), each on its own connection, so that the database
    writes one while Python computes the other; their locks are taken in pk order, so they only ever wait for
    each other on a shared referrer.
    """
    started = time.monotonic()
    result = BackfillResult()
    job = _Job(program, actor, events)
    if workers is None:
        workers = 2
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        # SQLite writes one transaction at a time; other connections would not see the caller's uncommitted rows.
        workers = 1
    pending = _pending(program, job.events)
    if workers > 1:
        scopes: list[_Range | _Group] = [_Group(ids) for ids in _groups(program, pending, chunk_size)]
    else:
        scopes = [_Range(*bounds) for bounds in _chunks(pending, chunk_size)]

    def add(done: BackfillResult) -> None:
        for name, value in done.as_dict().items():
            if name not in ("seconds", "chunks"):
                setattr(result, name, getattr(result, name) + value)
        result.chunks += 1
        result.seconds = round(time.monotonic() - started, 3)
        if progress is not None:
            progress(result)

    if workers <= 1 or len(scopes) <= 1:
        for scope in scopes:
            add(job.run(scope))
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for future in as_completed([pool.submit(job.run_in_thread, scope) for scope in scopes]):
                add(future.result())
    result.seconds = round(time.monotonic() - started, 3)
    return result


def _pending(program: Program, events: QuerySet[Event] | None) -> QuerySet[Event]:
    members = Member.objects.filter(program=program, status=MemberStatus.ACTIVE).values("customer_id")
    applied = AppliedEvent.objects.filter(program=program, event_id=OuterRef("pk"))
    return (events if events is not None else Event.objects.all()).filter(
        type=TRIGGER, customer_id__in=members).exclude(Exists(applied))


def _chunks(pending: QuerySet[Event], size: int) -> Iterator[tuple[int, int]]:
    """Yield ranges of customer ids holding about `size` pending events each (a customer is never split)."""
    first = None
    count = 0
    counts = pending.order_by().values("customer_id").annotate(n=Count("id")).order_by("customer_id")
    for customer_id, n in counts.values_list("customer_id", "n"):
        if first is None:
            first = customer_id
        count += n
        if count >= size:
            yield first, customer_id
            first, count = None, 0
    if first is not None:
        yield first, customer_id


def _groups(program: Program, pending: QuerySet[Event], size: int) -> Iterator[frozenset[int]]:
    """Yield sets of customer ids holding about `size` pending events each, a member always with its referrer.

    A chunk locks its members and their referrers, so chunks of customer ranges running at once wait for each other
    whenever a member of one referred a member of the other (with referrers spread over all members: nearly always).
    Here the customers with pending events and their referrers' customers are joined into groups (union-find over
    "referred by"), and whole groups are packed into chunks: no two chunks lock the same member.
    """
    counts = dict(pending.order_by().values("customer_id").annotate(n=Count("id")).values_list("customer_id", "n"))
    parent: dict[int, int] = {}

    def root(node: int) -> int:
        top = node
        while parent.get(top, top) != top:
            top = parent[top]
        while node != top:  # shorten the path for the next lookups
            parent[node], node = top, parent[node]
        return top

    referred = Member.objects.filter(program=program, referred_by__isnull=False).values_list(
        "customer_id", "referred_by__customer_id")
    for customer_id, referrer_customer_id in referred.iterator(chunk_size=10_000):
        if customer_id in counts:
            a, b = root(customer_id), root(referrer_customer_id)
            if a != b:
                parent[max(a, b)] = min(a, b)
    members: dict[int, list[int]] = defaultdict(list)
    for node in {*counts, *parent, *parent.values()}:
        members[root(node)].append(node)
    chunk: list[int] = []
    count = 0
    for top in sorted(members):
        group = set(members[top])
        chunk.extend(group)
        count += sum(counts.get(node, 0) for node in group)
        if count >= size:
            yield frozenset(chunk)
            chunk, count = [], 0
    if chunk:
        yield frozenset(chunk)


@dataclass(frozen=True)
class _Range:
    """The customers first..last and their pending events (a back-fill chunk)."""

    first: int
    last: int

    def customers(self, rows: QuerySet, field: str) -> QuerySet:
        return rows.filter(**{f"{field}__gte": self.first, f"{field}__lte": self.last})

    def events(self, rows: QuerySet) -> QuerySet:
        return self.customers(rows, "customer_id")

    def holds(self, customer_id: int) -> bool:
        return self.first <= customer_id <= self.last


@dataclass(frozen=True)
class _Group:
    """Some customers and their pending events (a back-fill chunk of `_groups`; PostgreSQL)."""

    customer_ids: frozenset[int]

    def customers(self, rows: QuerySet, field: str) -> QuerySet:
        return array_in(rows, field, sorted(self.customer_ids))  # a group of referrals has no bound

    def events(self, rows: QuerySet) -> QuerySet:
        return self.customers(rows, "customer_id")

    def holds(self, customer_id: int) -> bool:
        return customer_id in self.customer_ids


@dataclass(frozen=True)
class _Batch:
    """Some events, and their customers (a batch of live events)."""

    event_ids: tuple[int, ...]
    customer_ids: frozenset[int]

    def customers(self, rows: QuerySet, field: str) -> QuerySet:
        return rows.filter(**{f"{field}__in": sorted(self.customer_ids)})

    def events(self, rows: QuerySet) -> QuerySet:
        return rows.filter(pk__in=self.event_ids)

    def holds(self, customer_id: int) -> bool:
        return customer_id in self.customer_ids


@dataclass
class _Live:
    """What live processing does beyond the back-fill, gathered while a batch is computed and done after its
    writes: the timeline events, and the coupons and tags the rules give."""

    left_over: list[int] = field(default_factory=list)  # events of customers who are not (active) members
    tier_changes: list[tuple] = field(default_factory=list)  # (account, from tier id, to tier id, when, reason)
    actions: list[tuple] = field(default_factory=list)  # (rule id, event id, customer id, outcome)


class _Turn:
    """Chunks take turns to read and compute, and write side by side.

    The computing is Python, one thread at a time anyway; chunks that compute together then write together, and
    the database waits while they compute and Python while they write. Taking turns, one chunk computes while the
    others write: about 1.25x the orders per second of two chunks left to themselves (two pairs of runs).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()

    @contextmanager
    def taken(self) -> Iterator[Callable[[], None]]:
        """Wait for the turn; yield the function that gives it back (once; at the latest on leaving)."""
        self._lock.acquire()
        held = [True]

        def give_back() -> None:
            if held[0]:
                held[0] = False
                self._lock.release()

        try:
            yield give_back
        finally:
            give_back()


class _Job:
    """What stays the same for every chunk: the rules, the tiers, the columns to read.

    It also applies batches of live order.paid events (`apply_orders`) as `rules.apply_event` would one by one:
    with the points.changed and tier.changed events on the timeline, the coupons and tags of the rules, and no
    audit entry (the events are the record).
    """

    def __init__(self, program: Program, actor, events: QuerySet[Event] | None) -> None:
        self.program = program
        self.actor = actor
        self.events = (events if events is not None else Event.objects.all()).filter(type=TRIGGER)
        self.rules = {r.pk: r for r in live_rules(program, TRIGGER)}
        views = [rule_view(r) for r in self.rules.values()]
        self.kinds = condition_kinds(views)
        self.bulk = BulkEvaluator(views, tier_names_for(program, views), TRIGGER)
        self.tiers = {t.pk: t for t in Tier.objects.filter(program=program).order_by("rank")}
        self.tier_keys = sorted({(t.basis, t.window_days) for t in self.tiers.values()})
        self.tier_list = [(t.pk, t.rank, (t.basis, t.window_days), t.threshold) for t in self.tiers.values()]
        self.tier_ranks = {t.pk: t.rank for t in self.tiers.values()}
        extra = {**event_columns(self.kinds, TRIGGER), **_order_columns()}
        self.columns = {"occurred_us": time_column(), **extra}
        self.names = ["id", "public_id", "customer_id", "occurred_us", "channel", "touchpoint", *extra]
        self.at = {name: i for i, name in enumerate(self.names)}
        self.expiry: dict[tuple[int, int], datetime | None] = {}
        self.day_capped = [pk for pk, r in self.rules.items() if r.cap_member_day is not None]
        self.total_capped = [pk for pk, r in self.rules.items() if r.cap_total is not None]
        self.turn = _Turn()
        # Worker threads start in the default language and time zone: use the caller's.
        self.language = translation.get_language()

    def expires(self, when: datetime, day) -> datetime | None:
        key = (day.year, day.month)  # expiry_for depends only on the local month of the earning
        if key not in self.expiry:
            self.expiry[key] = expiry_for(self.program, when)
        return self.expiry[key]

    def run_in_thread(self, scope: "_Range | _Group") -> BackfillResult:
        try:
            with translation.override(self.language), timezone.override(self.bulk.tz):
                return self.run(scope)
        finally:
            connection.close()  # this thread's own connection

    def run(self, scope: "_Range | _Group") -> BackfillResult:
        return self._attempts(scope)

    def apply_orders(self, event_ids: list[int], customer_ids: set[int]) -> list[int]:
        """Apply live order.paid events inside the caller's transaction; return those it left to `apply_event`
        (the events of customers who are not active members)."""
        live = _Live()
        self._attempts(_Batch(tuple(event_ids), frozenset(customer_ids)), live)
        return live.left_over

    def _attempts(self, scope, live: "_Live | None" = None) -> BackfillResult:
        for attempt in range(ATTEMPTS):
            try:
                with transaction.atomic(), self.turn.taken() as give_back:
                    if live is not None:
                        live.__init__()
                    return self.run_chunk(scope, live, give_back)
            except (IntegrityError, OperationalError):
                # Live processing applied one of these events meanwhile, or a deadlock with it: nothing of the
                # chunk was written; read again under the locks.
                if attempt == ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    # --- one chunk, inside its transaction -----------------------------------------------------------------

    def run_chunk(self, scope: "_Range | _Group | _Batch", live: _Live | None = None,
                  computed: Callable[[], None] = lambda: None) -> BackfillResult:
        """Apply the pending events of the scope's customers; the members' rows are locked first. `computed` is
        called once everything is read and worked out, before the writes."""
        now = timezone.now()
        # Live: claim the events first, as `rules._apply` does (the same lock order: the event, then the member).
        claimed = self._claim(scope.event_ids, now) if live is not None else None
        accounts = self._lock(scope)
        by_customer = {a.customer_id: a for a in accounts.values() if scope.holds(a.customer_id) and a.active}
        # Read after the locks: an event that live processing applied before we got them is not pending any more.
        events = scope.events(self.events)
        if live is None:
            members = self._members(scope).filter(status=MemberStatus.ACTIVE).values("customer_id")
            events = events.filter(customer_id__in=members)
        # Live events in time order, as one by one: what one member's event gives another (a referrer's points, a
        # rule's total cap) then comes in the same order too. The back-fill goes member by member.
        order = ("occurred_at", "id") if live is not None else ("customer_id", "occurred_at", "id")
        rows = list(events.annotate(**self.columns).order_by(*order).values_list(*self.names))
        if claimed is not None:
            rows = [row for row in rows if row[0] in claimed]
        else:
            applied_before = set(where_in(AppliedEvent.objects.filter(program=self.program).values_list(
                "event_id", flat=True), "event_id", [row[0] for row in rows]))
            if applied_before:
                rows = [row for row in rows if row[0] not in applied_before]
        result = BackfillResult(events=len(rows))
        member_ids = [a.pk for a in by_customer.values()]
        if live is None:
            self._load_history(by_customer, member_ids)
            day_used = self._day_used(member_ids)
        else:
            since = self._load_history_live(by_customer, rows)
            day_used = self._day_used(member_ids, since)
        totals = dict(Rule.objects.select_for_update(no_key=True).filter(pk__in=self.total_capped).order_by("pk")
                      .values_list("pk", "points_awarded")) if self.total_capped else {}
        birthdays = self._birthdays(scope)
        tags = self._tags(scope)

        entries: list[list] = []  # without their ids yet
        purchases: list[tuple] = []
        applied: list[tuple] = []
        program_id = self.program.pk
        at = self.at
        amount_at, order_no_at, order_at = at["amount"], at["order_no"], at["order"]
        store_at, shop_at = at.get("store"), at.get("shop")
        categories_at, lines_at = at.get("categories"), at.get("lines")
        tiers, bulk, zero, one = self.tiers, self.bulk, Decimal("0"), Decimal("1")
        # Plain tuples, not model attributes, in the loop: (cap per member per day, cap in total, name).
        rules = {pk: (r.cap_member_day, r.cap_total, r.name) for pk, r in self.rules.items()}
        tier_facts = {pk: (t.rank, t.earn_multiplier) for pk, t in tiers.items()}
        no_tags: frozenset[str] = frozenset()
        post, tier_upgrade = self._post, self._tier_upgrade
        referral_reason = _("%(rule)s: %(member)s")
        for row in rows:
            event_id, public_id, customer_id, occurred_at, channel, touchpoint = row[:6]
            occurred_at = event_time(occurred_at)
            account = by_customer.get(customer_id)
            if account is None:
                result.not_members += 1
                if live is not None:
                    live.left_over.append(event_id)
                continue
            result.applied += 1
            amount = payload_amount(row[amount_at])
            ref = purchase_ref(row[order_no_at], row[order_at], public_id)
            if ref in account.refs:
                result.duplicate_orders += 1
                applied.append((program_id, event_id, now, 0))
                continue
            account.refs.add(ref)
            account.purchases += 1
            account.changed = True
            rank, multiplier = tier_facts.get(account.tier_id, (0, one))
            facts = EventFacts(
                type=TRIGGER, occurred_at=occurred_at, channel=channel, amount=amount,
                store=store_of(row[store_at], row[shop_at], touchpoint) if store_at is not None else "",
                categories=payload_categories(row[categories_at], row[lines_at]) if categories_at is not None
                else no_tags,
                is_member=True, tier_id=account.tier_id, tier_rank=rank, tier_multiplier=multiplier,
                tags=tags.get(customer_id, no_tags), birthday=birthdays.get(customer_id),
                purchase_number=account.purchases, has_referrer=account.referrer_id is not None)
            day = bulk.local_day(occurred_at)
            if account.history:
                account.advance(occurred_at)
            _found, outcomes = bulk.evaluate(facts, day)
            earned = 0
            for outcome in outcomes:
                rule_id = outcome.rule_id
                cap_day, cap_total, rule_name = rules[rule_id]
                points = outcome.points
                if points > 0 and cap_day is not None:
                    key = (rule_id, account.pk, day)
                    points = max(0, min(points, cap_day - day_used[key]))
                    day_used[key] += points
                if points > 0 and cap_total is not None:
                    points = max(0, min(points, cap_total - totals[rule_id]))
                    totals[rule_id] += points
                if points > 0:
                    post(entries, account, points, occurred_at, day, now, rule_id, event_id, ref,
                         amount if amount is not None else zero, rule_name[:200], True)
                    earned += points
                if live is not None and (outcome.coupons or outcome.tags):
                    live.actions.append((rule_id, event_id, customer_id, outcome))
                elif outcome.coupons or outcome.tags:
                    result.coupons_not_issued += len(outcome.coupons)
                    result.tags_not_added += len(outcome.tags)
                if outcome.tier:
                    raised = tiers.get(int(outcome.tier))
                    current = tiers.get(account.tier_id)
                    if raised is not None and (current is None or raised.rank > current.rank):
                        if live is not None:
                            live.tier_changes.append((account, account.tier_id, raised.pk, occurred_at, rule_name))
                        account.tier_id, account.tier_since, account.grace_until = raised.pk, occurred_at, None
                        result.tier_upgrades += 1
                if outcome.referrer_points and account.referrer_id is not None:
                    referrer = accounts.get(account.referrer_id)
                    if referrer is not None and referrer.active:
                        referrer.changed = True
                        reason = referral_reason % {"rule": rule_name, "member": account.number}
                        post(entries, referrer, outcome.referrer_points, occurred_at, day, now, rule_id, event_id, "",
                             None, reason[:200], False)
                        result.referrer_points += outcome.referrer_points
            purchases.append((account.pk, event_id, ref, amount if amount is not None else zero, zero, earned, 0, 0,
                              occurred_at))
            applied.append((program_id, event_id, now, earned))
            result.points += earned
            if account.windows:
                before = account.tier_id
                if tier_upgrade(account, occurred_at, amount or zero):
                    result.tier_upgrades += 1
                    if live is not None:
                        live.tier_changes.append((account, before, account.tier_id, occurred_at, None))

        changed = [a for a in accounts.values() if a.changed]
        computed()
        _Writer(self.program).write(entries, purchases, applied, changed, totals, now, claimed=claimed is not None)
        result.purchases = len(purchases)
        result.entries = len(entries)
        result.points += result.referrer_points
        result.members = len(changed)
        if live is not None:
            self._timeline(entries, accounts, live.tier_changes)
            self._actions(live.actions)
        elif applied:
            audit_record(actor=self.actor, action="loyalty.points_backfill", obj=self.program, via="backfill",
                         changes={"events": [None, len(applied)], "points": [None, result.points],
                                  "members": [None, len(changed)]})
        return result

    def _claim(self, event_ids: tuple[int, ...], now: datetime) -> set[int]:
        """Write the AppliedEvent rows of these events unless they are there; return the events claimed so."""
        if not event_ids:
            return set()
        table = connection.ops.quote_name(AppliedEvent._meta.db_table)
        stamp = AppliedEvent._meta.get_field("applied_at").get_db_prep_save(now, connection)
        values = ", ".join(["(%s, %s, %s, 0)"] * len(event_ids))
        params = [v for event_id in sorted(event_ids) for v in (self.program.pk, event_id, stamp)]
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {table} (program_id, event_id, applied_at, points) VALUES {values} "  # noqa: S608
                           "ON CONFLICT DO NOTHING RETURNING event_id", params)
            return {row[0] for row in cursor.fetchall()}

    def _timeline(self, entries: list[list], accounts: dict[int, _Account], tier_changes: list[tuple]) -> None:
        """Record the points.changed and tier.changed events live processing records (`ledger.post`,
        `rules.tier_change`), in one statement."""
        from fidelis.events.services import record_events
        from fidelis.loyalty.ledger import timeline_event
        from fidelis.loyalty.rules import tier_changed_event

        program = self.program
        events = []
        for entry_id, member_id, kind, points, balance, occurred_at, _at, _rule, _event, order_ref, _amount, reason, \
                *_more in entries:
            account = accounts[member_id]
            events.append(timeline_event(program, account.customer_id, account.number, entry_id, kind, points,
                                         balance, occurred_at, reason, order_ref))
        for account, before, after, when, reason in tier_changes:
            events.append(tier_changed_event(program, account.customer_id, account.number, self.tiers.get(before),
                                             self.tiers[after], when, reason or _("Qualified")))
        record_events(events)

    def _actions(self, actions: list[tuple]) -> None:
        """Issue the coupons and add the tags the rules gave, as `rules._carry_out` does."""
        if not actions:
            return
        from fidelis.customers.services import customer_tag_add
        from fidelis.loyalty.rules import coupons_issue

        customers = Customer.objects.in_bulk({a[2] for a in actions})
        events = Event.objects.in_bulk({a[1] for a in actions})
        for rule_id, event_id, customer_id, outcome in actions:
            rule, event = self.rules[rule_id], events[event_id]
            event.customer = customers[customer_id]
            coupons_issue(self.program, rule, outcome, event)
            for tag in outcome.tags:
                customer_tag_add(actor=None, customer=event.customer, tag_name=tag, via="rule")

    def _post(self, entries: list, account: _Account, points: int, occurred_at: datetime, day, now: datetime,
              rule_id: int, event_id: int, ref: str, amount: Decimal | None, reason: str, own: bool) -> None:
        """Append one earning to a member's ledger (as ledger.post does, with the lot made at write time)."""
        account.balance += points
        account.earned += points
        entries.append([account.pk, "earn", points, account.balance, occurred_at, now, rule_id, event_id, ref,
                        amount, reason, 0, self.expires(occurred_at, day), None, None])
        if own:  # a referrer's tier windows are not kept in time order: see the module's docstring
            for basis_key, window in account.windows.items():
                if basis_key[0] == Tier.Basis.POINTS:
                    window.add(occurred_at, Decimal(points))

    def _tier_upgrade(self, account: _Account, when: datetime, amount: Decimal) -> int:
        """Move the member up when they qualify after this purchase, as rules.tier_upgrade does; return 1 if so."""
        values = {}
        for key, window in account.windows.items():
            if key[0] == Tier.Basis.SPEND:
                window.add(when, amount)
            values[key] = window.value_at(when)
        best = None  # (rank, pk)
        for pk, rank, key, threshold in self.tier_list:
            if values[key] >= threshold and (best is None or rank > best[0]):
                best = (rank, pk)
        current = self.tier_ranks.get(account.tier_id)
        if best is not None and (current is None or best[0] > current):
            account.tier_id, account.tier_since, account.grace_until = best[1], when, None
            return 1
        if best is not None and account.grace_until is not None and current is not None and best[0] >= current:
            account.grace_until = None
        return 0

    # --- reads under the locks -----------------------------------------------------------------------------

    def _members(self, scope: _Range | _Group | _Batch) -> QuerySet[Member]:
        return scope.customers(Member.objects.filter(program=self.program), "customer_id")

    def _lock(self, scope: _Range | _Group | _Batch) -> dict[int, _Account]:
        """Lock the chunk's members and their referrers, in pk order (the order every ledger lock takes)."""
        ids: set[int] = set()
        for pk, referrer_id in self._members(scope).values_list("pk", "referred_by_id"):
            ids.add(pk)
            if referrer_id is not None:
                ids.add(referrer_id)
        locked = where_in(Member.objects.select_for_update(no_key=True).order_by("pk").values_list(
            "pk", "customer_id", "number", "balance", "earned_total", "purchases", "tier_id", "tier_since",
            "tier_grace_until", "referred_by_id", "status"), "pk", sorted(ids))
        return {row[0]: _Account(row) for row in locked}

    def _load_history(self, by_customer: dict[int, _Account], member_ids: list[int]) -> None:
        """Load each member's order numbers, and the purchases (and earnings) that count for tiers."""
        accounts = {a.pk: a for a in by_customer.values()}
        spend_keys = [k for k in self.tier_keys if k[0] == Tier.Basis.SPEND]
        points_keys = [k for k in self.tier_keys if k[0] == Tier.Basis.POINTS]
        spend: dict[int, list] = defaultdict(list)
        for member_id, ref, occurred_at, amount, refunded in _of_members(Purchase.objects.values_list(
                "member_id", "order_ref", "occurred_at", "amount", "refunded"), "member_id", member_ids):
            accounts[member_id].refs.add(ref)
            if spend_keys:
                spend[member_id].append((occurred_at, amount - refunded))
        earned: dict[int, list] = defaultdict(list)
        if points_keys:
            for member_id, occurred_at, points in _of_members(PointsEntry.objects.filter(kind=EntryKind.EARN).values_list(
                    "member_id", "occurred_at", "points"), "member_id", member_ids):
                earned[member_id].append((occurred_at, Decimal(points)))
        for member_id, account in accounts.items():
            for key in self.tier_keys:
                values = spend.get(member_id, ()) if key[0] == Tier.Basis.SPEND else earned.get(member_id, ())
                if values:
                    account.history[key] = deque(sorted(values, key=lambda item: item[0]))
                account.windows[key] = _Window(days=key[1])

    def _load_history_live(self, by_customer: dict[int, _Account], rows: list[tuple]) -> datetime | None:
        """As `_load_history`, for a batch of live events (`rows`), reading only what the batch can need: the
        members' orders with the batch's order numbers, and per tier window the values that can count; return the
        earliest time of the batch's events (None without events of members).

        With the batch's events between `lo` and `hi`, a value of a window of `days` counts for an event at `when`
        if it was at or before `when` and after `when - days`. So values up to `lo - days` never count and are
        not read; values after `hi - days` and up to `lo` count for every event of the batch and are kept as one
        sum per member (at the time of the earliest of them); only the others (falling out of the window during
        the batch, or later than its first event) are kept one by one. A live batch spans seconds: its members'
        windows hold about one item each.
        """
        accounts = {a.pk: a for a in by_customer.values()}
        for account in accounts.values():
            account.windows = {key: _Window(days=key[1]) for key in self.tier_keys}
        at = self.at
        order_no_at, order_at = at["order_no"], at["order"]
        pairs, times = set(), []
        for row in rows:
            account = by_customer.get(row[2])
            if account is not None:
                pairs.add((account.pk, purchase_ref(row[order_no_at], row[order_at], row[1])))
                times.append(event_time(row[3]))
        if not pairs:
            return None
        for member_id, ref in _purchases_known(sorted(pairs)):
            accounts[member_id].refs.add(ref)
        lo, hi = min(times), max(times)
        member_ids = sorted(accounts)
        for key in self.tier_keys:
            span = timedelta(days=key[1])
            history: dict[int, list] = defaultdict(list)
            summed: dict[int, list] = {}
            for member_id, occurred_at, value in _window_values(key[0], member_ids, lo - span):
                if hi - span < occurred_at <= lo:
                    total = summed.setdefault(member_id, [occurred_at, Decimal(0)])
                    total[0] = min(total[0], occurred_at)
                    total[1] += value
                else:
                    history[member_id].append((occurred_at, Decimal(value)))
            for member_id, (first, total) in summed.items():
                history[member_id].append((first, total))
            for member_id, found in history.items():
                accounts[member_id].history[key] = deque(sorted(found, key=lambda item: item[0]))
        return lo

    def _day_used(self, member_ids: list[int], since: datetime | None = None) -> dict[tuple, int]:
        """Return the points capped rules already gave, per (rule, member, local day); with `since`, only of the
        local days from that time on."""
        used: dict[tuple, int] = defaultdict(int)
        if not self.day_capped:
            return used
        entries = PointsEntry.objects.filter(rule_id__in=self.day_capped)
        if since is not None:  # a local day starts at most 26 hours before any time in it (time-zone changes)
            entries = entries.filter(occurred_at__gt=since - timedelta(hours=26))
        for rule_id, member_id, occurred_at, points in _of_members(entries.values_list(
                "rule_id", "member_id", "occurred_at", "points"), "member_id", member_ids):
            used[(rule_id, member_id, self.bulk.local_day(occurred_at))] += points
        return used

    def _birthdays(self, scope: _Range | _Group | _Batch) -> dict[int, Any]:
        if "birthday_month" not in self.kinds:
            return {}
        return dict(scope.customers(Customer.objects.filter(birthday__isnull=False), "pk")
                    .values_list("pk", "birthday"))

    def _tags(self, scope: _Range | _Group | _Batch) -> dict[int, frozenset[str]]:
        if "tag_in" not in self.kinds:
            return {}
        names: dict[int, set[str]] = defaultdict(set)
        for customer_id, name in scope.customers(CustomerTag.objects.all(), "customer_id").values_list(
                "customer_id", "tag__name"):
            names[customer_id].add(name)
        return {pk: frozenset(found) for pk, found in names.items()}


def _of_members(rows: QuerySet, field: str, member_ids: list[int]) -> Iterator[tuple]:
    """Yield the rows (of a values_list) of these members.

    On PostgreSQL one range of the table's member index per member, for sure (a lateral join): the planner's
    statistics lag behind the newest rows, and with `member_id IN (…)` it chose to hash-join the whole table, chunk
    after chunk of a back-fill, to find the few rows (or none) of the chunk's members (measured: 50 ms for no row at
    500,000 orders), and for a live batch's `… AND occurred_at > …` to scan the whole (member, time) index for the
    "few" recent rows.
    """
    if connection.vendor != "postgresql":
        yield from where_in(rows, field, member_ids)
        return
    if not member_ids:
        return
    sql, params = rows.order_by().filter(**{field: RawSQL("m.id", ())}).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT p.* FROM unnest(%s::bigint[]) AS m(id) CROSS JOIN LATERAL ({sql}) AS p",  # noqa: S608
                       [member_ids, *params])
        yield from cursor.fetchall()


def _window_values(basis: str, member_ids: list[int], since: datetime) -> Iterator[tuple[int, datetime, Any]]:
    """Yield (member id, time, value) of what counts for tiers on `basis` (spend net of refunds, or points earned)
    after `since`, of these members."""
    rows = (Purchase.objects.annotate(value=F("amount") - F("refunded")) if basis == Tier.Basis.SPEND
            else PointsEntry.objects.filter(kind=EntryKind.EARN).annotate(value=F("points")))
    yield from _of_members(rows.filter(occurred_at__gt=since).values_list("member_id", "occurred_at", "value"),
                           "member_id", member_ids)


def _purchases_known(pairs: list[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    """Yield the (member id, order number) pairs that are purchases already."""
    if connection.vendor == "postgresql":
        # A join with the pairs: with `member_id IN (…) AND order_ref IN (…)` PostgreSQL probes the (member, order)
        # index for every combination of the two lists.
        table = connection.ops.quote_name(Purchase._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT p.member_id, p.order_ref FROM {table} AS p JOIN unnest(%s::bigint[], "  # noqa: S608
                           "%s::text[]) AS v(member_id, order_ref) ON p.member_id = v.member_id "
                           "AND p.order_ref = v.order_ref", [[m for m, _r in pairs], [r for _m, r in pairs]])
            yield from cursor.fetchall()
        return
    wanted = set(pairs)
    for start in range(0, len(pairs), 400):  # the members and numbers of 400 pairs: within SQLite's limit
        part = pairs[start:start + 400]
        found = Purchase.objects.filter(member_id__in=sorted({m for m, _r in part}),
                                        order_ref__in=sorted({r for _m, r in part}))
        for pair in found.values_list("member_id", "order_ref"):
            if pair in wanted:
                yield pair


def _order_columns() -> dict[str, Any]:
    return {"amount": KT("payload__amount"), "order_no": KT("payload__order_no"), "order": KT("payload__order")}


# --- writing --------------------------------------------------------------------------------------------------

ENTRY_FIELDS = ("id", "member", "kind", "points", "balance_after", "occurred_at", "created_at", "rule", "event",
                "order_ref", "amount", "reason", "shortfall", "expires_at", "actor", "idempotency_key")
LOT_FIELDS = ("member", "entry", "points", "remaining", "expires_at", "notified")
PURCHASE_FIELDS = ("member", "event", "order_ref", "amount", "refunded", "points", "points_clawed",
                   "points_unrecovered", "occurred_at")
APPLIED_FIELDS = ("program", "event", "applied_at", "points")


class _Writer:
    """Set-based writes of one chunk (`core.bulk`: COPY on PostgreSQL, executemany elsewhere)."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.postgres = connection.vendor == "postgresql"

    def write(self, entries: list[list], purchases: list[tuple], applied: list[tuple], accounts: list[_Account],
              totals: dict[int, int], now: datetime, *, claimed: bool = False) -> None:
        """Write a chunk; with `claimed`, its AppliedEvent rows are there already and get their points."""
        ids = ids_reserve(PointsEntry, len(entries))
        lots = []
        for entry_id, entry in zip(ids, entries, strict=True):
            entry.insert(0, entry_id)
            lots.append((entry[1], entry_id, entry[3], entry[3], entry[13], False))
        rows_insert(PointsEntry, ENTRY_FIELDS, entries)
        rows_insert(PointsLot, LOT_FIELDS, lots)
        rows_insert(Purchase, PURCHASE_FIELDS, purchases)
        if claimed:
            self._applied_points([(row[1], row[3]) for row in applied if row[3]])
        else:
            rows_insert(AppliedEvent, APPLIED_FIELDS, applied)
        self._update_members(accounts, now)
        for rule_id, given in totals.items():
            Rule.objects.filter(pk=rule_id).update(points_awarded=given)

    def _applied_points(self, points: list[tuple[int, int]]) -> None:
        if not points:
            return
        table = connection.ops.quote_name(AppliedEvent._meta.db_table)
        with connection.cursor() as cursor:
            if self.postgres:  # one statement, not one per event
                cursor.execute(f"UPDATE {table} AS a SET points = v.points FROM unnest(%s::bigint[], "  # noqa: S608
                               "%s::bigint[]) AS v(event_id, points) WHERE a.program_id = %s AND a.event_id = v.event_id",
                               [[e for e, _p in points], [p for _e, p in points], self.program.pk])
                return
            cursor.executemany(f"UPDATE {table} SET points = %s WHERE program_id = %s AND event_id = %s",  # noqa: S608
                               [(p, self.program.pk, event_id) for event_id, p in points])

    def _update_members(self, accounts: list[_Account], now: datetime) -> None:
        if not accounts:
            return
        table = connection.ops.quote_name(Member._meta.db_table)
        with connection.cursor() as cursor:
            if self.postgres:
                cursor.execute(
                    f"UPDATE {table} AS m SET balance = v.balance, earned_total = v.earned, purchases = v.purchases, "
                    "tier_id = v.tier_id, tier_since = v.tier_since, tier_grace_until = v.grace, updated_at = %s "
                    "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::integer[], %s::integer[], "
                    "%s::timestamptz[], %s::date[]) AS v(id, balance, earned, purchases, tier_id, tier_since, grace) "
                    "WHERE m.id = v.id",
                    [now, [a.pk for a in accounts], [a.balance for a in accounts], [a.earned for a in accounts],
                     [a.purchases for a in accounts], [a.tier_id for a in accounts],
                     [a.tier_since for a in accounts], [a.grace_until for a in accounts]])
                return
            since = Member._meta.get_field("tier_since")
            grace = Member._meta.get_field("tier_grace_until")
            stamp = Member._meta.get_field("updated_at").get_db_prep_save(now, connection)
            cursor.executemany(
                f"UPDATE {table} SET balance = %s, earned_total = %s, purchases = %s, tier_id = %s, tier_since = %s, "
                "tier_grace_until = %s, updated_at = %s WHERE id = %s",
                [(a.balance, a.earned, a.purchases, a.tier_id, since.get_db_prep_save(a.tier_since, connection),
                  grace.get_db_prep_save(a.grace_until, connection), stamp, a.pk) for a in accounts])
