"""Handlers that react to events: apps register here; `record_event` dispatches after commit."""

from collections import defaultdict
from collections.abc import Callable

Handler = Callable[[int], None]
Validator = Callable[[str, dict], None]
_handlers: dict[str, list[Handler]] = defaultdict(list)
_excluded: dict[Handler, frozenset[str]] = {}
_validators: dict[str, list[Validator]] = defaultdict(list)


def on_event(*event_types: str, exclude: frozenset[str] | set[str] = frozenset()) -> Callable[[Handler], Handler]:
    """Register a handler for the given event types ("*" for all but `exclude`); it receives the event id."""

    def decorator(func: Handler) -> Handler:
        for event_type in event_types:
            if func not in _handlers[event_type]:
                _handlers[event_type].append(func)
        if exclude:
            _excluded[func] = frozenset(exclude) | _excluded.get(func, frozenset())
        return func

    return decorator


def handlers_for(event_type: str) -> list[Handler]:
    """Return the handlers registered for a type, specific ones first."""
    return [h for h in (*_handlers.get(event_type, []), *_handlers.get("*", []))
            if event_type not in _excluded.get(h, ())]


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
