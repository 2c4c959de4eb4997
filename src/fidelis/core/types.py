"""Types of API input with the bounds that the databases and Python keep, so that bad input is a 4xx, never a 500.

PostgreSQL refuses NUL in text and jsonb, integers beyond its column types, and time-zone offsets beyond ±15:59;
Python's dates end in the year 9999 and cannot always be moved to UTC near the ends. The schemas and the query and
path parameters of every app use these types; the API's parser refuses NUL in bodies and query strings.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from django.utils.translation import gettext as _
from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError, core_schema

INT_MAX = 2**31 - 1  # PostgreSQL integer
BIGINT_MAX = 2**63 - 1  # PostgreSQL bigint
MONEY_MAX = Decimal("9999999999.99")  # DecimalField(max_digits=12, decimal_places=2)
MIN_YEAR, MAX_YEAR = 1900, 2999
MAX_OFFSET = timedelta(hours=14)  # the furthest offset in use (Kiribati); PostgreSQL takes up to ±15:59


def text_problem(value: str) -> str | None:
    """Return the error type when the text cannot be stored (a NUL character, a lone surrogate), else None."""
    if "\x00" in value:
        return "nul_character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "invalid_text"
    return None


def text_error(problem: str, field: str) -> str:
    """Return the message for a text_problem of the field."""
    if problem == "nul_character":
        return _("The value of “%(field)s” contains a NUL character.") % {"field": field}
    return _("The value of “%(field)s” is not valid text.") % {"field": field}


def _text(value: str) -> str:
    problem = text_problem(value)
    if problem == "nul_character":
        raise PydanticCustomError(problem, _("Text may not contain a NUL character."))
    if problem:
        raise PydanticCustomError(problem, _("This is not valid text."))
    return value


@dataclass(frozen=True)
class Within:
    """Refuse a number outside [low, high], and say so in the OpenAPI document.

    A validator rather than Field(ge=, le=): pydantic lets a type's own constraint win over the same constraint
    given where the type is used, and `offset: Int = Field(0, ge=0)` must still refuse -1.
    """

    low: int | Decimal
    high: int | Decimal

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> dict[str, Any]:
        json_schema = handler(schema)
        for part in json_schema.get("anyOf", [json_schema]):
            if part.get("type") in ("integer", "number"):
                part.setdefault("minimum", _json_number(self.low))
                part.setdefault("maximum", _json_number(self.high))
        return json_schema

    def _check(self, value: Any) -> Any:
        # Decimal("1e999999") is finite and compares fine: it is refused here, as NaN and Infinity by pydantic.
        if not self.low <= value <= self.high:
            raise PydanticCustomError("out_of_range", _("Enter a number between %(low)s and %(high)s.")
                                      % {"low": self.low, "high": self.high})
        return value


def _json_number(value: int | Decimal) -> int | float:
    return float(value) if isinstance(value, Decimal) else value


def _years(value: date) -> Any:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise PydanticCustomError("date_range", _("Enter a date between the years %(first)s and %(last)s.")
                                  % {"first": MIN_YEAR, "last": MAX_YEAR})
    return value


def _offset(value: datetime) -> datetime:
    offset = value.utcoffset()
    if offset is not None and abs(offset) > MAX_OFFSET:
        raise PydanticCustomError("timezone_offset", _("A time-zone offset lies between -14:00 and +14:00."))
    return _years(value)


#: Text without NUL characters (for path parameters: bodies and query strings are checked by the parser).
Text = Annotated[str, AfterValidator(_text)]
#: An integer that fits a PostgreSQL `integer` column (counts, quantities, minutes, page offsets).
Int = Annotated[int, Within(-INT_MAX - 1, INT_MAX)]
#: An integer that fits a PostgreSQL `bigint` column (points, entry ids).
BigInt = Annotated[int, Within(-BIGINT_MAX - 1, BIGINT_MAX)]
#: The id of a row in the path (a pipeline, a stage); 0 names no row, and is answered as any unknown id.
RowId = Annotated[int, Within(0, BIGINT_MAX)]
#: An amount of money in CNY: finite, and within what a money column holds.
Money = Annotated[Decimal, Field(allow_inf_nan=False), Within(-MONEY_MAX, MONEY_MAX)]
#: A date between 1900 and 2999.
Date = Annotated[date, AfterValidator(_years)]
#: A date and time between 1900 and 2999 with an offset of at most 14 hours; without one it is the mall's time.
DateTime = Annotated[datetime, AfterValidator(_offset)]
