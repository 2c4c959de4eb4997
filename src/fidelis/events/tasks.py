"""Dispatch of recorded events to the registered handlers (in a worker, or in-process without a broker)."""

from celery import shared_task

from fidelis.events.models import Event
from fidelis.events.registry import handlers_for


@shared_task(name="events.dispatch", acks_late=True)
def dispatch_event(event_id: int) -> int:
    """Run every handler registered for the event's type; return how many ran."""
    event_type = Event.objects.filter(pk=event_id).values_list("type", flat=True).first()
    if event_type is None:
        return 0
    handlers = handlers_for(event_type)
    for handler in handlers:
        handler(event_id)
    return len(handlers)
