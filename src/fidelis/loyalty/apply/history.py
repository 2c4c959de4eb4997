"""What the engine reads under its locks: the members of a batch and their history.

A batch (`Scope`: a range of customers or a group of them for the back-fill, some events for live processing) locks
its members and their referrers, then reads what the rules and tiers need of their past: order numbers already
purchased, the values in each tier's window, what capped rules gave them today, birthdays and tags.
"""

from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import F, QuerySet
from django.db.models.expressions import RawSQL

from fidelis.customers.models import Customer, CustomerTag
from fidelis.loyalty.apply.evaluator import array_in, where_in
from fidelis.loyalty.models import EntryKind, Member, MemberStatus, PointsEntry, Program, Purchase, Tier


@dataclass
class Window:
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


class Account:
    """A locked member as a batch moves it (`apply.job`): balance, purchases, tier, and its tier windows."""

    __slots__ = ("pk", "customer_id", "number", "balance", "earned", "purchases", "tier_id", "tier_since",
                 "grace_until", "referrer_id", "active", "refs", "history", "windows", "changed")

    def __init__(self, row: tuple) -> None:
        (self.pk, self.customer_id, self.number, self.balance, self.earned, self.purchases, self.tier_id,
         self.tier_since, self.grace_until, self.referrer_id, status) = row
        self.active = status == MemberStatus.ACTIVE
        self.refs: set[str] = set()
        self.history: dict[tuple[str, int], deque] = {}  # values from before the batch, oldest first
        self.windows: dict[tuple[str, int], Window] = {}
        self.changed = False

    def advance(self, when: datetime) -> None:
        """Move the values from before the batch up to `when` into the tier windows."""
        for key, history in self.history.items():
            window = self.windows[key]
            while history and history[0][0] <= when:
                window.add(*history.popleft())



@dataclass(frozen=True)
class Range:
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
class Group:
    """Some customers and their pending events (a back-fill chunk of `backfill.referral_groups`; PostgreSQL)."""

    customer_ids: frozenset[int]

    def customers(self, rows: QuerySet, field: str) -> QuerySet:
        return array_in(rows, field, sorted(self.customer_ids))  # a group of referrals has no bound

    def events(self, rows: QuerySet) -> QuerySet:
        return self.customers(rows, "customer_id")

    def holds(self, customer_id: int) -> bool:
        return customer_id in self.customer_ids


@dataclass(frozen=True)
class Batch:
    """Some events, and their customers (a batch of live events)."""

    event_ids: tuple[int, ...]
    customer_ids: frozenset[int]

    def customers(self, rows: QuerySet, field: str) -> QuerySet:
        return rows.filter(**{f"{field}__in": sorted(self.customer_ids)})

    def events(self, rows: QuerySet) -> QuerySet:
        return rows.filter(pk__in=self.event_ids)

    def holds(self, customer_id: int) -> bool:
        return customer_id in self.customer_ids

Scope = Range | Group | Batch


class Reader:
    """The reads of one program's batches, under the locks of the batch's members."""

    def __init__(self, program: Program, *, tier_keys: list[tuple[str, int]], kinds: set[str],
                 day_capped: list[int], local_day: Callable[[datetime], date]) -> None:
        self.program = program
        self.tier_keys = tier_keys
        self.kinds = kinds
        self.day_capped = day_capped
        self.local_day = local_day

    def members(self, scope: Scope) -> QuerySet[Member]:
        return scope.customers(Member.objects.filter(program=self.program), "customer_id")

    def lock(self, scope: Scope) -> dict[int, Account]:
        """Lock the chunk's members and their referrers, in pk order (the order every ledger lock takes)."""
        ids: set[int] = set()
        for pk, referrer_id in self.members(scope).values_list("pk", "referred_by_id"):
            ids.add(pk)
            if referrer_id is not None:
                ids.add(referrer_id)
        locked = where_in(Member.objects.select_for_update(no_key=True).order_by("pk").values_list(
            "pk", "customer_id", "number", "balance", "earned_total", "purchases", "tier_id", "tier_since",
            "tier_grace_until", "referred_by_id", "status"), "pk", sorted(ids))
        return {row[0]: Account(row) for row in locked}

    def load(self, by_customer: dict[int, Account], member_ids: list[int]) -> None:
        """Load each member's order numbers, and the purchases (and earnings) that count for tiers."""
        accounts = {a.pk: a for a in by_customer.values()}
        spend_keys = [k for k in self.tier_keys if k[0] == Tier.Basis.SPEND]
        points_keys = [k for k in self.tier_keys if k[0] == Tier.Basis.POINTS]
        spend: dict[int, list] = defaultdict(list)
        for member_id, ref, occurred_at, amount, refunded in of_members(Purchase.objects.values_list(
                "member_id", "order_ref", "occurred_at", "amount", "refunded"), "member_id", member_ids):
            accounts[member_id].refs.add(ref)
            if spend_keys:
                spend[member_id].append((occurred_at, amount - refunded))
        earned: dict[int, list] = defaultdict(list)
        if points_keys:
            for member_id, occurred_at, points in of_members(PointsEntry.objects.filter(kind=EntryKind.EARN).values_list(
                    "member_id", "occurred_at", "points"), "member_id", member_ids):
                earned[member_id].append((occurred_at, Decimal(points)))
        for member_id, account in accounts.items():
            for key in self.tier_keys:
                values = spend.get(member_id, ()) if key[0] == Tier.Basis.SPEND else earned.get(member_id, ())
                if values:
                    account.history[key] = deque(sorted(values, key=lambda item: item[0]))
                account.windows[key] = Window(days=key[1])

    def load_live(self, by_customer: dict[int, Account], refs: set[tuple[int, str]], times: list[datetime]) -> None:
        """As `load`, for a batch of live events, reading only what the batch can need: the members' purchases
        among the batch's (member id, order number) pairs `refs`, and per tier window the values that can count
        for events at `times` (the times of the batch's events of members; not empty).

        With the batch's events between `lo` and `hi`, a value of a window of `days` counts for an event at `when`
        if it was at or before `when` and after `when - days`. So values up to `lo - days` never count and are
        not read; values after `hi - days` and up to `lo` count for every event of the batch and are kept as one
        sum per member (at the time of the earliest of them); only the others (falling out of the window during
        the batch, or later than its first event) are kept one by one. A live batch spans seconds: its members'
        windows hold about one item each.
        """
        accounts = {a.pk: a for a in by_customer.values()}
        for account in accounts.values():
            account.windows = {key: Window(days=key[1]) for key in self.tier_keys}
        if refs:
            for member_id, ref in _purchases_known(sorted(refs)):
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

    def day_used(self, member_ids: list[int], since: datetime | None = None) -> dict[tuple, int]:
        """Return the points capped rules already gave, per (rule, member, local day); with `since`, only of the
        local days from that time on."""
        used: dict[tuple, int] = defaultdict(int)
        if not self.day_capped:
            return used
        entries = PointsEntry.objects.filter(rule_id__in=self.day_capped)
        if since is not None:  # a local day starts at most 26 hours before any time in it (time-zone changes)
            entries = entries.filter(occurred_at__gt=since - timedelta(hours=26))
        for rule_id, member_id, occurred_at, points in of_members(entries.values_list(
                "rule_id", "member_id", "occurred_at", "points"), "member_id", member_ids):
            used[(rule_id, member_id, self.local_day(occurred_at))] += points
        return used

    def birthdays(self, scope: Scope) -> dict[int, Any]:
        if "birthday_month" not in self.kinds:
            return {}
        return dict(scope.customers(Customer.objects.filter(birthday__isnull=False), "pk")
                    .values_list("pk", "birthday"))

    def tags(self, scope: Scope) -> dict[int, frozenset[str]]:
        if "tag_in" not in self.kinds:
            return {}
        names: dict[int, set[str]] = defaultdict(set)
        for customer_id, name in scope.customers(CustomerTag.objects.all(), "customer_id").values_list(
                "customer_id", "tag__name"):
            names[customer_id].add(name)
        return {pk: frozenset(found) for pk, found in names.items()}


def of_members(rows: QuerySet, field: str, member_ids: list[int]) -> Iterator[tuple]:
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
    yield from of_members(rows.filter(occurred_at__gt=since).values_list("member_id", "occurred_at", "value"),
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
