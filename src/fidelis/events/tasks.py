"""Dispatch of recorded events to the registered handlers (in a worker, or in-process without a broker)."""

import logging
import time

from celery import shared_task

from fidelis.core.tasks import task_send
from fidelis.events import dispatch
from fidelis.events.models import Event, PendingDispatch

log = logging.getLogger(__name__)


@shared_task(name="events.dispatch_pending", acks_late=True)
def dispatch_pending(event_ids: list[int] | None = None) -> int:
    """Run the handlers of queued events; return how many events were dispatched.

    `record_event` sends it after each commit with the new events' ids. In a worker it claims those and every
    other queued event, a batch at a time, until none is left (later messages then find theirs done); in-process
    (no broker) it dispatches just those, and a handler's error reaches the caller. Without ids (Celery beat):
    whatever is still queued.
    """
    from fidelis.config.celery import app

    if app.conf.task_always_eager:
        return dispatch.dispatch_pending(event_ids, more=event_ids is None, reraise=True)
    from fidelis.events.services import DISPATCH_LINGER

    started = time.monotonic()
    done = dispatch.dispatch_pending(event_ids, linger=DISPATCH_LINGER, seconds=dispatch.DRAIN_SECONDS)
    if time.monotonic() - started >= dispatch.DRAIN_SECONDS and PendingDispatch.objects.exists():
        dispatch_pending_send(None)  # its time is up, not the queue: a fresh message goes on draining
    return done


def dispatch_pending_send(event_ids: list[int] | None) -> bool:
    """Send `events.dispatch_pending` to the workers, best effort; return whether the broker took the message.

    The events are queued in the database already, so a message that cannot be sent is logged, never raised: the
    sweep from Celery beat dispatches them. One attempt (`retry=False`) instead of Celery's publish retries, with
    the broker's short connect timeout (`config.celery`): a till waiting for its receipt must not wait out a broker
    that is down, for a message whose only use is to dispatch a little sooner.
    """
    return task_send(dispatch_pending, event_ids)


@shared_task(name="events.dispatch", acks_late=True)
def dispatch_event(event_id: int, event_type: str | None = None) -> int:
    """Run every handler of one event again, whether or not it was dispatched before; return how many ran.

    For an operator replaying an event: the handlers are safe to run twice (each writes its effect once). Messages
    sent by earlier versions (one per event, with its type) still in a broker are carried out the same way.
    """
    if event_type is None:
        event_type = Event.objects.filter(pk=event_id).values_list("type", flat=True).first()
    return dispatch.dispatch([(event_id, event_type, False)]) if event_type is not None else 0


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
