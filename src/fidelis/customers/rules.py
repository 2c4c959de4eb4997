"""How the customer archive reacts to events: the loyalty funnel only moves forward."""

from django.db import transaction

from fidelis.accounts.services import audit_record
from fidelis.customers.models import Customer, LifecycleStage
from fidelis.events.models import Event
from fidelis.events.registry import on_event

FUNNEL = list(LifecycleStage.values)
STAGE_FOR_EVENT = {
    "wechat.followed": LifecycleStage.FOLLOWER,
    "member.joined": LifecycleStage.MEMBER,
    "order.paid": LifecycleStage.BUYER,
}


@on_event(*STAGE_FOR_EVENT)
def advance_lifecycle_stage(event_id: int) -> None:
    """Move the customer to the stage the event proves, never backwards; safe to run twice."""
    event = (Event.objects.filter(pk=event_id).select_related("customer")
             .only("type", "customer_id", "public_id", "customer__lifecycle_stage").first())
    if event is None:
        return
    target = STAGE_FOR_EVENT[event.type]
    if FUNNEL.index(event.customer.lifecycle_stage) >= FUNNEL.index(target):
        return  # the usual case, without a transaction: the stage never moves back, so this stays true
    with transaction.atomic():
        # Lock the customer row: two events for one customer must not both read the old stage.
        customer = Customer.objects.select_for_update().filter(pk=event.customer_id).first()
        if customer is None or FUNNEL.index(customer.lifecycle_stage) >= FUNNEL.index(target):
            return
        before = customer.lifecycle_stage
        customer.lifecycle_stage = target
        customer.save(update_fields=["lifecycle_stage", "updated_at"])
        audit_record(actor=None, action="customer.stage_advance", obj=customer, via="rule",
                     changes={"lifecycle_stage": [before, target], "event": [None, event.public_id]})
