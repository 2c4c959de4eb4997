"""What an earn rule would have given over past events, computed in bulk without writing anything.

`preview_rule` reads the events of the rule's trigger in a time window in chunks (the payload fields it needs are
pulled out by the database), loads what the rules may look at once per member or customer (tier, birthday, tags,
referrer; purchase numbers from the `Purchase` history), and runs the live engine (`engine.evaluate`) on each
event, so that the preview and live processing cannot disagree on what a condition means. `apply.evaluator.BulkEvaluator`
makes this fast enough for a million events, as it does for live processing and the back-fill.

The preview is an estimate of the past, not a replay. Its approximations:
- a customer counts as a member for events from the day they joined, with the tier, tags and referrer they have
  *today* (not the tier they had when the event happened); members who left are not counted;
- the purchase number of an event is its rank in the member's `Purchase` history (by time); events that have no
  `Purchase` row (before joining, or never applied) count as no purchase;
- caps (per member per day, in total) are counted from zero within the window, in event order;
- coupons are counted within the window against the template's per-customer and total limits, ignoring the
  coupons customers already hold; tags and tier changes the rule would make are not estimated;
- the other live rules of the program are taken as they are now: a higher rule that "stops here" still stops this
  one, and "multiply" multiplies what the higher rules give;
- the live rules that overlap this one (`overlap.rule_overlaps`: the same trigger and kind of reward, conditions
  that can hold together) are run on the events this rule rewards, and each event that one of them rewards the
  same way is counted as rewarded twice (their caps left aside, and the rules between the two taken to let it).

To read fewer events, the database first leaves out events for which the previewed rule's own conditions cannot
hold (date window, channel, store, tier, tags, birthday month, referrer: `_narrow`). This only skips events; the
engine still decides every event that is read, and a test checks that the narrowed preview equals the full one.
"""

import heapq
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import F, Q, QuerySet, TextField, Window
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, ExtractIsoWeekDay, ExtractMonth, RowNumber
from django.utils import timezone
from django.utils.translation import gettext as _

from fidelis.core.errors import DomainError
from fidelis.customers.models import Customer, CustomerTag
from fidelis.events.models import Event
from fidelis.loyalty.apply.evaluator import (
    CENT,
    EPOCH,
    ORDER_TYPES,
    PROGRAM_EVENT_TYPES,
    BulkEvaluator,
    condition_kinds,
    event_columns,
    event_time,
    id_slices,
    live_rules,
    payload_amount,
    payload_categories,
    program_events_of_others,
    purchase_numbers_wanted,
    rule_view,
    store_of,
    tier_names_for,
    time_column,
    where_in,
)
from fidelis.loyalty.engine import POINTS_ACTIONS, EventFacts, Outcome, RuleView, evaluate
from fidelis.loyalty.errors import LoyaltyCode
from fidelis.loyalty.models import (
    CouponKind,
    CouponTemplate,
    Member,
    MemberStatus,
    Program,
    Purchase,
    Rule,
    Tier,
)
from fidelis.loyalty.overlap import outcome_kinds, rule_overlaps
from fidelis.loyalty.selectors import coupon_use_rate


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
class PreviewOverlap:
    """A live rule that rewards some events of the previewed rule the same way, and how many in the window."""

    public_id: str
    name: str
    events: int = 0


@dataclass
class RulePreview:
    """What a rule would have given over a window of past events."""

    since: datetime
    until: datetime
    events_scanned: int = 0  # events of the rule's trigger in the window
    events_read: int = 0  # of those, the ones read (the others cannot match: see `_narrow`)
    events_matched: int = 0
    members_reached: int = 0
    customers_reached: int = 0
    points: int = 0  # to members, referrers included
    referrer_points: int = 0
    capped_points: int = 0  # what the caps held back
    cost: Decimal = Decimal("0.00")  # points × the program's point value, CNY
    coupons: dict[str, int] = field(default_factory=dict)  # coupon template name → coupons
    coupons_total: int = 0
    coupon_customers: int = 0  # customers who would get a coupon
    coupon_face_value: Decimal = Decimal("0.00")  # CNY off, of the coupons with an amount (not gifts, not % uncapped)
    coupon_use_rate: Decimal | None = None  # the share of the program's coupons used so far
    coupon_expected_cost: Decimal | None = None  # face value × use rate, CNY
    top_members: list[PreviewMember] = field(default_factory=list)
    overlaps: list[PreviewOverlap] = field(default_factory=list)  # live rules rewarding the same events
    double_rewarded: int = 0  # events that this rule and one of `overlaps` would both reward
    seconds: float = 0.0


def coupon_face_value(template: CouponTemplate) -> Decimal | None:
    """Return the most a coupon of the template takes off an order, in CNY (None: a gift, or a percentage with no
    maximum)."""
    if template.kind == CouponKind.AMOUNT_OFF:
        return template.value
    if template.kind == CouponKind.PERCENT_OFF:
        return template.max_discount
    return None


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
                 chunk_size: int = 20_000, narrow: bool = True) -> RulePreview:
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
        raise DomainError(_("The window ends before it starts."), code=LoyaltyCode.IMPOSSIBLE, field="until")
    result = RulePreview(since=since, until=until)
    rules, target = _context(program, rule)
    overlapping = rule_overlaps(program, rule)
    result.overlaps = [PreviewOverlap(public_id=r.public_id, name=r.name) for r in overlapping]
    if overlapping:
        # Run them too, in their places: a rule below never changes what the rules above it give.
        rules = sorted([*rules, *(rule_view(r) for r in overlapping)], key=lambda r: (-r.priority, r.id))
        target = next(i for i, r in enumerate(rules) if r is rule)
    double_by_rule: dict[int, int] = {r.pk: 0 for r in overlapping}
    tier_names = tier_names_for(program, rules)
    bulk = BulkEvaluator(rules, tier_names, rule.trigger)
    kinds = condition_kinds(rules)

    start = max(since, rule.starts_at) if rule.starts_at else since
    end = min(until, rule.ends_at) if rule.ends_at else until
    if end <= start:
        result.seconds = round(time.monotonic() - started, 3)
        return result
    window = Event.objects.filter(type=rule.trigger, occurred_at__gte=start, occurred_at__lt=end)
    if rule.trigger in PROGRAM_EVENT_TYPES:
        window = window.exclude(program_events_of_others(program))
    result.events_scanned = window.count()
    events = _narrow(window, rule, program, tier_names, bulk.tz) if narrow else window
    facts_of = _FactsLoader(program, rules)
    templates = {t.public_id: t for t in CouponTemplate.objects.filter(program=program, is_active=True)}
    extra = event_columns(kinds, rule.trigger)
    columns = {"occurred_us": time_column(), **extra}
    names = ["id", "customer_id", "occurred_us", "channel", "touchpoint", *extra]
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
    read = matched = capped = 0
    one, no_tags = Decimal("1"), frozenset()
    customer_tags, birthdays, purchase_numbers = facts_of.customer_tags, facts_of.birthdays, facts_of.purchase_numbers
    for row in _loaded(rows.iterator(chunk_size=chunk_size), chunk_size, facts_of):
        read += 1
        event_id, customer_id, occurred_at, channel, touchpoint = row[0], row[1], event_time(row[2]), row[3], row[4]
        member = facts_of.member(customer_id, occurred_at)
        facts = EventFacts(
            type=rule.trigger, occurred_at=occurred_at, channel=channel,
            amount=payload_amount(row[amount_at]) if is_order and amount_at is not None else None,
            store=store_of(row[store_at], row[shop_at], touchpoint) if store_at is not None else "",
            categories=payload_categories(row[categories_at], row[lines_at]) if categories_at is not None
            else no_tags,
            is_member=member is not None,
            tier_id=member[2] if member else None, tier_rank=member[3] if member else 0,
            tier_multiplier=member[4] if member else one,
            tags=customer_tags.get(customer_id, no_tags) if customer_tags else no_tags,
            birthday=birthdays.get(customer_id) if birthdays else None,
            purchase_number=purchase_numbers.get(event_id, 0) if member and purchase_numbers else 0,
            has_referrer=member is not None and member[5] is not None)
        day = bulk.local_day(occurred_at)
        found = bulk.candidates(facts, day)
        if target not in found:
            continue
        outcomes = bulk.evaluate(facts, day)[1]
        outcome = next((o for o in outcomes if o.rule_id == rule.id), None)
        if outcome is None:
            continue
        matched += 1
        if double_by_rule:
            doubled = _doubled(outcome, outcomes, double_by_rule)
            result.double_rewarded += doubled
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
    result.events_read, result.events_matched, result.capped_points = read, matched, capped
    result.members_reached, result.customers_reached = len(members), len(customers)
    result.points = sum(points_by_member.values())
    result.referrer_points = referrer_points
    result.cost = (Decimal(result.points) * program.point_value).quantize(CENT)
    result.coupons = {templates[t].name: n for t, n in coupons_by_template.items()}
    result.coupons_total = sum(coupons_by_template.values())
    result.coupon_customers = len({customer_id for (_t, customer_id), n in coupons_by_customer.items() if n})
    result.coupon_face_value = sum((face * n for t, n in coupons_by_template.items()
                                    if (face := coupon_face_value(templates[t])) is not None), Decimal("0.00"))
    result.coupon_use_rate = coupon_use_rate(program)
    if result.coupon_use_rate is not None:
        result.coupon_expected_cost = (result.coupon_face_value * result.coupon_use_rate).quantize(CENT)
    best = heapq.nlargest(top, points_by_member.items(), key=lambda item: (item[1], -item[0]))
    info = {pk: (number, name) for pk, number, name in Member.objects.filter(pk__in=[pk for pk, _p in best])
            .values_list("pk", "number", "customer__name")}
    result.top_members = [PreviewMember(number=info[pk][0], name=info[pk][1], points=points) for pk, points in best
                          if pk in info]
    for overlap, source in zip(result.overlaps, overlapping, strict=True):
        overlap.events = double_by_rule[source.pk]
    result.seconds = round(time.monotonic() - started, 3)
    return result


def _doubled(outcome: Outcome, outcomes: list[Outcome], counts: dict[int, int]) -> int:
    """Count the event for each overlapping rule that rewards it as `outcome` does; return 1 if one did, else 0."""
    given = outcome_kinds(outcome)
    doubled = 0
    for other in outcomes:
        if other.rule_id in counts and other is not outcome and given & outcome_kinds(other):
            counts[other.rule_id] += 1
            doubled = 1
    return doubled


def _loaded(rows: Iterator[tuple], size: int, facts_of: "_FactsLoader") -> Iterator[tuple]:
    """Yield the rows, loading the facts of each chunk's customers before its rows."""
    chunk: list[tuple] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            facts_of.load({r[1] for r in chunk})
            yield from chunk
            chunk = []
    if chunk:
        facts_of.load({r[1] for r in chunk})
        yield from chunk


def _narrow(events: QuerySet, view: RuleView, program: Program, tier_names: dict[int, str], tz) -> QuerySet:
    """Leave out the events for which the rule's own conditions cannot hold; keep every one for which they may.

    What a condition needs is asked of `evaluate` where it can be (which tiers pass `tier_in`); the others are
    plain equalities on the event (channel, store as text, tag names, the local day and month).
    """
    members = Member.objects.filter(program=program, status=MemberStatus.ACTIVE)
    for index, condition in enumerate(view.conditions):
        kind = condition["kind"]
        if kind == "channel_in":
            events = events.filter(channel__in=condition["values"])
        elif kind == "store_in":
            values = condition["values"]
            events = events.alias(**{f"_store{index}": Cast(KT("payload__store"), TextField()),
                                     f"_shop{index}": Cast(KT("payload__shop"), TextField())}).filter(
                Q(**{f"_store{index}__in": values}) | Q(**{f"_shop{index}__in": values}) | Q(touchpoint__in=values))
        elif kind == "date_window":
            if condition.get("start"):
                events = events.filter(occurred_at__gte=_local_midnight(date.fromisoformat(condition["start"]), tz))
            if condition.get("end"):
                end = date.fromisoformat(condition["end"]) + timedelta(days=1)
                events = events.filter(occurred_at__lt=_local_midnight(end, tz))
            if condition.get("weekdays"):
                events = events.alias(**{f"_weekday{index}": ExtractIsoWeekDay("occurred_at", tzinfo=tz)}).filter(
                    **{f"_weekday{index}__in": condition["weekdays"]})
        elif kind == "tier_in":
            probe = [RuleView(id=1, trigger=view.trigger, conditions=[condition], actions=[])]
            passing = [pk for pk in tier_names if evaluate(probe, EventFacts(
                type=view.trigger, occurred_at=EPOCH, is_member=True, tier_id=pk), tier_names)]
            events = events.filter(customer_id__in=members.filter(tier_id__in=passing).values("customer_id"))
        elif kind == "has_referrer":
            events = events.filter(customer_id__in=members.filter(referred_by__isnull=False).values("customer_id"))
        elif kind == "tag_in":

            events = events.filter(customer_id__in=CustomerTag.objects.filter(
                tag__name__in=condition["values"]).values("customer_id"))
        elif kind == "birthday_month":
            events = events.filter(customer__birthday__month=ExtractMonth("occurred_at", tzinfo=tz))
    return events


def _local_midnight(day: date, tz) -> datetime:
    return datetime.combine(day, datetime.min.time()).replace(tzinfo=tz)


class _FactsLoader:
    """What the rules may look at, loaded chunk by chunk, once for every customer seen."""

    def __init__(self, program: Program, rules: list[RuleView]) -> None:
        self.program = program
        self.kinds = condition_kinds(rules)
        self.wanted = purchase_numbers_wanted(rules)
        self.tiers = {pk: (rank, multiplier) for pk, rank, multiplier in
                      Tier.objects.filter(program=program).values_list("pk", "rank", "earn_multiplier")}
        self.seen: set[int] = set()
        # customer → (member id, joined at, tier id, tier rank, tier multiplier, referrer id)
        self.members: dict[int, tuple] = {}
        self.birthdays: dict[int, date] = {}
        self.customer_tags: dict[int, frozenset[str]] = {}
        self.purchase_numbers: dict[int, int] = {}  # event → the member's purchase number, when a rule asks

    def load(self, customer_ids: set[int]) -> None:
        """Load the facts of the customers not seen yet."""
        new = sorted(customer_ids - self.seen)
        if not new:
            return
        self.seen.update(new)
        member_ids = []
        for customer_id, pk, joined_at, tier_id, referrer_id in where_in(
                Member.objects.filter(program=self.program, status=MemberStatus.ACTIVE).values_list(
                    "customer_id", "pk", "joined_at", "tier_id", "referred_by_id"), "customer_id", new):
            rank, multiplier = self.tiers.get(tier_id, (0, Decimal("1")))
            self.members[customer_id] = (pk, joined_at, tier_id, rank, multiplier, referrer_id)
            member_ids.append(pk)
        if "birthday_month" in self.kinds:

            self.birthdays.update(where_in(Customer.objects.filter(birthday__isnull=False).values_list(
                "pk", "birthday"), "pk", new))
        if "tag_in" in self.kinds:

            tags: dict[int, set[str]] = defaultdict(set)
            for customer_id, name in where_in(CustomerTag.objects.values_list("customer_id", "tag__name"),
                                              "customer_id", new):
                tags[customer_id].add(name)
            self.customer_tags.update((pk, frozenset(names)) for pk, names in tags.items())
        if self.wanted and member_ids:
            # The rank among all of the member's purchases (not only those in the window): the filter on the
            # members comes before the window function, the one on the rank after it.
            for batch in id_slices(sorted(member_ids)):
                ranked = (Purchase.objects.filter(member_id__in=batch, event__isnull=False)
                          .annotate(n=Window(RowNumber(), partition_by=[F("member_id")],
                                             order_by=[F("occurred_at").asc(), F("id").asc()]))
                          .filter(n__in=sorted(self.wanted)).values_list("event_id", "n"))
                self.purchase_numbers.update(ranked)

    def member(self, customer_id: int, when: datetime) -> tuple | None:
        member = self.members.get(customer_id)
        return member if member is not None and member[1] <= when else None

