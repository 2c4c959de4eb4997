"""What the engine reads of an event and how it evaluates many events against the same rules.

The event types the program reacts to, how an order payload is read (`order_amount`, `purchase_ref`), the columns a
bulk reader pulls out of the payloads, and `BulkEvaluator`, which gives `engine.evaluate`'s answers for many events
of one trigger at the cost of a few dictionary look-ups each. The live path, the back-fill and the preview all read
events through here, so that they cannot disagree on what an event says.
"""

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from operator import attrgetter, itemgetter
from typing import Any

from django.db import connection
from django.db.models import BigIntegerField, F, Func, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KT, KeyTransform
from django.utils import timezone
from django.utils.translation import gettext as _

from fidelis.core.errors import DomainError
from fidelis.loyalty.engine import EventFacts, Outcome, RuleView, evaluate
from fidelis.loyalty.errors import LoyaltyCode
from fidelis.loyalty.models import Program, Rule, RuleStatus, Tier

# Events the program writes itself: never fed back into the rules.
OWN_TYPES = frozenset({"points.changed", "points.expiring", "coupon.issued", "coupon.redeemed", "coupon.reversed",
                       "tier.changed"})
# Events every active program takes, with or without rules: they enrol, make purchases, take points back.
BUILT_IN = frozenset({"member.joined", "order.paid", "order.refunded"})
ORDER_PAID = "order.paid"
ORDER_REFUNDED = "order.refunded"
MEMBER_JOINED = "member.joined"
# Events that name their program in the payload ("program": its public id) and count for that program only:
# joining one club is not news to another.
PROGRAM_EVENT_TYPES = frozenset({MEMBER_JOINED})


def order_amount(payload: dict, field: str = "amount") -> Decimal | None:
    """Return the order amount of a payload as Decimal (None when absent); raise on a bad one."""
    raw = payload.get(field)
    if raw in (None, ""):
        return None
    try:
        amount = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise DomainError(_("The amount “%(value)s” is not a number.") % {"value": raw},
                          code=LoyaltyCode.INVALID_AMOUNT, field=f"payload.{field}")
    if not amount.is_finite() or amount < 0 or amount > Decimal("1e11"):
        raise DomainError(_("The amount must be zero or more."),
                          code=LoyaltyCode.INVALID_AMOUNT, field=f"payload.{field}")
    return amount.quantize(Decimal("0.01"))


def order_ref(payload: dict) -> str:
    return order_number(payload.get("order_no"), payload.get("order"))


def order_number(order_no: Any, order: Any) -> str:
    """The order number an order event names (payload "order_no", else "order"), at most 64 characters."""
    return str(order_no or order or "").strip()[:64]


def purchase_ref(order_no: Any, order: Any, public_id: str) -> str:
    """The key a member's purchase is kept under: its order number, else the event's public id."""
    return order_number(order_no, order) or f"event:{public_id}"


def program_events_of_others(program: Program) -> Q:
    """Return the condition of the events that name another program (PROGRAM_EVENT_TYPES): not this one's."""
    return Q(type__in=PROGRAM_EVENT_TYPES, payload__has_key="program") & ~Q(payload__program=program.public_id)


ORDER_TYPES = frozenset({ORDER_PAID, ORDER_REFUNDED})
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CENT = Decimal("0.01")
MAX_CACHED = 200_000  # remembered answers per memory before it is cleared
# Besides the conditions, `evaluate` reads these facts (the actions: points per CNY, the tier multiplier and
# "members only" for points, the referrer bonus); `BulkEvaluator.evaluate` remembers outcomes by them.
ACTION_READS = ("amount", "tier_multiplier", "is_member", "has_referrer")

# What each condition looks at, as positions in the vector `BulkEvaluator.candidates` builds for an event. A
# condition of a kind not named here is never cached: `evaluate` decides it on every event. The amount conditions
# compare the amount with their value and nothing else, so the amount is read as its place among those values.
_AMOUNT, _CHANNEL, _STORE, _CATEGORIES, _TIER, _TAGS, _DAY, _BIRTHDAY_MONTH, _PURCHASE, _REFERRER = range(10)
CONDITION_READS: dict[str, tuple[int, ...]] = {
    "amount_min": (_AMOUNT,),
    "amount_max": (_AMOUNT,),
    "channel_in": (_CHANNEL,),
    "store_in": (_STORE,),
    "category_in": (_CATEGORIES,),
    "tier_in": (_TIER,),
    "tag_in": (_TAGS,),
    "date_window": (_DAY,),
    "birthday_month": (_BIRTHDAY_MONTH,),
    "first_purchase": (_PURCHASE,),
    "nth_purchase": (_PURCHASE,),
    "has_referrer": (_REFERRER,),
}


class BulkEvaluator:
    """Evaluate many events of one trigger against the same rules, with exactly the answers of `evaluate`.

    Whether a rule's conditions hold is asked of `evaluate` itself (on a copy of the rule without actions) and
    remembered by the facts those conditions read: rules with the same kinds of conditions share one memory,
    keyed by e.g. (store, day). An amount is keyed by where it falls among the amounts the conditions name (two
    amounts between the same two values compare alike with all of them). Most events then cost a few dictionary
    look-ups, and `evaluate` runs only on the rules whose conditions hold, in their order. That gives the same
    outcomes as running it on all the rules: a rule whose conditions fail does nothing and changes nothing for the
    rules after it.
    """

    def __init__(self, rules: list[RuleView], tier_names: dict[int, str], trigger: str, tz=None) -> None:
        self.rules = rules
        self.tier_names = tier_names
        self.tz = tz or timezone.get_current_timezone()
        groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
        always: list[int] = []
        unsure: list[int] = []
        for index, rule in enumerate(rules):
            if rule.trigger != trigger:
                continue  # never applies to these events
            if any(c.get("kind") not in CONDITION_READS for c in rule.conditions):
                unsure.append(index)  # `evaluate` decides it on every event, and nothing about it is remembered
            elif rule.conditions:
                groups[tuple(sorted({r for c in rule.conditions for r in CONDITION_READS[c["kind"]]}))].append(index)
            else:
                always.append(index)
        self.always = tuple(sorted(always + unsure))
        self.unsure = frozenset(unsure)
        self.amounts = sorted({Decimal(c["value"]) for r in rules for c in r.conditions
                               if c.get("kind") in ("amount_min", "amount_max")})
        self.bounded = frozenset(i for i, r in enumerate(rules) if r.starts_at or r.ends_at)
        self.action_facts = attrgetter(*ACTION_READS)
        self.outcomes: dict[tuple, list[Outcome]] = {}
        # (key of the facts, bare copies of the group's rules named by their positions, remembered answers)
        self.groups = [(itemgetter(*reads),
                        [RuleView(id=i, trigger=trigger, conditions=rules[i].conditions, actions=[]) for i in members],
                        {}) for reads, members in groups.items()]

    def local_day(self, when: datetime) -> date:
        return when.astimezone(self.tz).date()

    def candidates(self, facts: EventFacts, day: date) -> tuple[int, ...]:
        """Return the positions of the rules whose conditions hold for these facts, in rule order."""
        if not self.groups:
            return self.always
        amount = facts.amount
        if amount is not None:
            amount = (bisect_left(self.amounts, amount), bisect_right(self.amounts, amount))
        vector = (amount, facts.channel, facts.store, facts.categories, facts.tier_id, facts.tags, day,
                  (facts.birthday.month if facts.birthday else None, day.month), facts.purchase_number,
                  facts.has_referrer)
        found = self.always
        several = False
        for key_of, bare, memory in self.groups:
            key = key_of(vector)
            passing = memory.get(key)
            if passing is None:
                if len(memory) >= MAX_CACHED:
                    memory.clear()
                passing = memory[key] = tuple(o.rule_id for o in evaluate(bare, facts, self.tier_names))
            if passing:
                if found:
                    found = found + passing
                    several = True
                else:
                    found = passing
        return tuple(sorted(found)) if several else found

    def evaluate(self, facts: EventFacts, day: date) -> tuple[tuple[int, ...], list[Outcome]]:
        """Return the candidate positions and what `evaluate` says the rules do to the event (do not change the
        outcomes: events alike share them).

        Once the rules whose conditions hold are known, what they do depends only on the facts their actions read
        (ACTION_READS) and, for rules with a start or an end, on the time: outcomes are remembered by those.
        """
        found = self.candidates(facts, day)
        if not found:
            return found, []
        if self.unsure and self.unsure.intersection(found):
            return found, evaluate([self.rules[i] for i in found], facts, self.tier_names)
        key = (found, self.action_facts(facts), facts.occurred_at if self.bounded.intersection(found) else None)
        outcomes = self.outcomes.get(key)
        if outcomes is None:
            if len(self.outcomes) >= MAX_CACHED:
                self.outcomes.clear()
            outcomes = self.outcomes[key] = evaluate([self.rules[i] for i in found], facts, self.tier_names)
        return found, outcomes


def rule_view(rule: Rule) -> RuleView:
    """Return the evaluation view of a saved rule (as live processing builds it)."""
    return RuleView(id=rule.pk, trigger=rule.trigger, conditions=rule.conditions, actions=rule.actions,
                    priority=rule.priority, starts_at=rule.starts_at, ends_at=rule.ends_at,
                    stop_further=rule.stop_further)


def live_rules(program: Program, trigger: str) -> list[Rule]:
    """Return the program's live rules for a trigger in the order live processing runs them."""
    return list(Rule.objects.filter(program=program, status=RuleStatus.ACTIVE, trigger=trigger)
                .order_by("-priority", "id"))


def condition_kinds(rules: list[RuleView]) -> set[str]:
    return {c["kind"] for r in rules for c in r.conditions}


def tier_names_for(program: Program, rules: list[RuleView]) -> dict[int, str]:
    if "tier_in" not in condition_kinds(rules):
        return {}
    return dict(Tier.objects.filter(program=program).values_list("pk", "name"))


def purchase_numbers_wanted(rules: list[RuleView]) -> set[int]:
    """Return the purchase numbers the conditions ask about (any other number reads as "not that one")."""
    wanted: set[int] = set()
    for rule in rules:
        for condition in rule.conditions:
            if condition["kind"] == "first_purchase":
                wanted.add(1)
            elif condition["kind"] == "nth_purchase":
                wanted.add(int(condition["n"]))
    return wanted


def payload_amount(raw: Any) -> Decimal | None:
    """Return an amount pulled out of a payload as text the way `order_amount` reads it (None if unusable)."""
    if raw is None or raw == "":
        return None
    try:
        amount = Decimal(raw if isinstance(raw, str) else str(raw))  # str(): SQLite gives JSON numbers as floats
    except (InvalidOperation, ValueError, TypeError):
        return None
    if not amount.is_finite() or amount < 0:
        return None
    return amount.quantize(CENT)


def payload_categories(categories: Any, lines: Any) -> frozenset[str]:
    """Return the categories of an order payload the way live processing reads them."""
    if not categories:
        categories = [line.get("category") for line in lines or [] if isinstance(line, dict) and line.get("category")]
    return frozenset(str(c) for c in categories) if isinstance(categories, list) else frozenset()


def event_columns(kinds: set[str], trigger: str) -> dict[str, Any]:
    """Return the named expressions a bulk reader needs beyond id, customer, time and channel."""
    columns: dict[str, Any] = {}
    if trigger in ORDER_TYPES:
        columns["amount"] = KT("payload__amount")
    if "store_in" in kinds:
        columns["store"] = KT("payload__store")
        columns["shop"] = KT("payload__shop")
    if "category_in" in kinds:
        columns["categories"] = KeyTransform("categories", "payload")
        columns["lines"] = KeyTransform("lines", "payload")
    return columns


def event_time(value: datetime | int) -> datetime:
    """Return an event's time as `time_column` read it (an integer on PostgreSQL) as a datetime."""
    return EPOCH + timedelta(microseconds=value) if value.__class__ is int else value


def time_column() -> Any:
    """Return how a bulk reader reads `occurred_at`: on PostgreSQL as whole microseconds since 1970 (an integer,
    read in C; Django's time-zone-aware datetime reader costs several microseconds a row), elsewhere as is."""
    if connection.vendor == "postgresql":
        return Func(F("occurred_at"), template="(EXTRACT(EPOCH FROM %(expressions)s) * 1000000)::bigint",
                    output_field=BigIntegerField())
    return F("occurred_at")


def store_of(store: Any, shop: Any, touchpoint: str) -> str:
    """Return the store an event names, the way live processing reads it (payload store, shop, touchpoint)."""
    return str(store or shop or touchpoint or "")


def id_slices(ids: list[int], size: int = 500) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def array_in(rows: QuerySet, field: str, ids: list[int]) -> QuerySet:
    """Return the rows whose `field` is one of `ids`, given as one array parameter (PostgreSQL; any number of ids)."""
    return rows.filter(**{f"{field}__in": RawSQL("SELECT unnest(%s::bigint[])", (ids,))})


def where_in(rows: QuerySet, field: str, ids: list[int]) -> Iterator:
    """Yield the rows whose `field` is one of `ids`: one array parameter on PostgreSQL (the planner probes the
    index for each), slices of an IN list elsewhere (SQLite limits the parameters of a statement)."""
    if not ids:
        return
    if connection.vendor == "postgresql":
        yield from array_in(rows, field, ids)
        return
    for batch in id_slices(ids):
        yield from rows.filter(**{f"{field}__in": batch})
