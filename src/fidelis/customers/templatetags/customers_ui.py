"""Rows of the 360° page that repeat: rendered in Python, where the template language costs most per row."""

from functools import lru_cache

from django import template
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from fidelis.events.models import Channel, EventType
from fidelis.web.templatetags.fidelis_ui import esc

register = template.Library()


@lru_cache(maxsize=16)
def _labels(language: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """Return the escaped labels of the event types and channels in this language, translated once per process."""
    return ({value: esc(label) for value, label in EventType.choices},
            {value: esc(label) for value, label in Channel.choices})


def _event_item(event, types: dict[str, str], channels: dict[str, str], zone) -> str:
    at = event.occurred_at.astimezone(zone)
    payload = event.payload
    amount = payload.get("amount") if isinstance(payload, dict) else None
    meta = channels.get(event.channel) or esc(event.channel)
    if event.touchpoint:
        meta += " · " + esc(event.touchpoint)
    if event.actor_id:
        meta += " · " + esc(getattr(event, "actor_name", None) or event.actor)
    return (
        f'<li class="event" data-type="{esc(event.type)}" data-event="{event.pk}">\n'
        f'  <div class="ev-time">{at:%Y-%m-%d}<br>{at:%H:%M}</div>\n'
        f'  <div class="ev-body"><strong>{types.get(event.type) or esc(event.type)}</strong>'
        + (f'<span class="amount">¥{esc(amount)}</span>' if amount else "")
        + (f"\n    <div>{esc(event.summary)}</div>" if event.summary else "")
        + f'\n    <div class="ev-meta">{meta}</div>\n  </div>\n</li>\n')


@register.simple_tag
def timeline_items(events) -> SafeString:
    """Return the <li> of each timeline event: time, type, amount, summary, channel, touchpoint and actor.

    A timeline page holds 30 events of a dozen fields each; this is about six times cheaper than the same markup
    as a template loop (measured on the 360° page), the escaping the same.
    """
    types, channels = _labels(get_language())
    zone = timezone.get_current_timezone()
    return mark_safe("".join(_event_item(event, types, channels, zone) for event in events))
