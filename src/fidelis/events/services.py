"""Writing to the event stream."""

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fidelis.core.errors import DomainError
from fidelis.events.models import Event
from fidelis.events.registry import handlers_for, validators_for

MAX_PAYLOAD_BYTES = 64 * 1024


def record_event(*, customer, type: str, actor=None, occurred_at: datetime | None = None,
                 channel: str = "system", touchpoint: str = "", summary: str = "",
                 payload: dict[str, Any] | None = None, idempotency_key: str | None = None) -> tuple[Event, bool]:
    """Write one event; return it and whether it is new (the same idempotency key gives the first one back)."""
    if not type or "." not in type or len(type) > 40:
        raise DomainError(_("An event type looks like \"order.paid\"."), code="invalid_type", field="type")
    payload = payload or {}
    if len(str(payload)) > MAX_PAYLOAD_BYTES:
        raise DomainError(_("The event payload is too large."), code="too_large", field="payload")
    for validate in validators_for(type):
        validate(type, payload)
    event = Event(customer=customer, type=type, actor=actor if getattr(actor, "is_authenticated", False) else None,
                  occurred_at=occurred_at or timezone.now(), channel=channel, touchpoint=touchpoint,
                  summary=summary[:200], payload=payload, idempotency_key=idempotency_key or None)
    if idempotency_key:
        # Insert first and look only when the key is taken: the common case costs one statement. A savepoint, so
        # that a key already used leaves the caller's transaction usable.
        try:
            with transaction.atomic():
                event.save(force_insert=True)
        except IntegrityError:
            existing = Event.objects.filter(idempotency_key=idempotency_key).first()
            if existing is None:
                raise
            return _same_or_conflict(existing, customer, type), False
    else:
        event.save(force_insert=True)
    if handlers_for(type):
        from fidelis.events.tasks import dispatch_event

        event_id = event.pk
        transaction.on_commit(lambda: dispatch_event.delay(event_id, type))
    return event, True


def _same_or_conflict(existing: Event, customer, type: str) -> Event:
    if existing.customer_id != customer.pk or existing.type != type:
        raise DomainError(_("This idempotency key was already used for another event."),
                          code="idempotency_conflict", field="idempotency_key")
    return existing
