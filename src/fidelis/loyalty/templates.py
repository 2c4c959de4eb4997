"""Ready-made earn rules from the seeds, and a starter program a mall or a shop can use on day one."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fidelis.loyalty.models import CouponKind, Objective, Program, RewardKind, Rule, RuleStatus, Tier
from fidelis.loyalty.services import coupon_template_save, program_save, reward_save, rule_save, tier_save


@dataclass(frozen=True)
class RuleTemplate:
    key: str
    name: Any
    description: Any
    trigger: str
    conditions: tuple[dict, ...]
    actions: tuple[dict, ...]
    priority: int = 100
    needs_coupon: bool = False


RULE_TEMPLATES: tuple[RuleTemplate, ...] = (
    RuleTemplate("welcome", gettext_lazy("New member: 500 points"),
                 gettext_lazy("Every customer who joins the club gets 500 points."),
                 "member.joined", (), ({"kind": "award_points", "points": 500},)),
    RuleTemplate("follow_coupon", gettext_lazy("Follows the official account: a coupon"),
                 gettext_lazy("Following the official account earns a welcome coupon."),
                 "wechat.followed", (), ({"kind": "issue_coupon", "template": ""},), needs_coupon=True),
    RuleTemplate("per_cny", gettext_lazy("1 point per CNY spent"),
                 gettext_lazy("Every paid order earns one point per yuan, rounded down."),
                 "order.paid", (), ({"kind": "points_per_cny", "rate": "1", "rounding": "floor"},), priority=200),
    RuleTemplate("birthday", gettext_lazy("Birthday month: double points"),
                 gettext_lazy("Purchases in the member's birthday month earn twice the points."),
                 "order.paid", ({"kind": "birthday_month"},), ({"kind": "multiply", "factor": "2"},), priority=150),
    RuleTemplate("referral", gettext_lazy("Referral: both get points"),
                 gettext_lazy("When a referred friend makes a first purchase, friend and referrer get 200 points."),
                 "order.paid", ({"kind": "first_purchase"}, {"kind": "has_referrer"}),
                 ({"kind": "award_points", "points": 200}, {"kind": "award_referrer", "points": 200}), priority=120),
)


def rule_template(key: str) -> RuleTemplate:
    for template in RULE_TEMPLATES:
        if template.key == key:
            return template
    raise KeyError(key)


def rule_from_template(*, actor, program: Program, key: str, coupon_template=None,
                       status: str = RuleStatus.DRAFT) -> Rule:
    """Create a rule from a ready-made template (a draft unless told otherwise)."""
    template = rule_template(key)
    actions = [dict(a) for a in template.actions]
    for action in actions:
        if action["kind"] == "issue_coupon":
            action["template"] = coupon_template.public_id if coupon_template is not None else ""
    rule = rule_save(actor=actor, program=program, data={
        "name": str(template.name), "description": str(template.description), "trigger": template.trigger,
        "conditions": [dict(c) for c in template.conditions], "actions": actions, "priority": template.priority,
        "status": status})
    Rule.objects.filter(pk=rule.pk).update(template=key)
    return rule


DEFAULT_TIERS = (
    # name, rank, spend threshold in the last 365 days (CNY), earn multiplier, colour, benefits
    ("普通会员", 0, "0", "1", "#8a8f98", gettext_lazy("Points on every purchase; double points in the birthday month.")),
    ("银卡", 1, "3000", "1.2", "#9aa4b1", gettext_lazy("1.2 × points; 2 hours of free parking on every visit.")),
    ("金卡", 2, "10000", "1.5", "#c9a227",
     gettext_lazy("1.5 × points; invitations to the members' evenings; the members' service desk without queueing.")),
    ("钻石卡", 3, "30000", "2", "#5b6abf",
     gettext_lazy("2 × points; the VIP lounge; free gift wrapping and home delivery; a personal shopping adviser.")),
)


@transaction.atomic
def starter_program(*, actor, name: str, objective: str = Objective.FREQUENCY) -> Program:
    """A program with four spend tiers, a welcome coupon, a few rewards and the seed rules, all live."""
    program = program_save(actor=actor, data={
        "name": name, "objective": objective,
        "target_customers": _("Shoppers who visit at least once a month"),
        "lock_in": _("Points on every purchase, tiers with faster earning, member-only rewards and events."),
        "kpi_notes": _("Repeat-purchase rate of members above non-members; redemption rate 20–40 %; "
                       "liability under control."),
    })
    tiers = {}
    for tier_name, rank, threshold, multiplier, color, benefits in DEFAULT_TIERS:
        tiers[rank] = tier_save(actor=actor, program=program, data={
            "name": tier_name, "rank": rank, "basis": Tier.Basis.SPEND, "threshold": Decimal(threshold),
            "window_days": 365, "earn_multiplier": Decimal(multiplier), "grace_days": 30 if rank else 0,
            "color": color, "benefits": str(benefits)})
    welcome = coupon_template_save(actor=actor, program=program, data={
        "name": _("¥20 off ¥100 welcome coupon"), "kind": CouponKind.AMOUNT_OFF, "value": Decimal("20"),
        "min_spend": Decimal("100"), "valid_days": 30, "per_customer_limit": 1})
    ten_off = coupon_template_save(actor=actor, program=program, data={
        # xgettext:no-python-format
        "name": _("10 % off, up to ¥50"), "kind": CouponKind.PERCENT_OFF, "value": Decimal("10"),
        "max_discount": Decimal("50"), "valid_days": 60})
    reward_save(actor=actor, program=program, data={
        "name": _("Free parking, 2 hours"), "kind": RewardKind.GIFT, "points_cost": 200})
    reward_save(actor=actor, program=program, data={
        "name": str(ten_off.name), "kind": RewardKind.COUPON, "points_cost": 1000, "coupon_template": ten_off})
    reward_save(actor=actor, program=program, data={
        "name": _("Members' evening: private shopping night"), "kind": RewardKind.EVENT, "points_cost": 3000,
        "min_tier": tiers[2], "stock": 100})
    for key in ("welcome", "follow_coupon", "per_cny", "birthday", "referral"):
        rule_from_template(actor=actor, program=program, key=key, coupon_template=welcome,
                           status=RuleStatus.ACTIVE)
    return program
