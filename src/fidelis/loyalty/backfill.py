"""Bulk back-fill of historical orders into the points ledger: what the live rules would have given, set-based.

A shop that starts the program with years of order history (imported `order.paid` events) wants its members to
have the points, purchases and tiers that history earns. `orders_backfill` applies them with the engine live events
go through (`apply.job.Job`, in bulk, member by member, one transaction per chunk of events):
- a `Purchase` per order (the same order number twice earns once, as live), `PointsEntry` rows with the running
  `balance_after` of each member, a `PointsLot` per earning, an `AppliedEvent` per event, and the members' final
  `balance`, `earned_total`, `purchases` and tier;
- the members' rows are locked (in pk order, referrers included) for the chunk, so that live events of the same
  members wait, and an event that has an `AppliedEvent` for the program already is skipped: nothing is applied
  twice. Afterwards, for every member: balance == sum(entries) == sum(lots.remaining).

It replays each member's events in time order as live processing would have applied them: the purchase number
counts on from the member's purchases so far, the tier multiplier is the tier of the moment, and the tier rises
after each purchase when the spend (or points) in the tier's window qualifies, as `tiers.tier_upgrade` does.
What it does not do, on purpose:
- no `points.changed` or `tier.changed` events on the timeline: a million history lines would drown the timeline,
  and the history is visible in the points ledger itself;
- no coupons and no tags: a coupon "for" a purchase of two years ago would be issued today; they are counted in
  the result (`coupons_not_issued`, `tags_not_added`) instead;
- no expiry: points earned long ago get their lots with the expiry date live processing would give them, and the
  nightly `loyalty.expire_points` task expires them as it does any lot;
- events of customers who are not (active) members are left alone, so that a later back-fill can still count them;
- only order.paid: historical refunds go through live processing afterwards (`handlers.apply_event`), which finds
  the back-filled purchases and takes their points back.
Tier upgrades set the member's tier and `tier_since` (the time of the purchase) without a timeline event. Tiers on
points earned count the member's own earnings; points given to a referrer during the same back-fill do not move
the referrer's tier. Capped rules are capped as live (their `points_awarded` moves for a total cap).

On PostgreSQL two chunks are worked on at once (`workers`), each on its own connection: while the database writes
one chunk, Python computes the next (`_Turn`). Such chunks are made of whole groups of members who referred one
another (`referral_groups`), so that they never wait for each other's locks. Most of the time goes to the database: per
order about four foreign-key checks at commit (the member's) and some fifteen index entries over the four tables.
"""

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager

from django.db import connection
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.utils import timezone, translation

from fidelis.events.models import Event
from fidelis.loyalty.apply.evaluator import ORDER_PAID
from fidelis.loyalty.apply.history import Group, Range
from fidelis.loyalty.apply.job import ApplyResult, Job
from fidelis.loyalty.models import AppliedEvent, Member, MemberStatus, Program


def orders_backfill(*, actor, program: Program, events: QuerySet[Event] | None = None, chunk_size: int = 20_000,
                    workers: int | None = None, progress: Callable[[ApplyResult], None] | None = None,
                    trigger: str = ORDER_PAID) -> ApplyResult:
    """Apply historical order.paid events of the program's members to the ledger in bulk; return what it did.

    `events` narrows the events considered (e.g. one import); by default every order.paid event of an active
    member that the program has not applied yet. `trigger` names another event type to apply so (the demo's
    member.joined events of members it enrolled in bulk). Each chunk of about `chunk_size` events (whole members) is one
    transaction, so an interrupted back-fill keeps what it finished and a second run carries on. On PostgreSQL
    two chunks are worked on at once by default (`workers`), each on its own connection, so that the database
    writes one while Python computes the other; their locks are taken in pk order, so they only ever wait for
    each other on a shared referrer.
    """
    started = time.monotonic()
    result = ApplyResult()
    job = Job(program, trigger, actor=actor, events=events)
    if workers is None:
        workers = 2
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        # SQLite writes one transaction at a time; other connections would not see the caller's uncommitted rows.
        workers = 1
    pending = _pending(program, job.events)
    if workers > 1:
        scopes: list[Range | Group] = [Group(ids) for ids in referral_groups(program, pending, chunk_size)]
    else:
        scopes = [Range(*bounds) for bounds in _chunks(pending, chunk_size)]

    def add(done: ApplyResult) -> None:
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
        turn = _Turn()
        language = translation.get_language()

        def run_in_thread(scope: Range | Group) -> ApplyResult:
            try:
                # Worker threads start in the default language and time zone: use the caller's.
                with translation.override(language), timezone.override(job.bulk.tz):
                    return job.run(scope, turn.taken)
            finally:
                connection.close()  # this thread's own connection

        with ThreadPoolExecutor(max_workers=workers) as pool:
            for future in as_completed([pool.submit(run_in_thread, scope) for scope in scopes]):
                add(future.result())
    result.seconds = round(time.monotonic() - started, 3)
    return result


def _pending(program: Program, events: QuerySet[Event]) -> QuerySet[Event]:
    """Return the job's events (of its trigger) of the program's active members that it has not applied yet."""
    members = Member.objects.filter(program=program, status=MemberStatus.ACTIVE).values("customer_id")
    applied = AppliedEvent.objects.filter(program=program, event_id=OuterRef("pk"))
    return events.filter(customer_id__in=members).exclude(Exists(applied))


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


def referral_groups(program: Program, pending: QuerySet[Event], size: int) -> Iterator[frozenset[int]]:
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
