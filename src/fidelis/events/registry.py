"""Handlers that react to events: apps register here; `record_event` dispatches after commit."""

from collections import defaultdict
from collections.abc import Callable

Handler = Callable[[int], None]
_handlers: dict[str, list[Handler]] = defaultdict(list)


def on_event(*event_types: str) -> Callable[[Handler], Handler]:
    """Register a handler for the given event types ("*" for all); it receives the event id."""

    def decorator(func: Handler) -> Handler:
        for event_type in event_types:
            if func not in _handlers[event_type]:
                _handlers[event_type].append(func)
        return func

    return decorator


def handlers_for(event_type: str) -> list[Handler]:
    """Return the handlers registered for a type, specific ones first."""
    return [*_handlers.get(event_type, []), *_handlers.get("*", [])]
