"""The sentence the timeline shows for an event, made from its payload when it is shown, in the viewer's language.

An event stores facts (its type, its payload); the words are rendered here. Each app registers, in its
`event_lines` module (loaded when the apps are ready), one renderer per event type it records:

    @line_for("tag.added", "tag.removed")
    def tag_line(payload, event):
        return payload["tag"]

A renderer takes the payload and the event, uses gettext at call time and runs no query (a timeline page renders
up to 50 events): what it needs is in the payload, or on the event row itself. When the payload lacks its facts
(an event written before the facts were stored, or sent by an outside system in its own shape) it returns None or
fails on the missing key; the event then shows the summary it was recorded with, as it was sent.
"""

from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from fidelis.core.numbers import MINUS, count

LineRenderer = Callable[[dict, Any], str | None]
_renderers: dict[str, LineRenderer] = {}


def line_for(*event_types: str) -> Callable[[LineRenderer], LineRenderer]:
    """Register a renderer of the timeline sentence for these event types (one renderer per type)."""

    def decorator(func: LineRenderer) -> LineRenderer:
        for event_type in event_types:
            _renderers[str(event_type)] = func
        return func

    return decorator


def event_line(event) -> str:
    """Return the event's sentence in the active language: its renderer's, else the summary it was recorded with."""
    render = _renderers.get(event.type)
    payload = event.payload
    if render is not None and isinstance(payload, dict):
        try:
            text = render(payload, event)
        except (KeyError, TypeError, ValueError, ArithmeticError):
            text = None  # a payload of another shape: the stored summary is all there is
        if text:
            return str(text)[:300]
    return event.summary or ""


def points(value: Any, *, sign: bool = False) -> str:
    """Return points as every page writes them: 5,000; with `sign`, +500 or −500."""
    n = int(value)
    if sign and n:
        return ("+" if n > 0 else MINUS) + count(abs(n))
    return count(n)


def is_amount(value: Any) -> bool:
    """Return whether the value is an amount of money (a number or a numeric string, not empty)."""
    if value in (None, "") or isinstance(value, bool):
        return False
    try:
        Decimal(str(value))
    except (InvalidOperation, ValueError):
        return False
    return True


def day(value: Any) -> str:
    """Return an ISO date from a payload as it is written (2026-12-08); a date as ISO."""
    if isinstance(value, date):
        return value.isoformat()
    return date.fromisoformat(str(value)).isoformat()


def listed(items: list[str]) -> str:
    """Return items as one list in the active language (a、b、c in Chinese; a, b, c in English)."""
    # Translators: the separator between the items of a list in a sentence (Chinese: 、).
    return _(", ").join(str(item) for item in items)
