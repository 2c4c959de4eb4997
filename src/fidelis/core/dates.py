"""Dates typed by people (one parser for the dates that reports, opportunities and contracts name), and moments
written as pages write them."""

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from fidelis.core.errors import DomainError

# The dates a report, an opportunity or a contract may name.
MIN_YEAR, MAX_YEAR = 2000, 2100


class DateCode(StrEnum):
    """The codes of the errors `parse_date` raises."""

    REQUIRED = "required"
    INVALID_DATE = "invalid_date"


def parse_date(value: Any, *, field: str, required: bool = False) -> date | None:
    """Return a date from a date or an ISO text (2026-12-31); raise DomainError naming the field otherwise."""
    if value in (None, ""):
        if required:
            raise DomainError(_("This field is required."), code=DateCode.REQUIRED, field=field)
        return None
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        text = str(value).strip()
        try:
            value = date.fromisoformat(text) if len(text) == 10 else None
        except ValueError:
            value = None
        if value is None:
            raise DomainError(_("“%(value)s” is not a date like 2026-12-31.") % {"value": text},
                              code=DateCode.INVALID_DATE, field=field)
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise DomainError(_("The date must lie between %(start)s and %(end)s.") % {"start": MIN_YEAR, "end": MAX_YEAR},
                          code=DateCode.INVALID_DATE, field=field)
    return value


def local_time(value: Any) -> str:
    """Return a moment (or its ISO text, as payloads and snapshots store it) as 2026-12-08 14:30 in the current time
    zone; "" for none. Raises ValueError for text that is no date-time."""
    if not value:
        return ""
    moment = value if isinstance(value, datetime) else parse_datetime(str(value))
    if moment is None:
        raise ValueError(value)
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return moment.strftime("%Y-%m-%d %H:%M")
