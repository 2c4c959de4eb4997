"""Small display filters of the staff UI: phones as people read them, masked contact data."""

from functools import lru_cache

import phonenumbers
from django import template

register = template.Library()


@lru_cache(maxsize=4096)
def _readable(e164: str) -> str:
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    if number.country_code == 86:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


@register.filter
def phone(value: str) -> str:
    """Return a stored +86… phone as people write it (139 1234 5678; other countries with their code)."""
    return _readable(value) if value else ""


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


def _shown(value) -> str:
    if value is None or value == "":
        return "∅"
    if isinstance(value, (list, tuple)):
        return ", ".join(_shown(v) for v in value) or "∅"
    return str(value)


@register.filter
def audit_change(value) -> str:
    """Return an audit change as "old → new" (a pair), or the recorded value as it is."""
    if isinstance(value, (list, tuple)) and len(value) == 2:
        old, new = value
        return _shown(new) if old is None else f"{_shown(old)} → {_shown(new)}"
    return _shown(value)
