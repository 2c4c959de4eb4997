"""Small display helpers of the staff UI: phones as people read them, masked contact data, event types, dates,
money and counts, the pager's links."""


from django import template
from django.utils import timezone
from django.utils.formats import number_format

from fidelis.accounts.audit_labels import action_label, change_text, changes_shown, via_label
from fidelis.core.numbers import count, money
from fidelis.customers.normalize import format_phone
from fidelis.events.models import EVENT_TYPE_LABELS, InteractionOutcome

register = template.Library()


@register.filter
def phone(value: str) -> str:
    """Return a stored +86… phone as people write it (139 1234 5678; other countries with their code)."""
    return format_phone(value)


@register.filter
def event_type(value: str) -> str:
    """Return the name of an event type in the viewer's language (a type the system does not know, as it is), as
    `Event.type_label` does."""
    return str(EVENT_TYPE_LABELS.get(value, value))


@register.filter
def interaction_outcome(value: str) -> str:
    """Return the outcome of a logged interaction in the viewer's language (an unknown one as it is)."""
    try:
        return str(InteractionOutcome(value).label)
    except ValueError:
        return value


@register.filter
def percent(value, digits: int = 1) -> str:
    """Return a share (0.815) as a percentage with one decimal, as the language writes it ("81.5 %"); "" for none."""
    if value is None or value == "":
        return ""
    return f"{number_format(round(float(value) * 100, int(digits)), int(digits))} %"


@register.filter
def mask_phone(value: str) -> str:
    """Return the phone with the middle digits hidden (139 **** 5678), for roles that only read."""
    text = phone(value)
    digits = [i for i, c in enumerate(text) if c.isdigit()]
    if len(digits) < 7:
        return "*" * len(text)
    hidden = set(digits[3:-4])
    return "".join("*" if i in hidden else c for i, c in enumerate(text))


@register.filter
def mask_email(value: str) -> str:
    """Return the e-mail with most of the local part hidden (z***@example.cn)."""
    if not value or "@" not in value:
        return value or ""
    local, domain = value.split("@", 1)
    return f"{local[:1]}***@{domain}"


@register.filter
def audit_change(value) -> str:
    """Return an audit change as "old → new" (a pair), or the recorded value as it is (of no known field)."""
    return change_text("", "", value)


@register.filter
def audit_action(value: str) -> str:
    """Return the name of an audited action in the viewer's language (an unknown code as it is)."""
    return action_label(value)


@register.filter
def audit_via(value: str) -> str:
    """Return how an audited action came in (web, API, a rule…) in the viewer's language."""
    return via_label(value)


@register.filter
def audit_changes(entry) -> list[tuple[str, str]]:
    """Return an audit entry's changes as (field, "old → new") pairs: fields by their names and values by their
    choices' labels, in the viewer's language."""
    return changes_shown(entry.object_type, entry.changes)


@register.filter(expects_localtime=True)
def strftime(value, fmt: str) -> str:
    """Return the date or time formatted with strftime, in the current time zone ("" for none).

    For the numeric formats of timelines and tables, where Django's date filter costs several times more.
    """
    return value.strftime(fmt) if value else ""


@register.simple_tag
def today() -> str:
    """Return today's date in the current time zone as 2026-11-23 ({% now "Y-m-d" %} without the date format
    machinery)."""
    return timezone.localdate().isoformat()


# One way to write money and counts on every page (`core.numbers`): templates use these instead of `intcomma`
# or a bare value.
register.filter("money", money)
register.filter("count", count)


@register.simple_tag(takes_context=True)
def page_query(context, number: int) -> str:
    """Return the query string of the page's own address with `page` set to `number`: a pager keeps the filters."""
    query = context["request"].GET.copy()
    query["page"] = number
    return query.urlencode()
