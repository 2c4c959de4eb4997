"""Writing to the event stream."""

import time
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from datetime import datetime
from functools import partial
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fidelis.core.bulk import ids_reserve, rows_insert
from fidelis.core.errors import DomainError
from fidelis.events.errors import EventCode
from fidelis.events.models import Event, PendingDispatch
from fidelis.events.registry import handlers_for, validators_for

MAX_PAYLOAD_BYTES = 64 * 1024


def _check(type: str, payload: dict) -> None:
    if not type or "." not in type or len(type) > 40:
        raise DomainError(_("An event type looks like \"order.paid\"."), code=EventCode.INVALID_TYPE, field="type")
    if len(str(payload)) > MAX_PAYLOAD_BYTES:
        raise DomainError(_("The event payload is too large."), code=EventCode.TOO_LARGE, field="payload")
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


# The columns of an event row for `record_event_rows`, in this order.
EVENT_COLUMNS = ("public_id", "customer", "type", "occurred_at", "channel", "touchpoint", "summary", "payload",
                 "idempotency_key", "actor")
_TYPE, _SUMMARY, _PAYLOAD = (EVENT_COLUMNS.index(name) for name in ("type", "summary", "payload"))


def record_events(events: list[Event], *, historical: bool = False) -> list[Event]:
    """Write many new events at once (their idempotency keys, if any, unused so far), queued for their handlers as
    `record_event` does; `historical` events (imported history) only for the handlers that take history.

    The ledger writes a points.changed event for each entry of a batch this way; see `record_event_rows`.
    """
    if not events:
        return events
    now = timezone.now()
    pks = record_event_rows([(e.public_id, e.customer_id, e.type, e.occurred_at, e.channel, e.touchpoint, e.summary,
                              e.payload, e.idempotency_key, e.actor_id) for e in events],
                            historical=historical, created_at=now)
    for pk, event in zip(pks, events, strict=True):
        event.pk, event.created_at, event.summary = pk, now, event.summary[:200]
        event._state.adding, event._state.db = False, connection.alias
    return events


def record_event_rows(rows: Sequence[Sequence[Any]], *, historical: bool = False,
                      created_at: datetime | None = None) -> list[int]:
    """Write many new events given as rows of values in the order of EVENT_COLUMNS, as `record_events` does, and
    return their keys in the order of the rows; `created_at` is the time they are recorded at (now by default).

    For the imports, which write an event for each row of a file: no model instance per event. In one statement per
    table (`core.bulk`). Each payload is checked as `record_event` checks it, before anything is written.
    """
    if not rows:
        return []
    checked: set[tuple[str, int]] = set()
    for row in rows:
        # An import gives all its rows one payload: checked once.
        if (row[_TYPE], id(row[_PAYLOAD])) not in checked:
            _check(row[_TYPE], row[_PAYLOAD])
            checked.add((row[_TYPE], id(row[_PAYLOAD])))
    queued_types = {type for type in {row[_TYPE] for row in rows} if handlers_for(type, historical=historical)}

    def keyed(pks: list[int]) -> Iterator[tuple]:
        for pk, row in zip(pks, rows, strict=True):
            if len(row[_SUMMARY]) > 200:
                row = [*row]
                row[_SUMMARY] = row[_SUMMARY][:200]
            yield (pk, *row)

    with transaction.atomic():
        pks = ids_reserve(Event, len(rows))
        rows_insert(Event, ("id", *EVENT_COLUMNS), keyed(pks), fixed={"created_at": created_at or timezone.now()})
        queued = [(pk, row[_TYPE], historical) for pk, row in zip(pks, rows, strict=True) if row[_TYPE] in queued_types]
        rows_insert(PendingDispatch, ("event", "type", "historical"), queued)
    if queued:
        transaction.on_commit(partial(_nudge, [pk for pk, _type, _historical in queued]))
    return pks


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
                          code=EventCode.IDEMPOTENCY_CONFLICT, field="idempotency_key")
    return existing
