"""Earn rules without code: a trigger (event type), conditions that must all hold, actions to take.

A rule is data (`Rule.conditions`, `Rule.actions`: lists of {"kind": …, parameters}), checked by `validate_rule`
before it is saved and evaluated here against an `EventFacts`: what the event and the member looked like when
it happened. `evaluate` is pure (no writes) so that the same code serves live events and `preview_rule`.

Points actions:
- award_points {points}: a fixed number of points;
- points_per_cny {rate, rounding}: `rate` points per CNY of the order amount, rounded as chosen;
- multiply {factor}: (factor − 1) × the points given for this event by rules of higher priority
  ("birthday month → double points" sits below "1 point per CNY").
The member's tier multiplier then applies to the points of every points action.
Other actions: issue_coupon {template}, set_tier {tier} (never downwards), add_tag {tag},
award_referrer {points} (to the member who referred this one).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fidelis.core.errors import DomainError
from fidelis.loyalty.errors import LoyaltyCode

ROUNDING = {"floor": ROUND_FLOOR, "half_up": ROUND_HALF_UP, "ceil": ROUND_CEILING}


@dataclass
class EventFacts:
    """What a rule may look at: the event, and the member as they were when it happened."""

    type: str
    occurred_at: datetime
    channel: str = ""
    amount: Decimal | None = None
    store: str = ""
    categories: frozenset[str] = frozenset()
    is_member: bool = False
    tier_id: int | None = None
    tier_rank: int = 0
    tier_multiplier: Decimal = Decimal("1")
    tags: frozenset[str] = frozenset()
    birthday: date | None = None
    purchase_number: int = 0  # 1 for the member's first purchase, 0 when the event is not a purchase
    has_referrer: bool = False


@dataclass
class Outcome:
    """What one rule does to one event."""

    rule_id: int
    points: int = 0
    coupons: list[str] = field(default_factory=list)  # coupon template public ids
    tier: str | None = None  # tier id
    tags: list[str] = field(default_factory=list)
    referrer_points: int = 0


# --- conditions -------------------------------------------------------------------------------------------------

def _decimal(value: Any, name: str) -> Decimal:
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        raise DomainError(_("“%(value)s” is not a number.") % {"value": value},
                          code=LoyaltyCode.NOT_A_NUMBER, field=name)
    if not result.is_finite():
        raise DomainError(_("“%(value)s” is not a number.") % {"value": value},
                          code=LoyaltyCode.NOT_A_NUMBER, field=name)
    return result


def _strings(value: Any, name: str) -> list[str]:
    if isinstance(value, str):
        value = value.replace("，", ",").split(",")
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise DomainError(_("Give a list of values."), code=LoyaltyCode.NOT_A_LIST, field=name)
    items = [str(v).strip() for v in value if str(v).strip()]
    if not items:
        raise DomainError(_("Give at least one value."), code=LoyaltyCode.REQUIRED, field=name)
    return items


def _date(value: Any, name: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise DomainError(_("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": value},
                          code=LoyaltyCode.INVALID_DATE, field=name)


def _positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise DomainError(_("“%(value)s” is not a whole number.") % {"value": value},
                          code=LoyaltyCode.NOT_A_NUMBER, field=name)
    if number < minimum:
        raise DomainError(_("Must be at least %(minimum)s.") % {"minimum": minimum},
                          code=LoyaltyCode.OUT_OF_RANGE, field=name)
    return number


@dataclass(frozen=True)
class Kind:
    """One kind of condition or action: its label, its parameters, how to clean them."""

    label: Any
    params: tuple[str, ...]
    clean: Callable[[dict, str], dict]


def _clean_amount(p: dict, f: str) -> dict:
    value = _decimal(p.get("value"), f + ".value")
    if value < 0:
        raise DomainError(_("An amount cannot be negative."), code=LoyaltyCode.INVALID_AMOUNT, field=f + ".value")
    return {"value": str(value)}


def _clean_values(p: dict, f: str) -> dict:
    return {"values": _strings(p.get("values"), f + ".values")}


def _clean_window(p: dict, f: str) -> dict:
    out: dict[str, Any] = {}
    if p.get("start"):
        out["start"] = _date(p["start"], f + ".start").isoformat()
    if p.get("end"):
        out["end"] = _date(p["end"], f + ".end").isoformat()
    weekdays = p.get("weekdays") or []
    if isinstance(weekdays, str):
        weekdays = [w for w in weekdays.split(",") if w.strip()]
    try:
        days = sorted({int(w) for w in weekdays})
    except ValueError:
        raise DomainError(_("Weekdays are numbers from 1 (Monday) to 7 (Sunday)."),
                          code=LoyaltyCode.INVALID_WEEKDAY, field=f + ".weekdays")
    if any(d < 1 or d > 7 for d in days):
        raise DomainError(_("Weekdays are numbers from 1 (Monday) to 7 (Sunday)."),
                          code=LoyaltyCode.INVALID_WEEKDAY, field=f + ".weekdays")
    if days:
        out["weekdays"] = days
    if not out:
        raise DomainError(_("Give a start date, an end date or weekdays."), code=LoyaltyCode.REQUIRED, field=f)
    if "start" in out and "end" in out and out["end"] < out["start"]:
        raise DomainError(_("The window ends before it starts."), code=LoyaltyCode.IMPOSSIBLE, field=f + ".end")
    return out


def _clean_none(p: dict, f: str) -> dict:
    return {}


def _clean_nth(p: dict, f: str) -> dict:
    return {"n": _positive_int(p.get("n"), f + ".n")}


CONDITIONS: dict[str, Kind] = {
    "amount_min": Kind(gettext_lazy("Amount at least (CNY)"), ("value",), _clean_amount),
    "amount_max": Kind(gettext_lazy("Amount at most (CNY)"), ("value",), _clean_amount),
    "channel_in": Kind(gettext_lazy("Channel is one of"), ("values",), _clean_values),
    "store_in": Kind(gettext_lazy("Store is one of"), ("values",), _clean_values),
    "category_in": Kind(gettext_lazy("Bought a product of category"), ("values",), _clean_values),
    "tier_in": Kind(gettext_lazy("Member tier is one of"), ("values",), _clean_values),
    "tag_in": Kind(gettext_lazy("Customer has one of the tags"), ("values",), _clean_values),
    "date_window": Kind(gettext_lazy("Date window (e.g. double-points days)"), ("start", "end", "weekdays"),
                        _clean_window),
    "birthday_month": Kind(gettext_lazy("In the customer's birthday month"), (), _clean_none),
    "first_purchase": Kind(gettext_lazy("The member's first purchase"), (), _clean_none),
    "nth_purchase": Kind(gettext_lazy("The member's n-th purchase"), ("n",), _clean_nth),
    "has_referrer": Kind(gettext_lazy("The member was referred by another member"), (), _clean_none),
}


def _holds(kind: str, p: dict, facts: EventFacts, tier_names: dict[int, str]) -> bool:
    if kind == "amount_min":
        return facts.amount is not None and facts.amount >= Decimal(p["value"])
    if kind == "amount_max":
        return facts.amount is not None and facts.amount <= Decimal(p["value"])
    if kind == "channel_in":
        return facts.channel in p["values"]
    if kind == "store_in":
        return facts.store in p["values"]
    if kind == "category_in":
        return bool(facts.categories.intersection(p["values"]))
    if kind == "tier_in":
        return facts.tier_id is not None and (tier_names.get(facts.tier_id) in p["values"]
                                              or str(facts.tier_id) in p["values"])
    if kind == "tag_in":
        return bool(facts.tags.intersection(p["values"]))
    if kind == "date_window":
        day = timezone.localtime(facts.occurred_at).date()
        if "start" in p and day.isoformat() < p["start"]:
            return False
        if "end" in p and day.isoformat() > p["end"]:
            return False
        return not p.get("weekdays") or day.isoweekday() in p["weekdays"]
    if kind == "birthday_month":
        return facts.birthday is not None and facts.birthday.month == timezone.localtime(facts.occurred_at).month
    if kind == "first_purchase":
        return facts.purchase_number == 1
    if kind == "nth_purchase":
        return facts.purchase_number == p["n"]
    if kind == "has_referrer":
        return facts.has_referrer
    raise ValueError(f"unknown condition {kind!r}")


# --- actions ----------------------------------------------------------------------------------------------------

def _clean_points(p: dict, f: str) -> dict:
    return {"points": _positive_int(p.get("points"), f + ".points")}


def _clean_rate(p: dict, f: str) -> dict:
    rate = _decimal(p.get("rate"), f + ".rate")
    if rate <= 0 or rate > 1000:
        raise DomainError(_("The rate is between 0 and 1000 points per CNY."),
                          code=LoyaltyCode.OUT_OF_RANGE, field=f + ".rate")
    rounding = p.get("rounding") or "floor"
    if rounding not in ROUNDING:
        raise DomainError(_("Unknown rounding."), code=LoyaltyCode.INVALID_CHOICE, field=f + ".rounding")
    return {"rate": str(rate), "rounding": rounding}


def _clean_factor(p: dict, f: str) -> dict:
    factor = _decimal(p.get("factor"), f + ".factor")
    if factor <= 1 or factor > 100:
        raise DomainError(_("A multiplier is more than 1 and at most 100."),
                          code=LoyaltyCode.OUT_OF_RANGE, field=f + ".factor")
    return {"factor": str(factor)}


def _clean_ref(name: str) -> Callable[[dict, str], dict]:
    def clean(p: dict, f: str) -> dict:
        value = str(p.get(name) or "").strip()
        if not value:
            raise DomainError(_("This field is required."), code=LoyaltyCode.REQUIRED, field=f"{f}.{name}")
        return {name: value}

    return clean


ACTIONS: dict[str, Kind] = {
    "award_points": Kind(gettext_lazy("Give points"), ("points",), _clean_points),
    "points_per_cny": Kind(gettext_lazy("Points per CNY spent"), ("rate", "rounding"), _clean_rate),
    "multiply": Kind(gettext_lazy("Multiply the points (e.g. double points)"), ("factor",), _clean_factor),
    "issue_coupon": Kind(gettext_lazy("Issue a coupon"), ("template",), _clean_ref("template")),
    "set_tier": Kind(gettext_lazy("Raise the tier to"), ("tier",), _clean_ref("tier")),
    "add_tag": Kind(gettext_lazy("Add a tag"), ("tag",), _clean_ref("tag")),
    "award_referrer": Kind(gettext_lazy("Give points to the referrer"), ("points",), _clean_points),
}
POINTS_ACTIONS = {"award_points", "points_per_cny", "multiply"}


def clean_items(items: Any, table: dict[str, Kind], field_name: str) -> list[dict]:
    """Validate a list of conditions or actions; return it cleaned (strings, sorted keys)."""
    if items in (None, ""):
        items = []
    if not isinstance(items, list):
        raise DomainError(_("Give a list."), code=LoyaltyCode.NOT_A_LIST, field=field_name)
    cleaned = []
    for index, item in enumerate(items):
        where = f"{field_name}.{index}"
        if not isinstance(item, dict) or item.get("kind") not in table:
            raise DomainError(_("Unknown kind: %(kind)s") % {"kind": (item or {}).get("kind") if isinstance(
                item, dict) else item}, code=LoyaltyCode.UNKNOWN_KIND, field=where + ".kind")
        cleaned.append({"kind": item["kind"], **table[item["kind"]].clean(item, where)})
    return cleaned


def validate_rule(trigger: str, conditions: Any, actions: Any) -> tuple[list[dict], list[dict]]:
    """Clean a rule's conditions and actions and refuse what can never apply or never do anything."""
    conditions = clean_items(conditions, CONDITIONS, "conditions")
    actions = clean_items(actions, ACTIONS, "actions")
    if not actions:
        raise DomainError(_("A rule needs at least one action."), code=LoyaltyCode.REQUIRED, field="actions")
    kinds = [c["kind"] for c in conditions]
    lows = [Decimal(c["value"]) for c in conditions if c["kind"] == "amount_min"]
    highs = [Decimal(c["value"]) for c in conditions if c["kind"] == "amount_max"]
    if lows and highs and max(lows) > min(highs):
        raise DomainError(_("Impossible condition: the minimum amount is above the maximum."),
                          code=LoyaltyCode.IMPOSSIBLE, field="conditions")
    purchase_kinds = {"amount_min", "amount_max", "first_purchase", "nth_purchase", "category_in"}
    if trigger != "order.paid" and purchase_kinds.intersection(kinds):
        raise DomainError(_("Impossible condition: amounts and purchases only exist on “order.paid”."),
                          code=LoyaltyCode.IMPOSSIBLE, field="conditions")
    nths = {c["n"] for c in conditions if c["kind"] == "nth_purchase"} | ({1} if "first_purchase" in kinds else set())
    if len(nths) > 1:
        raise DomainError(_("Impossible condition: a purchase cannot be both the n-th and the m-th."),
                          code=LoyaltyCode.IMPOSSIBLE, field="conditions")
    if "points_per_cny" in [a["kind"] for a in actions] and trigger != "order.paid":
        raise DomainError(_("Points per CNY only works on “order.paid”."),
                          code=LoyaltyCode.IMPOSSIBLE, field="actions")
    return conditions, actions


# --- evaluation -------------------------------------------------------------------------------------------------

@dataclass
class RuleView:
    """The parts of a Rule the evaluation needs (a plain object, so that previews need no saved rule)."""

    id: int
    trigger: str
    conditions: list[dict]
    actions: list[dict]
    priority: int = 100
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    stop_further: bool = False


def _round(value: Decimal, rounding: str) -> int:
    return int(value.quantize(Decimal("1"), rounding=ROUNDING[rounding]))


def evaluate(rules: list[RuleView], facts: EventFacts, tier_names: dict[int, str]) -> list[Outcome]:
    """Return what each applicable rule does (rules in priority order); no database access."""
    outcomes: list[Outcome] = []
    base_points = 0
    for rule in rules:
        if rule.trigger != facts.type:
            continue
        if (rule.starts_at and facts.occurred_at < rule.starts_at) or (rule.ends_at and facts.occurred_at >= rule.ends_at):
            continue
        if not all(_holds(c["kind"], c, facts, tier_names) for c in rule.conditions):
            continue
        outcome = Outcome(rule_id=rule.id)
        earned = Decimal("0")  # before the tier multiplier
        extra = Decimal("0")  # from multipliers: already counts the tier multiplier of the points it multiplies
        for action in rule.actions:
            kind = action["kind"]
            if kind == "award_points":
                earned += action["points"]
            elif kind == "points_per_cny" and facts.amount is not None:
                earned += _round(facts.amount * Decimal(action["rate"]), action["rounding"])
            elif kind == "multiply":
                extra += base_points * (Decimal(action["factor"]) - 1)
            elif kind == "issue_coupon":
                outcome.coupons.append(action["template"])
            elif kind == "set_tier":
                outcome.tier = action["tier"]
            elif kind == "add_tag":
                outcome.tags.append(action["tag"])
            elif kind == "award_referrer" and facts.has_referrer:
                outcome.referrer_points += action["points"]
        if facts.is_member:
            own = _round(earned * facts.tier_multiplier, "floor")
            base_points += own
            outcome.points = own + _round(extra, "floor")
        outcomes.append(outcome)
        if rule.stop_further:
            break
    return outcomes
