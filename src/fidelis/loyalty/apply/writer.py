"""What the engine writes for a batch besides the ledger: purchases, applied events, rule totals, and for live
events their timeline, coupons and tags.

Set-based (`core.bulk`: COPY on PostgreSQL, executemany elsewhere); the points themselves go through
`ledger.Earnings`, the one place where balances change.
"""

import logging
from datetime import datetime

from django.db import connection

from fidelis.core.bulk import rows_insert
from fidelis.core.errors import DomainError
from fidelis.customers.models import Customer
from fidelis.customers.services import customer_tag_add
from fidelis.events.models import Event
from fidelis.events.services import record_events
from fidelis.loyalty.apply.history import Account
from fidelis.loyalty.engine import Outcome
from fidelis.loyalty.models import AppliedEvent, CouponTemplate, Program, Purchase, Rule, Tier
from fidelis.loyalty.services import coupon_issue
from fidelis.loyalty.tiers import tier_changed_event

log = logging.getLogger(__name__)

PURCHASE_FIELDS = ("member", "event", "order_ref", "amount", "refunded", "points", "points_clawed",
                   "points_unrecovered", "occurred_at")
APPLIED_FIELDS = ("program", "event", "applied_at", "points")


def events_claim(program: Program, event_ids: list[int], now: datetime) -> set[int]:
    """Write the AppliedEvent rows of these events unless they are there; return the events claimed so.

    The row is written in the transaction of the event's effects: a redelivered event, or one a second worker
    holds, finds it and is not applied again.
    """
    if not event_ids:
        return set()
    table = connection.ops.quote_name(AppliedEvent._meta.db_table)
    stamp = AppliedEvent._meta.get_field("applied_at").get_db_prep_save(now, connection)
    values = ", ".join(["(%s, %s, %s, 0)"] * len(event_ids))
    params = [v for event_id in sorted(event_ids) for v in (program.pk, event_id, stamp)]
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} (program_id, event_id, applied_at, points) VALUES {values} "  # noqa: S608
                       "ON CONFLICT DO NOTHING RETURNING event_id", params)
        return {row[0] for row in cursor.fetchall()}


def events_unclaim(program: Program, event_ids: list[int]) -> None:
    """Forget that these events were applied (a refund that waits for its purchase)."""
    AppliedEvent.objects.filter(program=program, event_id__in=event_ids).delete()


def batch_write(program: Program, *, purchases: list[tuple], applied: list[tuple], totals: dict[int, int],
                claimed: bool) -> None:
    """Write a batch's purchases and applied events and the capped rules' totals; with `claimed`, the
    AppliedEvent rows are there already and get their points. (The members are written by the ledger.)"""
    rows_insert(Purchase, PURCHASE_FIELDS, purchases)
    if claimed:
        _applied_points(program, [(row[1], row[3]) for row in applied if row[3]])
    else:
        rows_insert(AppliedEvent, APPLIED_FIELDS, applied)
    for rule_id, given in totals.items():
        Rule.objects.filter(pk=rule_id).update(points_awarded=given)


def _applied_points(program: Program, points: list[tuple[int, int]]) -> None:
    if not points:
        return
    table = connection.ops.quote_name(AppliedEvent._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # one statement, not one per event
            cursor.execute(f"UPDATE {table} AS a SET points = v.points FROM unnest(%s::bigint[], "  # noqa: S608
                           "%s::bigint[]) AS v(event_id, points) WHERE a.program_id = %s AND a.event_id = v.event_id",
                           [[e for e, _p in points], [p for _e, p in points], program.pk])
            return
        cursor.executemany(f"UPDATE {table} SET points = %s WHERE program_id = %s AND event_id = %s",  # noqa: S608
                           [(p, program.pk, event_id) for event_id, p in points])


def timeline_record(program: Program, points_events: list[Event], accounts: dict[int, Account],
                    tier_changes: list[tuple], tiers: dict[int, Tier], default_reason: str) -> None:
    """Record the points.changed events of a live batch and its tier.changed events, in one statement."""
    events = list(points_events)
    for member_id, before, after, when, reason in tier_changes:
        account = accounts[member_id]
        events.append(tier_changed_event(program, account.customer_id, account.number, tiers.get(before),
                                         tiers[after], when, reason or default_reason))
    record_events(events)


def actions_carry_out(program: Program, rules: dict[int, Rule], actions: list[tuple]) -> None:
    """Issue the coupons and add the tags the rules gave: (rule id, event id, customer id, outcome) each."""
    if not actions:
        return
    customers = Customer.objects.in_bulk({a[2] for a in actions})
    events = Event.objects.in_bulk({a[1] for a in actions})
    for rule_id, event_id, customer_id, outcome in actions:
        event = events[event_id]
        event.customer = customers[customer_id]
        coupons_issue(program, rules[rule_id], outcome, event)
        for tag in outcome.tags:
            customer_tag_add(actor=None, customer=event.customer, tag_name=tag, via="rule")


def coupons_issue(program: Program, rule: Rule, outcome: Outcome, event: Event) -> None:
    """Issue the coupons a rule gives the event's customer, once per rule, event and coupon."""
    for index, template_id in enumerate(outcome.coupons):
        template = CouponTemplate.objects.filter(program=program, public_id=template_id).first()
        if template is None:
            continue
        try:
            coupon_issue(actor=None, template=template, customer=event.customer, source="rule", rule=rule,
                         event=event, issue_key=f"rule:{rule.pk}:event:{event.pk}:{index}")
        except DomainError as exc:
            # A limit reached is not an error of the event: the customer simply gets no more of them.
            log.info("rule %s, event %s: no coupon: %s", rule.pk, event.pk, exc.message)
