"""Writing to the event stream."""

import time
from contextlib import nullcontext
from datetime import datetime
from functools import partial
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fidelis.core.bulk import ids_reserve, rows_insert
from fidelis.core.errors import DomainError
from fidelis.events.models import Event, PendingDispatch
from fidelis.events.registry import handlers_for, validators_for

MAX_PAYLOAD_BYTES = 64 * 1024


def _check(type: str, payload: dict) -> None:
    if not type or "." not in type or len(type) > 40:
        raise DomainError(_("An event type looks like \"order.paid\"."), code="invalid_type", field="type")
    if len(str(payload)) > MAX_PAYLOAD_BYTES:
        raise DomainError(_("The event payload is too large."), code="too_large", field="payload")
    for validate in validators_for(type):
        validate(type, payload)


def record_event(*, customer, type: str, actor=None, occurred_at: datetime | None = None,
                 channel: str = "system", touchpoint: str = "", summary: str = "",
                 payload: dict[str, Any] | None = None, idempotency_key: str | None = None) -> tuple[Event, bool]:
    """Write one event; return it and whether it is new (the same idempotency key gives the first one back).

    An event that handlers react to is queued for them in the same transaction (`PendingDispatch`) and dispatched
    after the commit: by a worker, or at once in this process when no broker is configured.
    """
    payload = payload or {}
    _check(type, payload)
    event = Event(customer=customer, type=type, actor=actor if getattr(actor, "is_authenticated", False) else None,
                  occurred_at=occurred_at or timezone.now(), channel=channel, touchpoint=touchpoint,
                  summary=summary[:200], payload=payload, idempotency_key=idempotency_key or None)
    queued = bool(handlers_for(type))
    try:
        _insert(event, queued)
    except IntegrityError:
        existing = Event.objects.filter(idempotency_key=idempotency_key).first() if idempotency_key else None
        if existing is None:
            raise
        return _same_or_conflict(existing, customer, type), False
    if queued:
        transaction.on_commit(partial(_nudge, [event.pk]))
    return event, True


def _insert(event: Event, queued: bool) -> None:
    """Insert a new event, and its PendingDispatch row when `queued`, as one unit.

    The hot path of every POS sale: on PostgreSQL one statement writes both rows (a data-modifying WITH), which
    outside a transaction needs no BEGIN and COMMIT either; measured in bench/ledger.py --profile, the client's time
    per event fell by a third, and by a tenth more once the statement was made once (`_queued_insert`). A savepoint only inside the caller's transaction, so that an idempotency key already
    used (IntegrityError) leaves that transaction usable.
    """
    postgres = connection.vendor == "postgresql"
    together = not queued or postgres
    with transaction.atomic() if connection.in_atomic_block or not together else nullcontext():
        if queued and postgres:
            fields, statement = _queued_insert()
            params = [f.get_db_prep_save(f.pre_save(event, True), connection) for f in fields]
            with connection.cursor() as cursor:
                cursor.execute(statement, [*params, event.type])
                event.pk = cursor.fetchone()[0]
            event._state.adding, event._state.db = False, connection.alias
        else:
            event.save(force_insert=True)
            if queued:
                rows_insert(PendingDispatch, ("event", "type"), [(event.pk, event.type)])


_statements: dict = {}


def _queued_insert() -> tuple[list, str]:
    """Return the fields and the statement (PostgreSQL) that write an event and its queue row, made once: compiling
    Django's INSERT for every event cost a fifth of the client's time."""
    if "queued" not in _statements:
        quote = connection.ops.quote_name
        fields = [f for f in Event._meta.concrete_fields if not f.primary_key]
        _statements["queued"] = fields, (
            f"WITH e AS (INSERT INTO {quote(Event._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING id) "
            f"INSERT INTO {quote(PendingDispatch._meta.db_table)} (event_id, type) SELECT id, %s FROM e "
            "RETURNING event_id")
    return _statements["queued"]


EVENT_FIELDS = ("id", "public_id", "customer", "type", "occurred_at", "channel", "touchpoint", "summary", "payload",
                "idempotency_key", "actor", "created_at")


def record_events(events: list[Event], *, historical: bool = False) -> list[Event]:
    """Write many new events at once (their idempotency keys, if any, unused so far), queued for their handlers as
    `record_event` does; `historical` events (imported history) only for the handlers that take history.

    In one statement per table (`core.bulk`): the ledger writes a points.changed event for each entry of a batch,
    an import the events of its rows.
    """
    if not events:
        return events
    for event in events:
        _check(event.type, event.payload)
        event.summary = event.summary[:200]
    now = timezone.now()
    with transaction.atomic():
        rows = []
        for pk, event in zip(ids_reserve(Event, len(events)), events, strict=True):
            event.pk, event.created_at = pk, now
            event._state.adding, event._state.db = False, connection.alias
            rows.append((pk, event.public_id, event.customer_id, event.type, event.occurred_at, event.channel,
                         event.touchpoint, event.summary, event.payload, event.idempotency_key, event.actor_id, now))
        rows_insert(Event, EVENT_FIELDS, rows)
        queued = [(e.pk, e.type, historical) for e in events if handlers_for(e.type, historical=historical)]
        rows_insert(PendingDispatch, ("event", "type", "historical"), queued)
    if queued:
        transaction.on_commit(partial(_nudge, [pk for pk, _type, _historical in queued]))
    return events


# A worker is sent `events.dispatch_pending` at most once per NUDGE_INTERVAL by each process: sending a Celery
# message costs more than writing the event. An event committed within the interval after this process's last
# message is dispatched by the worker that takes that message: either the event is committed before that worker
# looks at the queue, or the worker, finding the queue empty, keeps looking for DISPATCH_LINGER (longer than the
# interval) and finds it then: its last look comes at least DISPATCH_LINGER after it found the queue empty, so
# later than the interval as long as the worker looks every `dispatch.LINGER_STEP` <= DISPATCH_LINGER -
# NUDGE_INTERVAL. (The sweep from Celery beat is the safety net for a message lost with its worker.)
NUDGE_INTERVAL = 0.05
DISPATCH_LINGER = 2 * NUDGE_INTERVAL
# After a message the broker did not take, a process sends none for NUDGE_BACKOFF seconds: while the broker is
# unreachable each attempt costs the request up to the connect timeout, and the events wait queued for the sweep.
NUDGE_BACKOFF = 5.0
_next_nudge = [float("-inf")]


def _nudge(ids: list[int]) -> None:
    """Have the committed events `ids` dispatched: in this process without a broker, else by a worker.

    Runs after the commit, so with a broker it is best effort: the events are queued (`PendingDispatch`) whatever
    happens here, and a message the broker does not take is logged, not raised — the caller gets the answer for
    what was committed, and the next message or the sweep from Celery beat dispatches them.
    """
    from fidelis.config.celery import app
    from fidelis.events import dispatch, tasks

    if app.conf.task_always_eager:
        tasks.dispatch_pending.delay(ids)  # in-process: a handler's error reaches the caller
        return
    if dispatch.draining():
        return  # a worker draining the queue claims the events its own handlers record
    now = time.monotonic()
    if now < _next_nudge[0]:
        return
    _next_nudge[0] = now + NUDGE_INTERVAL
    if not tasks.dispatch_pending_send(ids):
        _next_nudge[0] = time.monotonic() + NUDGE_BACKOFF


def _same_or_conflict(existing: Event, customer, type: str) -> Event:
    if existing.customer_id != customer.pk or existing.type != type:
        raise DomainError(_("This idempotency key was already used for another event."),
                          code="idempotency_conflict", field="idempotency_key")
    return existing
