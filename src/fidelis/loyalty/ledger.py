"""The points ledger: the one place where a member's balance changes.

Every change appends a `PointsEntry` and moves `Member.balance` by the same amount, inside the caller's transaction,
with the member row locked (`lock_member`: SELECT … FOR NO KEY UPDATE on Postgres, which keeps other writers of the
row out but lets rows that refer to the member be written meanwhile — their foreign-key checks would otherwise wait
for it and, in a batch that holds several members, deadlock; SQLite takes its write lock at the
start of each transaction, see the IMMEDIATE transaction mode in settings). Positive entries open a `PointsLot`;
negative ones use the lots up, oldest expiry first, so that expiry takes exactly the points that are still
unspent. Hence, always: balance == sum(entries) == sum(lot.remaining) >= 0.
"""

import calendar
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Protocol

from django.db import connection, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from fidelis.core.bulk import ids_reserve, rows_insert
from fidelis.core.errors import DomainError, NotFound
from fidelis.events.models import Event
from fidelis.events.services import record_events
from fidelis.loyalty.errors import LoyaltyCode
from fidelis.loyalty.models import EntryKind, Member, PointsEntry, PointsLot, Program

POSITIVE = {EntryKind.EARN, EntryKind.REVERSAL, EntryKind.ADJUST}
NEGATIVE = {EntryKind.REDEEM, EntryKind.PAYMENT, EntryKind.EXPIRE, EntryKind.CLAWBACK, EntryKind.ADJUST}
MAX_POINTS = 10**12


class InsufficientPoints(DomainError):
    status = 409


def _locked_members():
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("members are locked inside a transaction")
    return Member.objects.select_for_update(of=("self",), no_key=True).select_related("program", "customer", "tier")


def lock_member(member_id: int) -> Member:
    """Return the member with its row locked until the end of the transaction (call inside atomic())."""
    member = _locked_members().filter(pk=member_id).first()
    if member is None:
        raise NotFound(_("No such member."), code=LoyaltyCode.NOT_FOUND, field="member")
    return member


def lock_member_of(program_id: int, customer_id: int) -> Member | None:
    """Return the program's member for the customer with its row locked, or None (one query, for hot paths)."""
    return _locked_members().filter(program_id=program_id, customer_id=customer_id).first()


def expiry_for(program: Program, earned_at: datetime) -> datetime | None:
    """Return when points earned at `earned_at` expire: the end of the month `expiry_months` later, or None."""
    if not program.expiry_months:
        return None
    local = timezone.localtime(earned_at)
    month_index = local.month - 1 + program.expiry_months
    year, month = local.year + month_index // 12, month_index % 12 + 1
    last_day = calendar.monthrange(year, month)[1]
    end = datetime.combine(local.date().replace(year=year, month=month, day=last_day), time.max)
    return timezone.make_aware(end, timezone.get_current_timezone()) + timedelta(microseconds=1)


def post(member: Member, kind: str, points: int, *, occurred_at: datetime | None = None, rule=None, event=None,
         order_ref: str = "", amount: Decimal | None = None, reason: str = "", actor=None,
         idempotency_key: str | None = None, shortfall: int = 0, lot: PointsLot | None = None,
         timeline: bool = True) -> PointsEntry:
    """Append one entry for a locked member and move the balance; refuse to go below zero.

    `lot` names the one lot an expiry entry closes; other negative entries use lots oldest-expiry first.
    """
    if not isinstance(points, int) or isinstance(points, bool) or points == 0 or abs(points) > MAX_POINTS:
        raise DomainError(_("Points must be a whole number other than zero."),
                          code=LoyaltyCode.INVALID_POINTS, field="points")
    if kind not in EntryKind.values or (points > 0 and kind not in POSITIVE) or (points < 0 and kind not in NEGATIVE):
        raise ValueError(f"a {kind} entry cannot move {points} points")
    if points < 0 and member.balance + points < 0:
        raise InsufficientPoints(
            _("Not enough points: the balance is %(balance)s, %(points)s are needed.")
            % {"balance": member.balance, "points": -points},
            code=LoyaltyCode.INSUFFICIENT_POINTS, field="points", balance=member.balance)
    now = timezone.now()
    occurred_at = occurred_at or now
    new_balance = member.balance + points
    expires_at = expiry_for(member.program, occurred_at) if points > 0 else None
    entry = PointsEntry(member=member, kind=kind, points=points, balance_after=new_balance,
                        occurred_at=occurred_at, created_at=now, rule=rule, event=event, order_ref=order_ref[:64],
                        amount=amount, reason=reason[:200], actor=actor if getattr(actor, "is_authenticated", False)
                        else None, idempotency_key=idempotency_key, shortfall=shortfall, expires_at=expires_at)
    entry.save(force_insert=True)
    if points > 0:
        PointsLot.objects.create(member=member, entry=entry, points=points, remaining=points, expires_at=expires_at)
    elif lot is not None:
        if lot.member_id != member.pk or lot.remaining != -points:
            raise ValueError("an expiry closes one whole lot of this member")
        PointsLot.objects.filter(pk=lot.pk).update(remaining=0)
    else:
        _use_lots(member, -points)
    earned = points if kind == EntryKind.EARN else 0
    Member.objects.filter(pk=member.pk).update(balance=new_balance, earned_total=F("earned_total") + earned)
    member.balance = new_balance
    member.earned_total += earned
    if timeline:
        _timeline(member, entry)
    return entry


def _use_lots(member: Member, points: int) -> None:
    """Take `points` from the member's lots, soonest expiry first (lots that never expire last)."""
    lots = (PointsLot.objects.filter(member=member, remaining__gt=0)
            .order_by(F("expires_at").asc(nulls_last=True), "id").values_list("pk", "remaining"))
    left = points
    changes: list[tuple[int, int]] = []
    for pk, remaining in lots.iterator(chunk_size=200):
        take = min(remaining, left)
        changes.append((pk, remaining - take))
        left -= take
        if not left:
            break
    if left:
        # The lots disagree with the balance: refuse rather than write an inconsistent ledger.
        raise RuntimeError(f"member {member.pk}: lots hold {points - left} points, the balance says more")
    emptied = [pk for pk, rest in changes if rest == 0]
    if emptied:
        PointsLot.objects.filter(pk__in=emptied).update(remaining=0)
    for pk, rest in changes:
        if rest:
            PointsLot.objects.filter(pk=pk).update(remaining=rest)


def _timeline(member: Member, entry: PointsEntry) -> None:
    record_events([timeline_event(member.program, member.customer_id, member.number, entry.pk, entry.kind,
                                  entry.points, entry.balance_after, entry.occurred_at, entry.reason,
                                  entry.order_ref)])


def timeline_event(program: Program, customer_id: int, number: str, entry_id: int, kind: str, points: int,
                   balance: int, occurred_at: datetime, reason: str, order_ref: str):
    """Return the (unsaved) points.changed event of a ledger entry, for the member's timeline (its sentence is
    made when shown: loyalty.event_lines)."""
    return Event(customer_id=customer_id, type="points.changed", occurred_at=occurred_at, channel="system",
                 touchpoint=program.name,
                 payload={"member": number, "kind": kind, "points": points, "balance": balance, "entry": entry_id,
                          "reason": reason, "order": order_ref, "unit": program.currency_name})


class Account(Protocol):
    """A member locked by the caller, as a batch keeps it in memory (`apply.history.Account`)."""

    pk: int
    customer_id: int
    number: str
    balance: int
    earned: int
    purchases: int
    tier_id: int | None
    tier_since: datetime | None
    grace_until: date | None


ENTRY_FIELDS = ("id", "member", "kind", "points", "balance_after", "occurred_at", "created_at", "rule", "event",
                "order_ref", "amount", "reason", "shortfall", "expires_at", "actor", "idempotency_key")
LOT_FIELDS = ("member", "entry", "points", "remaining", "expires_at", "notified")


class Earnings:
    """Many earnings of members the caller has locked, written at once: the bulk form of `post` for EARN entries
    (the loyalty engine's batches, live and back-fill).

    `add` moves the member's balance and earned total in memory and keeps the entry; `write` appends the entries
    and their lots in one statement each and writes the members, so that, as with `post`, balance == sum(entries)
    == sum(lots.remaining). The members' row is written once per batch, with the purchases and tier the engine
    moved alongside (a second UPDATE of the same rows cost a twentieth of the back-fill's time).
    """

    def __init__(self, program: Program, now: datetime) -> None:
        self.program = program
        self.now = now
        self.rows: list[list] = []  # ENTRY_FIELDS without the id until written
        self._expiry: dict[tuple[int, int], datetime | None] = {}

    def add(self, account: Account, points: int, *, occurred_at: datetime, day: date, rule_id: int, event_id: int,
            order_ref: str, amount: Decimal | None, reason: str) -> None:
        """Earn `points` (> 0) at `occurred_at` (on the local `day`) for a locked member."""
        account.balance += points
        account.earned += points
        self.rows.append([account.pk, EntryKind.EARN.value, points, account.balance, occurred_at, self.now, rule_id,
                          event_id, order_ref[:64], amount, reason[:200], 0, self._expires(occurred_at, day), None,
                          None])

    def _expires(self, when: datetime, day: date) -> datetime | None:
        key = (day.year, day.month)  # expiry_for depends only on the local month of the earning
        if key not in self._expiry:
            self._expiry[key] = expiry_for(self.program, when)
        return self._expiry[key]

    def write(self, accounts: list[Account]) -> None:
        """Append the entries and their lots; write the members of `accounts` (those the batch moved)."""
        lots = []
        for entry_id, row in zip(ids_reserve(PointsEntry, len(self.rows)), self.rows, strict=True):
            row.insert(0, entry_id)
            lots.append((row[1], entry_id, row[3], row[3], row[13], False))
        rows_insert(PointsEntry, ENTRY_FIELDS, self.rows)
        rows_insert(PointsLot, LOT_FIELDS, lots)
        _accounts_set(accounts, self.now)

    def timeline(self, accounts: dict[int, Account]) -> list[Event]:
        """Return the points.changed events of the written entries (as `post` records them one by one)."""
        return [timeline_event(self.program, accounts[row[1]].customer_id, accounts[row[1]].number, row[0], row[2],
                               row[3], row[4], row[5], row[11], row[9]) for row in self.rows]


def _accounts_set(accounts: list[Account], now: datetime) -> None:
    """Write the members a batch moved, in one statement: their balance and earned total (with the entries just
    appended), and the purchases and tier the engine worked out alongside."""
    if not accounts:
        return
    table = connection.ops.quote_name(Member._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # one statement, not one per member
            cursor.execute(
                f"UPDATE {table} AS m SET balance = v.balance, earned_total = v.earned, "  # noqa: S608
                "purchases = v.purchases, tier_id = v.tier_id, tier_since = v.tier_since, "
                "tier_grace_until = v.grace, updated_at = %s FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], "
                "%s::integer[], %s::integer[], %s::timestamptz[], %s::date[]) "
                "AS v(id, balance, earned, purchases, tier_id, tier_since, grace) WHERE m.id = v.id",
                [now, [a.pk for a in accounts], [a.balance for a in accounts], [a.earned for a in accounts],
                 [a.purchases for a in accounts], [a.tier_id for a in accounts], [a.tier_since for a in accounts],
                 [a.grace_until for a in accounts]])
            return
        since = Member._meta.get_field("tier_since")
        grace = Member._meta.get_field("tier_grace_until")
        stamp = Member._meta.get_field("updated_at").get_db_prep_save(now, connection)
        cursor.executemany(
            f"UPDATE {table} SET balance = %s, earned_total = %s, purchases = %s, tier_id = %s, "  # noqa: S608
            "tier_since = %s, tier_grace_until = %s, updated_at = %s WHERE id = %s",
            [(a.balance, a.earned, a.purchases, a.tier_id, since.get_db_prep_save(a.tier_since, connection),
              grace.get_db_prep_save(a.grace_until, connection), stamp, a.pk) for a in accounts])


def expire_due(member: Member, now: datetime | None = None) -> int:
    """Expire the locked member's lots whose time has come; return the points expired."""
    now = now or timezone.now()
    expired = 0
    for lot in PointsLot.objects.filter(member=member, remaining__gt=0, expires_at__lte=now).order_by("expires_at",
                                                                                                        "id"):
        post(member, EntryKind.EXPIRE, -lot.remaining, occurred_at=lot.expires_at, lot=lot,
             reason=_("Earned %(date)s") % {"date": timezone.localtime(lot.entry.occurred_at).date().isoformat()})
        expired += lot.remaining
    return expired


def ledger_check(member: Member) -> dict[str, int]:
    """Return the three sums that must agree: balance, entries, lots (for tests and the consistency check)."""
    fresh = Member.objects.filter(pk=member.pk).values_list("balance", flat=True).get()
    entries = PointsEntry.objects.filter(member=member).aggregate(s=Sum("points"))["s"] or 0
    lots = PointsLot.objects.filter(member=member).aggregate(s=Sum("remaining"))["s"] or 0
    return {"balance": fresh, "entries": entries, "lots": lots}


def members_with_due_expiry(now: datetime | None = None) -> list[int]:
    """Return the ids of members who hold lots that have expired."""
    now = now or timezone.now()
    return list(PointsLot.objects.filter(Q(remaining__gt=0) & Q(expires_at__lte=now))
                .values_list("member_id", flat=True).distinct())
