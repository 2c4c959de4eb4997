"""Handlers that react to events: apps register here; `record_event` dispatches after commit.

A handler receives one event id; a batch handler (`on_event(..., batch=True)`) receives the ids of every event of
a dispatched batch it reacts to, in the order they were recorded, and does for all of them at once what it would
do for each. Events recorded as history (imported: an order paid in 2024) reach only the handlers that declare
`history=True`: a lifecycle stage follows from history, a webhook or a follow-up task for it would be wrong.
"""

from collections import defaultdict
from collections.abc import Callable
from typing import Any

Handler = Callable[[Any], Any]
Validator = Callable[[str, dict], None]
_handlers: dict[str, list[Handler]] = defaultdict(list)
_excluded: dict[Handler, frozenset[str]] = {}
_batch: set[Handler] = set()
_history: set[Handler] = set()
_validators: dict[str, list[Validator]] = defaultdict(list)


def on_event(*event_types: str, exclude: frozenset[str] | set[str] = frozenset(), batch: bool = False,
             history: bool = False) -> Callable[[Handler], Handler]:
    """Register a handler for the given event types ("*" for all but `exclude`).

    It receives the event id, or with `batch` the list of the ids of a dispatched batch; with `history`, events
    recorded as history as well.
    """

    def decorator(func: Handler) -> Handler:
        for event_type in event_types:
            if func not in _handlers[event_type]:
                _handlers[event_type].append(func)
        if exclude:
            _excluded[func] = frozenset(exclude) | _excluded.get(func, frozenset())
        if batch:
            _batch.add(func)
        if history:
            _history.add(func)
        return func

    return decorator


def handlers_for(event_type: str, *, historical: bool = False) -> list[Handler]:
    """Return the handlers registered for a type, specific ones first; for an event recorded as history, those
    that take history."""
    return [h for h in (*_handlers.get(event_type, []), *_handlers.get("*", []))
            if event_type not in _excluded.get(h, ()) and (not historical or h in _history)]


def is_batch(handler: Handler) -> bool:
    return handler in _batch


def validates(*event_types: str) -> Callable[[Validator], Validator]:
    """Register a check of an event type's payload, run by `record_event` before anything is written.

    The validator receives (type, payload) and raises a DomainError naming the field to refuse the event.
    """

    def decorator(func: Validator) -> Validator:
        for event_type in event_types:
            if func not in _validators[event_type]:
                _validators[event_type].append(func)
        return func

    return decorator


def validators_for(event_type: str) -> list[Validator]:
    return list(_validators.get(event_type, []))
