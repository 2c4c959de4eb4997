"""Work of the member club in the background: expiry notices, expiry, tier reviews (Celery beat, daily), missed
events, and the back-fill of historical orders (started from the program page)."""

from datetime import datetime, timedelta

from celery import shared_task
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from fidelis.accounts.models import User
from fidelis.events.models import Event
from fidelis.events.services import record_event
from fidelis.loyalty import ledger
from fidelis.loyalty.apply.evaluator import BUILT_IN, program_events_of_others
from fidelis.loyalty.backfill import orders_backfill
from fidelis.loyalty.handlers import apply_event
from fidelis.loyalty.models import AppliedEvent, Member, MemberStatus, PointsLot, Program, Rule, RuleStatus
from fidelis.loyalty.tiers import tier_review


@shared_task(name="loyalty.expire_points")
def expire_points() -> int:
    """Expire every lot whose time has come, one member per transaction; return the points expired."""
    total = 0
    for member_id in ledger.members_with_due_expiry():
        with transaction.atomic():
            total += ledger.expire_due(ledger.lock_member(member_id))
    return total


@shared_task(name="loyalty.expiry_notices")
def expiry_notices() -> int:
    """Tell members ahead of time: one points.expiring event per member and expiry date; return how many."""
    now = timezone.now()
    sent = 0
    for program in Program.objects.filter(is_active=True, expiry_months__gt=0):
        horizon = now + timedelta(days=program.expiry_notice_days)
        due = (PointsLot.objects.filter(member__program=program, remaining__gt=0, notified=False,
                                        expires_at__gt=now, expires_at__lte=horizon)
               .values("member_id", "expires_at").annotate(points=Sum("remaining")).order_by("member_id"))
        for row in due:
            with transaction.atomic():
                member = Member.objects.select_related("customer").get(pk=row["member_id"])
                day = timezone.localtime(row["expires_at"] - timedelta(microseconds=1)).date()
                record_event(customer=member.customer, type="points.expiring", channel="system",
                             touchpoint=program.name,
                             payload={"member": member.number, "points": row["points"], "expires_on": day.isoformat(),
                                      "unit": program.currency_name},
                             idempotency_key=f"points.expiring:{member.pk}:{day.isoformat()}")
                PointsLot.objects.filter(member_id=member.pk, expires_at=row["expires_at"]).update(notified=True)
                sent += 1
    return sent


@shared_task(name="loyalty.tier_reviews")
def tier_reviews(now: datetime | None = None) -> dict[str, int]:
    """Review every member above the entry tier (downgrade after grace) and count the outcomes; `now`: as of that
    time (the demo reviews its history)."""
    counts: dict[str, int] = {}
    ids = (Member.objects.filter(status=MemberStatus.ACTIVE, tier__rank__gt=0).values_list("pk", flat=True)
           .order_by("pk"))
    for member_id in ids.iterator(chunk_size=1000):
        with transaction.atomic():
            outcome = tier_review(ledger.lock_member(member_id), now=now)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


@shared_task(name="loyalty.apply_missed")
def apply_missed(days: int = 7, older_than_s: int = 60) -> int:
    """Apply events that no worker applied (a worker killed before it acknowledged them); return how many.

    Safe to run at any time: `apply_event` writes an AppliedEvent per (program, event) in the transaction of its
    effects, so an event already applied, or being applied right now, is not applied again.
    """

    now = timezone.now()
    done = 0
    for program in Program.objects.filter(is_active=True):
        types = set(BUILT_IN) | set(Rule.objects.filter(program=program, status=RuleStatus.ACTIVE)
                                   .values_list("trigger", flat=True))
        # Only what was recorded while the program ran: a new program does not rewrite last week.
        since = max(now - timedelta(days=days), program.created_at)
        missed = (Event.objects.filter(type__in=types, created_at__gte=since,
                                       created_at__lte=now - timedelta(seconds=older_than_s))
                  .exclude(pk__in=AppliedEvent.objects.filter(program=program).values("event_id"))
                  .exclude(program_events_of_others(program))
                  .order_by("occurred_at", "pk").values_list("pk", flat=True))
        for event_id in missed.iterator(chunk_size=500):
            apply_event(event_id)
            done += 1
    return done


@shared_task(name="loyalty.backfill_orders")
def backfill_orders(program_id: int, actor_id: int | None = None) -> dict:
    """Apply the program's historical order.paid events to the ledger; return what the back-fill did.

    Safe to run twice: what is applied already is skipped (`backfill.orders_backfill`).
    """

    program = Program.objects.get(pk=program_id)
    actor = User.objects.filter(pk=actor_id).first() if actor_id is not None else None
    return orders_backfill(actor=actor, program=program).as_dict()
