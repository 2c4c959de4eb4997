"""Dispatch of recorded events to the registered handlers (in a worker, or in-process without a broker)."""

from celery import shared_task

from fidelis.events.models import Event
from fidelis.events.registry import handlers_for


@shared_task(name="events.dispatch", acks_late=True)
def dispatch_event(event_id: int, event_type: str | None = None) -> int:
    """Run every handler registered for the event's type; return how many ran.

    `record_event` sends the type along (an event's type never changes), which spares a query per event.
    """
    if event_type is None:
        event_type = Event.objects.filter(pk=event_id).values_list("type", flat=True).first()
    if event_type is None:
        return 0
    handlers = handlers_for(event_type)
    for handler in handlers:
        handler(event_id)
    return len(handlers)


@shared_task(name="events.webhook_deliver", acks_late=True)
def webhook_deliver(delivery_id: int) -> str | None:
    """Send one webhook delivery if it is still due; return its status afterwards (None: not sent)."""
    from fidelis.events.webhooks import webhook_delivery_send

    delivery = webhook_delivery_send(delivery_id=delivery_id)
    return delivery.status if delivery is not None else None


@shared_task(name="events.webhook_retry_due")
def webhook_retry_due() -> int:
    """Send the webhook deliveries whose next attempt is due; return how many were sent."""
    from fidelis.events.webhooks import webhook_deliveries_send_due

    return webhook_deliveries_send_due()
