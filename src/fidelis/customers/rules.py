"""How the customer archive reacts to events: the loyalty funnel only moves forward.

The stages are facts about a customer more than rungs of a ladder: people pay at the till without joining the
member club, and join it on the official account without buying. The stored stage is the furthest step an event
proved (a purchase makes a non-member a buyer, so lists and the dashboard find them among buyers), while the 360°
funnel (`selectors.customer_lifecycle_funnel`) marks a step reached only when the customer has its fact: a buyer
who never joined shows 会员 as not reached, not as passed. Each move is audited with the event that made it (its
id and type), which is why the stage was reached.
"""

from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from fidelis.accounts.models import AuditEntry
from fidelis.accounts.services import audit_entry
from fidelis.customers.models import Customer, LifecycleStage
from fidelis.events.models import Event
from fidelis.events.registry import on_event

FUNNEL = list(LifecycleStage.values)
STAGE_FOR_EVENT = {
    "wechat.followed": LifecycleStage.FOLLOWER,
    "member.joined": LifecycleStage.MEMBER,
    "order.paid": LifecycleStage.BUYER,
}


def _behind(stage: str, target: str) -> bool:
    return FUNNEL.index(stage) < FUNNEL.index(target)


@on_event(*STAGE_FOR_EVENT, batch=True, history=True)
def advance_lifecycle_stages(event_ids: list[int]) -> int:
    """Move the customers of a batch of events to the stages the events prove, never backwards; safe to run twice.

    One query finds the customers whose stage moves (usually none: the stage never moves back); those are locked,
    moved and audited (one entry per step, naming the event) together. Return how many steps were taken.
    """
    rows = list(Event.objects.filter(pk__in=event_ids).order_by("pk")
                .values_list("public_id", "type", "customer_id", "customer__lifecycle_stage"))
    moving = {customer_id for _id, type, customer_id, stage in rows if _behind(stage, STAGE_FOR_EVENT[type])}
    if not moving:
        return 0
    with transaction.atomic():
        # Lock the rows: two batches with events of one customer must not both read the old stage.
        customers = Customer.objects.select_for_update(no_key=True).filter(pk__in=sorted(moving)).order_by("pk")
        locked = {c.pk: c for c in customers.only("public_id", "name", "number", "lifecycle_stage")}
        entries, moved = [], set()
        for public_id, type, customer_id, _stage in rows:
            customer, target = locked.get(customer_id), STAGE_FOR_EVENT[type]
            if customer is None or not _behind(customer.lifecycle_stage, target):
                continue
            entries.append(audit_entry(actor=None, action="customer.stage_advance", obj=customer, via="rule",
                                       changes={"lifecycle_stage": [customer.lifecycle_stage, target],
                                                "event": [None, public_id], "event_type": [None, type]}))
            customer.lifecycle_stage = target
            moved.add(customer_id)
        by_stage: dict[str, list[int]] = defaultdict(list)
        for customer_id in sorted(moved):
            by_stage[locked[customer_id].lifecycle_stage].append(customer_id)
        now = timezone.now()
        for stage, ids in by_stage.items():
            Customer.objects.filter(pk__in=ids).update(lifecycle_stage=stage, updated_at=now)
        AuditEntry.objects.bulk_create(entries)
    return len(entries)
