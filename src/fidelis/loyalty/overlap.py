"""Live earn rules that would reward the same events twice: two rules of one trigger, in force at the same time,
whose conditions can hold together and whose effects are of one kind (points and points, the same coupon…).

`rule_activate` refuses to make such a rule live until the user confirms it; the rule preview counts the events of
its window that both would have rewarded. Whether two sets of conditions can hold together is decided kind by kind
(an event has one channel, store, tier and amount, but may carry several categories and tags); a condition the
check does not know is taken as one that may hold.
"""

from datetime import date
from decimal import Decimal

from fidelis.loyalty.apply.evaluator import rule_view
from fidelis.loyalty.engine import Outcome, RuleView
from fidelis.loyalty.models import Program, Rule, RuleStatus

# Conditions on a fact of which an event has exactly one value: two such conditions hold together only when their
# lists share a value.
SINGLE_VALUED = ("channel_in", "store_in", "tier_in")


def effect_kinds(actions: list[dict]) -> set[str]:
    """Return what kinds of reward the actions give: "points", "multiply", "referrer", "coupon:<template>".

    A tier raised or a tag added twice is the same as once: they are not rewards that can be doubled.
    """
    kinds = set()
    for action in actions:
        kind = action.get("kind")
        if kind in ("award_points", "points_per_cny"):
            kinds.add("points")
        elif kind == "multiply":
            kinds.add("multiply")
        elif kind == "award_referrer":
            kinds.add("referrer")
        elif kind == "issue_coupon":
            kinds.add(f"coupon:{action.get('template')}")
    return kinds


def outcome_kinds(outcome: Outcome) -> set[str]:
    """Return the kinds of reward one rule gave one event (`effect_kinds`, as given)."""
    kinds = {f"coupon:{template}" for template in outcome.coupons}
    if outcome.points:
        kinds.add("points")
    if outcome.referrer_points:
        kinds.add("referrer")
    return kinds


def windows_overlap(a: RuleView, b: RuleView) -> bool:
    """Return whether the two rules are in force at some same moment (no start or end: always)."""
    if a.starts_at and b.ends_at and b.ends_at <= a.starts_at:
        return False
    return not (b.starts_at and a.ends_at and a.ends_at <= b.starts_at)


def conditions_can_hold_together(a: list[dict], b: list[dict]) -> bool:
    """Return whether some event can meet both lists of conditions (every condition of `a` and of `b`)."""
    conditions = [*a, *b]
    by_kind: dict[str, list[dict]] = {}
    for condition in conditions:
        by_kind.setdefault(condition.get("kind", ""), []).append(condition)
    for kind in SINGLE_VALUED:
        lists = [set(c.get("values") or []) for c in by_kind.get(kind, [])]
        if lists and not set.intersection(*lists):
            return False
    lows = [Decimal(c["value"]) for c in by_kind.get("amount_min", [])]
    highs = [Decimal(c["value"]) for c in by_kind.get("amount_max", [])]
    if lows and highs and max(lows) > min(highs):
        return False
    numbers = {int(c["n"]) for c in by_kind.get("nth_purchase", [])} | ({1} if "first_purchase" in by_kind else set())
    if len(numbers) > 1:
        return False
    return _days_can_meet(by_kind.get("date_window", []))


def _days_can_meet(windows: list[dict]) -> bool:
    if not windows:
        return True
    starts = [date.fromisoformat(w["start"]) for w in windows if w.get("start")]
    ends = [date.fromisoformat(w["end"]) for w in windows if w.get("end")]
    first, last = max(starts, default=None), min(ends, default=None)
    if first and last and last < first:
        return False
    weekday_sets = [set(w["weekdays"]) for w in windows if w.get("weekdays")]
    weekdays = set.intersection(*weekday_sets) if weekday_sets else set(range(1, 8))
    if not weekdays:
        return False
    if first and last and (last - first).days < 6:
        return any(date.fromordinal(n).isoweekday() in weekdays
                   for n in range(first.toordinal(), last.toordinal() + 1))
    return True


def rules_overlap(a: RuleView, b: RuleView) -> bool:
    """Return whether the two rules can both reward one event with the same kind of reward."""
    if a.trigger != b.trigger or not windows_overlap(a, b):
        return False
    if not effect_kinds(a.actions) & effect_kinds(b.actions):
        return False
    # The rule that runs first and stops the ones below it leaves the other nothing on the events both meet.
    first = min((a, b), key=lambda r: (-r.priority, r.id))
    if first.stop_further:
        return False
    return conditions_can_hold_together(a.conditions, b.conditions)


def rule_overlaps(program: Program, view: RuleView) -> list[Rule]:
    """Return the program's live rules that can reward an event of `view` as `view` does (see `rules_overlap`)."""

    live = Rule.objects.filter(program=program, status=RuleStatus.ACTIVE, trigger=view.trigger).exclude(pk=view.id)
    return [rule for rule in live.order_by("-priority", "id") if rules_overlap(view, rule_view(rule))]
