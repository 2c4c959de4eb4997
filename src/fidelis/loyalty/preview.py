"""What an earn rule would have given over past events, computed in bulk without writing anything.

`preview_rule` reads the events of the rule's trigger in a time window in chunks (the payload fields it needs are
pulled out by the database), loads what the rules may look at once per member or customer (tier, birthday, tags,
referrer; purchase numbers from the `Purchase` history), and runs the live engine (`engine.evaluate`) on each
event, so that the preview and live processing cannot disagree on what a condition means. `BulkEvaluator` is the
piece that makes this fast enough for a million events; the bulk back-fill (`backfill.py`) uses it too.

The preview is an estimate of the past, not a replay. Its approximations:
- a customer counts as a member for events from the day they joined, with the tier, tags and referrer they have
  *today* (not the tier they had when the event happened); members who left are not counted;
- the purchase number of an event is its rank in the member's `Purchase` history (by time); events that have no
  `Purchase` row (before joining, or never applied) count as no purchase;
- caps (per member per day, in total) are counted from zero within the window, in event order;
- coupons are counted within the window against the template's per-customer and total limits, ignoring the
  coupons customers already hold; tags and tier changes the rule would make are not estimated;
- the other live rules of the program are taken as they are now: a higher rule that "stops here" still stops this
  one, and "multiply" multiplies what the higher rules give.
"""

import heapq
import time
from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from typing import Any

from django.db.models import F, QuerySet, Window
from django.db.models.fields.json import KT, KeyTransform
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.translation import gettext as _

from fidelis.core.errors import DomainError
from fidelis.events.models import Event
from fidelis.loyalty.engine import POINTS_ACTIONS, EventFacts, Outcome, RuleView, evaluate
from fidelis.loyalty.models import (
    CouponTemplate,
    Member,
    MemberStatus,
    Program,
    Purchase,
    Rule,
    RuleStatus,
    Tier,
)

ORDER_TYPES = frozenset({"order.paid", "order.refunded"})
CENT = Decimal("0.01")
MAX_CACHED = 200_000  # remembered answers per group of conditions before the memory is cleared

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
        for index, rule in enumerate(rules):
            if rule.trigger != trigger:
                continue  # never applies to these events
            reads: set[int] = set()
            for condition in rule.conditions:
                if condition.get("kind") not in CONDITION_READS:
                    reads = {-1}
                    break
                reads.update(CONDITION_READS[condition["kind"]])
            if reads == {-1} or not rule.conditions:
                always.append(index)
            else:
                groups[tuple(sorted(reads))].append(index)
        self.always = tuple(always)
        self.amounts = sorted({Decimal(c["value"]) for r in rules for c in r.conditions
                               if c.get("kind") in ("amount_min", "amount_max")})
        # (key of the facts, bare copies of the group's rules named by their positions, remembered answers)
        self.groups = [(itemgetter(*reads),
                        [RuleView(id=i, trigger=trigger, conditions=rules[i].conditions, actions=[]) for i in members],
                        {}) for reads, members in groups.items()]
        self.reads_tags = any(_TAGS in reads for reads in groups)

    def local_day(self, when: datetime) -> date:
        return when.astimezone(self.tz).date()

    def candidates(self, facts: EventFacts, day: date) -> tuple[int, ...]:
        """Return the positions of the rules whose conditions hold for these facts, in rule order."""
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
        """Return the candidate positions and what `evaluate` says the rules do to the event."""
        found = self.candidates(facts, day)
        if not found:
            return found, []
        return found, evaluate([self.rules[i] for i in found], facts, self.tier_names)


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
    """Return an amount pulled out of a payload as text the way `rules.order_amount` reads it (None if unusable)."""
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


def store_of(store: Any, shop: Any, touchpoint: str) -> str:
    """Return the store an event names, the way live processing reads it (payload store, shop, touchpoint)."""
    return str(store or shop or touchpoint or "")


def _aware(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    return timezone.make_aware(datetime.combine(value, datetime.min.time()))


@dataclass
class PreviewMember:
    number: str
    name: str
    points: int


@dataclass
class RulePreview:
    """What a rule would have given over a window of past events."""

    since: datetime
    until: datetime
    events_scanned: int = 0
    events_matched: int = 0
    members_reached: int = 0
    customers_reached: int = 0
    points: int = 0  # to members, referrers included
    referrer_points: int = 0
    capped_points: int = 0  # what the caps held back
    cost: Decimal = Decimal("0.00")  # points × the program's point value, CNY
    coupons: dict[str, int] = field(default_factory=dict)  # coupon template name → coupons
    coupons_total: int = 0
    top_members: list[PreviewMember] = field(default_factory=list)
    seconds: float = 0.0


def _context(program: Program, view: RuleView) -> tuple[list[RuleView], int]:
    """Return the rules that can change what `view` gives, with `view` in its place, and its position."""
    others = [rule_view(r) for r in live_rules(program, view.trigger) if r.pk != view.id]
    ordered = sorted([*others, view], key=lambda r: (-r.priority, r.id))
    position = next(i for i, r in enumerate(ordered) if r is view)
    multiplies = any(a["kind"] == "multiply" for a in view.actions)
    # A rule below `view` never changes it; one above changes it only by stopping the rules below it, or by
    # giving points that `view` multiplies.
    context = [r for r in ordered[:position]
               if r.stop_further or (multiplies and any(a["kind"] in POINTS_ACTIONS for a in r.actions))]
    return [*context, view], len(context)


def preview_rule(program: Program, rule: Rule | RuleView, since: date | datetime, until: date | datetime, *,
                 top: int = 10, cap_member_day: int | None = None, cap_total: int | None = None,
                 chunk_size: int = 20_000) -> RulePreview:
    """Return what the rule would have given over the events of [since, until), without writing anything.

    A saved rule brings its caps; a `RuleView` (a draft being edited) takes them as arguments. A view with the id
    of a live rule stands in for that rule.
    """
    started = time.monotonic()
    if isinstance(rule, Rule):
        cap_member_day = rule.cap_member_day if cap_member_day is None else cap_member_day
        cap_total = rule.cap_total if cap_total is None else cap_total
        rule = rule_view(rule)
    since, until = _aware(since), _aware(until)
    if until <= since:
        raise DomainError(_("The window ends before it starts."), code="impossible", field="until")
    result = RulePreview(since=since, until=until)
    rules, target = _context(program, rule)
    tier_names = tier_names_for(program, rules)
    bulk = BulkEvaluator(rules, tier_names, rule.trigger)
    kinds = condition_kinds(rules)

    start = max(since, rule.starts_at) if rule.starts_at else since
    end = min(until, rule.ends_at) if rule.ends_at else until
    if end <= start:
        result.seconds = round(time.monotonic() - started, 3)
        return result
    events = Event.objects.filter(type=rule.trigger, occurred_at__gte=start, occurred_at__lt=end)
    facts_of = _FactsLoader(program, events, rules)
    templates = {t.public_id: t for t in CouponTemplate.objects.filter(program=program, is_active=True)}
    columns = event_columns(kinds, rule.trigger)
    names = ["id", "customer_id", "occurred_at", "channel", "touchpoint", *columns]
    rows = events.annotate(**columns).values_list(*names)
    if cap_member_day is not None or cap_total is not None:
        rows = rows.order_by("occurred_at", "id")  # caps depend on the order of events
    else:
        rows = rows.order_by()
    get = {name: i for i, name in enumerate(names)}
    amount_at, store_at, shop_at = get.get("amount"), get.get("store"), get.get("shop")
    categories_at, lines_at = get.get("categories"), get.get("lines")
    is_order = rule.trigger in ORDER_TYPES

    points_by_member: dict[int, int] = defaultdict(int)
    referrer_by_member: dict[int, int] = defaultdict(int)
    day_used: dict[tuple[int, date], int] = defaultdict(int)
    coupons_by_customer: dict[tuple[str, int], int] = defaultdict(int)
    coupons_by_template: dict[str, int] = defaultdict(int)
    members: set[int] = set()
    customers: set[int] = set()
    given_total = 0
    scanned = matched = capped = 0
    for row in rows.iterator(chunk_size=chunk_size):
        scanned += 1
        event_id, customer_id, occurred_at, channel, touchpoint = row[0], row[1], row[2], row[3], row[4]
        member = facts_of.member(customer_id, occurred_at)
        facts = EventFacts(
            type=rule.trigger, occurred_at=occurred_at, channel=channel,
            amount=payload_amount(row[amount_at]) if is_order and amount_at is not None else None,
            store=store_of(row[store_at], row[shop_at], touchpoint) if store_at is not None else "",
            categories=payload_categories(row[categories_at], row[lines_at]) if categories_at is not None
            else frozenset(),
            is_member=member is not None,
            tier_id=member[2] if member else None, tier_rank=member[3] if member else 0,
            tier_multiplier=member[4] if member else Decimal("1"),
            tags=facts_of.tags(customer_id), birthday=facts_of.birthday(customer_id),
            purchase_number=facts_of.purchase_number(event_id) if member else 0,
            has_referrer=member is not None and member[5] is not None)
        day = bulk.local_day(occurred_at)
        found = bulk.candidates(facts, day)
        if target not in found:
            continue
        outcome = next((o for o in evaluate([rules[i] for i in found], facts, tier_names) if o.rule_id == rule.id),
                       None)
        if outcome is None:
            continue
        matched += 1
        customers.add(customer_id)
        points = outcome.points
        if member is not None:
            members.add(member[0])
            if points and cap_member_day is not None:
                key = (member[0], day)
                allowed = max(0, min(points, cap_member_day - day_used[key]))
                day_used[key] += allowed
                capped += points - allowed
                points = allowed
            if points and cap_total is not None:
                allowed = max(0, min(points, cap_total - given_total))
                capped += points - allowed
                points = allowed
            given_total += points
            if points:
                points_by_member[member[0]] += points
            if outcome.referrer_points and member[5] is not None:
                referrer_by_member[member[5]] += outcome.referrer_points
        for template_id in outcome.coupons:
            template = templates.get(template_id)
            if template is None:
                continue
            if template.total_limit is not None and coupons_by_template[template_id] >= template.total_limit:
                continue
            key = (template_id, customer_id)
            if template.per_customer_limit is not None and coupons_by_customer[key] >= template.per_customer_limit:
                continue
            coupons_by_customer[key] += 1
            coupons_by_template[template_id] += 1

    # Referrers get their points only while they are active members (as live processing checks).
    active_referrers = set(Member.objects.filter(pk__in=list(referrer_by_member), status=MemberStatus.ACTIVE)
                           .values_list("pk", flat=True)) if referrer_by_member else set()
    referrer_points = 0
    for member_id, points in referrer_by_member.items():
        if member_id in active_referrers:
            points_by_member[member_id] += points
            referrer_points += points
    result.events_scanned, result.events_matched, result.capped_points = scanned, matched, capped
    result.members_reached, result.customers_reached = len(members), len(customers)
    result.points = sum(points_by_member.values())
    result.referrer_points = referrer_points
    result.cost = (Decimal(result.points) * program.point_value).quantize(CENT)
    result.coupons = {templates[t].name: n for t, n in coupons_by_template.items()}
    result.coupons_total = sum(coupons_by_template.values())
    best = heapq.nlargest(top, points_by_member.items(), key=lambda item: (item[1], -item[0]))
    info = {pk: (number, name) for pk, number, name in Member.objects.filter(pk__in=[pk for pk, _p in best])
            .values_list("pk", "number", "customer__name")}
    result.top_members = [PreviewMember(number=info[pk][0], name=info[pk][1], points=points) for pk, points in best
                          if pk in info]
    result.seconds = round(time.monotonic() - started, 3)
    return result


class _FactsLoader:
    """What the rules may look at, loaded once for every customer with events in the window."""

    def __init__(self, program: Program, events: QuerySet, rules: list[RuleView]) -> None:
        kinds = condition_kinds(rules)
        customer_ids = events.values("customer_id")
        tiers = {pk: (rank, multiplier) for pk, rank, multiplier in
                 Tier.objects.filter(program=program).values_list("pk", "rank", "earn_multiplier")}
        # customer → (member id, joined at, tier id, tier rank, tier multiplier, referrer id)
        self.members: dict[int, tuple] = {}
        for customer_id, pk, joined_at, tier_id, referrer_id in (
                Member.objects.filter(program=program, status=MemberStatus.ACTIVE, customer_id__in=customer_ids)
                .values_list("customer_id", "pk", "joined_at", "tier_id", "referred_by_id").iterator(chunk_size=20_000)):
            rank, multiplier = tiers.get(tier_id, (0, Decimal("1")))
            self.members[customer_id] = (pk, joined_at, tier_id, rank, multiplier, referrer_id)
        self.birthdays: dict[int, date] = {}
        if "birthday_month" in kinds:
            from fidelis.customers.models import Customer

            self.birthdays = dict(Customer.objects.filter(pk__in=customer_ids, birthday__isnull=False)
                                  .values_list("pk", "birthday").iterator(chunk_size=20_000))
        self.customer_tags: dict[int, frozenset[str]] = {}
        if "tag_in" in kinds:
            from fidelis.customers.models import CustomerTag

            tags: dict[int, set[str]] = defaultdict(set)
            for customer_id, name in (CustomerTag.objects.filter(customer_id__in=customer_ids)
                                      .values_list("customer_id", "tag__name").iterator(chunk_size=20_000)):
                tags[customer_id].add(name)
            self.customer_tags = {pk: frozenset(names) for pk, names in tags.items()}
        self.purchase_numbers: dict[int, int] = {}
        wanted = purchase_numbers_wanted(rules)
        if wanted:
            # The rank among all of the member's purchases (not only those in the window): filtering on the
            # window function happens after it is computed.
            ranked = (Purchase.objects.filter(member__program=program, event__isnull=False)
                      .annotate(n=Window(RowNumber(), partition_by=[F("member_id")],
                                         order_by=[F("occurred_at").asc(), F("id").asc()]))
                      .filter(n__in=sorted(wanted)).values_list("event_id", "n"))
            self.purchase_numbers = dict(ranked.iterator(chunk_size=20_000))

    def member(self, customer_id: int, when: datetime) -> tuple | None:
        member = self.members.get(customer_id)
        return member if member is not None and member[1] <= when else None

    def birthday(self, customer_id: int) -> date | None:
        return self.birthdays.get(customer_id)

    def tags(self, customer_id: int) -> frozenset[str]:
        return self.customer_tags.get(customer_id, frozenset())

    def purchase_number(self, event_id: int) -> int:
        return self.purchase_numbers.get(event_id, 0)

