"""Handing recorded events to their handlers, a batch at a time.

`record_event` queues each event that handlers react to (`PendingDispatch`) and sends the `events.dispatch_pending`
task after the commit. The task claims queued events — the ones it was sent for and, in a worker, as many more as
are waiting, oldest first — deletes their rows and runs the handlers, all in one transaction: batch handlers once
for the batch, the others once per event. When a handler fails, the batch is rolled back to before the handlers
and run again one event at a time, so that one bad event costs only itself (it is logged and dropped). A worker
killed half-way leaves its transaction uncommitted: the queued rows are there again for the next worker or for
the sweep (`dispatch_pending()` without ids, every minute from Celery beat).
"""

import logging
import threading
import time
from collections.abc import Iterable

from django.conf import settings
from django.db import connection, transaction

from fidelis.events.models import PendingDispatch
from fidelis.events.registry import handlers_for, is_batch

log = logging.getLogger(__name__)

# Seconds between looks at an empty queue while lingering. A worker that keeps up starts a batch each time it looks
# and finds events: looking every 10 ms, two workers applied batches of a few events each, and the fixed cost of a
# batch (some twenty statements) took the CPU the clients needed (bench/ledger.py, 1 · 4 clients: 783 · 1,344
# events/s); every 50 ms: 1,077 · 1,556 events/s; every 100 ms: no better (1,017 · 1,808, pgbench faster too).
LINGER_STEP = 0.05
# Seconds a worker drains the queue for one message at most; then it sends a new message and lets the other tasks
# waiting in the broker have their turn (a queue that never empties must not hold a worker for ever).
DRAIN_SECONDS = 60.0

_state = threading.local()


def draining() -> bool:
    """Return whether this thread is draining the queue (`dispatch_pending` with `more`): the events its handlers
    record are claimed by the same loop, they need no message of their own."""
    return getattr(_state, "draining", False)


def dispatch(events: Iterable[tuple[int, str, bool]]) -> int:
    """Run the handlers of these (event id, type, historical); return how many handler calls there were."""
    by_handler: dict = {}
    for event_id, event_type, historical in events:
        for handler in handlers_for(event_type, historical=historical):
            by_handler.setdefault(handler, []).append(event_id)
    calls = 0
    for handler, ids in by_handler.items():
        if is_batch(handler):
            handler(ids)
            calls += 1
        else:
            for event_id in ids:
                handler(event_id)
            calls += len(ids)
    return calls


def dispatch_pending(event_ids: list[int] | None = None, *, more: bool = True, limit: int | None = None,
                     batches: int | None = None, seconds: float | None = None, linger: float = 0.0,
                     reraise: bool = False) -> int:
    """Claim queued events and run their handlers, batch after batch, until none is left; return how many.

    With `event_ids`, those are claimed first; `more` claims the other waiting ones as well (oldest first, up to
    `limit` a batch: FIDELIS_DISPATCH_BATCH), which is what a worker does, for at most `batches` batches and
    `seconds` seconds. `linger` (seconds): once the queue is empty, keep looking that long for events recorded
    meanwhile (see `services.NUDGE_INTERVAL`). `reraise` lets a handler's error through (in-process dispatch: the
    caller sees it) instead of logging it.
    """
    limit = limit or settings.FIDELIS_DISPATCH_BATCH
    deadline = None if seconds is None else time.monotonic() + seconds
    outer, _state.draining = draining(), draining() or more
    try:
        return _drain(list(event_ids or []), more, limit, batches, deadline, linger, reraise)
    finally:
        _state.draining = outer


def _drain(wanted: list[int], more: bool, limit: int, batches: int | None, deadline: float | None, linger: float,
           reraise: bool) -> int:
    done = rounds = 0
    idle_since = None
    while (batches is None or rounds < batches) and (deadline is None or time.monotonic() < deadline):
        with transaction.atomic():
            claimed = _claim(wanted[:limit], limit if more else 0)
            wanted = wanted[limit:]
            if claimed:
                _run(claimed, reraise)
        if not claimed:
            if wanted:
                continue
            idle_since = idle_since or time.monotonic()
            if not more or time.monotonic() - idle_since >= linger:
                return done
            time.sleep(LINGER_STEP)
            continue
        idle_since = None
        done += len(claimed)
        rounds += 1
        if not more and not wanted:
            return done
    return done


def _run(claimed: list[tuple[int, str, bool]], reraise: bool) -> None:
    try:
        with transaction.atomic():
            dispatch(claimed)
        return
    except Exception:
        if reraise and len(claimed) == 1:
            raise
    for event in claimed:  # again one by one: only the event that fails is lost
        try:
            with transaction.atomic():
                dispatch([event])
        except Exception:
            if reraise:
                raise
            log.exception("event %s (%s): a handler failed; the event is not dispatched again", *event[:2])


def _claim(event_ids: list[int], more: int) -> list[tuple[int, str, bool]]:
    """Delete and return the queued rows of these events (those still queued) and of up to `more` others."""
    table = connection.ops.quote_name(PendingDispatch._meta.db_table)
    # Rows another worker holds are skipped, not waited for (PostgreSQL; SQLite has one writer at a time anyway).
    skip = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    claimed: list[tuple[int, str, bool]] = []
    with connection.cursor() as cursor:
        if event_ids:
            marks = ", ".join(["%s"] * len(event_ids))
            cursor.execute(f"DELETE FROM {table} WHERE event_id IN (SELECT event_id FROM {table} "  # noqa: S608
                           f"WHERE event_id IN ({marks}){skip}) RETURNING event_id, type, historical", event_ids)
            claimed.extend((event_id, type_, bool(historical)) for event_id, type_, historical in cursor.fetchall())
        if more > len(claimed):
            cursor.execute(f"DELETE FROM {table} WHERE event_id IN (SELECT event_id FROM {table} "  # noqa: S608
                           f"ORDER BY event_id LIMIT %s{skip}) RETURNING event_id, type, historical",
                           [more - len(claimed)])
            claimed.extend((event_id, type_, bool(historical)) for event_id, type_, historical in cursor.fetchall())
    claimed.sort()
    return claimed
