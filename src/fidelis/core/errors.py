"""The one domain error type: a stable code, a translatable message, and the field it concerns.

Each app names its codes in an enumeration (`<app>/errors.py`); core's are here. Members are strings equal to their
values, which is what API bodies and import reports carry: a value never changes.
"""

from enum import StrEnum
from typing import Any

from django.core.exceptions import ValidationError


class ErrorCode(StrEnum):
    """The codes core gives itself: DomainError's default, a ValidationError's without a code of its own."""

    INVALID = "invalid"


class ImportCode(StrEnum):
    """The refusals of the import framework: reading a file (`core.tabular`) and the steps of the customer and order
    imports, which share it."""

    # the file
    TOO_LARGE = "too_large"
    INVALID_FORMAT = "invalid_format"
    EMPTY = "empty"
    NO_ROWS = "no_rows"
    NO_HEADER = "no_header"
    NO_SHEET = "no_sheet"
    NOT_XLSX = "not_xlsx"
    NOT_TEXT = "not_text"
    BAD_ENCODING = "bad_encoding"
    BAD_CSV = "bad_csv"
    NUL_CHARACTER = "nul_character"
    XML_ENTITIES = "xml_entities"
    TOO_MANY_ROWS = "too_many_rows"
    TOO_MANY_COLUMNS = "too_many_columns"
    CELL_TOO_LONG = "cell_too_long"
    # the job
    FORBIDDEN = "forbidden"
    UNKNOWN_FIELD = "unknown_field"
    MAPPED_TWICE = "mapped_twice"
    NAME_UNMAPPED = "name_unmapped"
    UNMAPPED = "unmapped"
    INVALID_MODE = "invalid_mode"
    NOT_VALIDATED = "not_validated"
    ALREADY_IMPORTED = "already_imported"


class DomainError(Exception):
    """A refusal the user can act on; never a 500."""

    status = 400

    def __init__(self, message: Any, *, code: str = ErrorCode.INVALID, field: str | None = None, **params: Any):
        self.message = message
        self.code = code
        self.field = field
        self.params = params
        super().__init__(str(message))

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON body the API answers with."""
        body: dict[str, Any] = {"code": self.code, "message": str(self.message)}
        if self.field:
            body["field"] = self.field
        if self.params:
            body.update({k: v for k, v in self.params.items() if isinstance(v, (str, int, float, list, dict))})
        return body


class NotFound(DomainError):
    status = 404


class PermissionDenied(DomainError):
    status = 403


class Conflict(DomainError):
    status = 409


def validation_error_to_domain(exc: Any) -> DomainError:
    """Turn a Django ValidationError into a DomainError naming the first bad field."""
    if hasattr(exc, "error_dict"):
        field, errors = next(iter(exc.error_dict.items()))
        first = errors[0]
        return DomainError(" ".join(first.messages), code=first.code or ErrorCode.INVALID, field=field,
                           errors={f: [str(m) for e in errs for m in e.messages] for f, errs in exc.error_dict.items()})
    messages = getattr(exc, "messages", [str(exc)])
    return DomainError(" ".join(str(m) for m in messages), code=getattr(exc, "code", None) or ErrorCode.INVALID)


def full_clean_or_raise(obj: Any, **kwargs: Any) -> None:
    """Run the model's full_clean (same keyword arguments) and turn a ValidationError into a DomainError."""
    try:
        obj.full_clean(**kwargs)
    except ValidationError as exc:
        raise validation_error_to_domain(exc)


def form_error(form: Any, exc: DomainError) -> None:
    """Show a service's refusal on the form: on the field it names when the form has it, else above the form."""
    form.add_error(exc.field if exc.field in form.fields else None, str(exc.message))
