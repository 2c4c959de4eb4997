"""The one domain error type: a stable code, a translatable message, and the field it concerns."""

from typing import Any

from django.core.exceptions import ValidationError


class DomainError(Exception):
    """A refusal the user can act on; never a 500."""

    status = 400

    def __init__(self, message: Any, *, code: str = "invalid", field: str | None = None, **params: Any):
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
        return DomainError(" ".join(first.messages), code=first.code or "invalid", field=field,
                           errors={f: [str(m) for e in errs for m in e.messages] for f, errs in exc.error_dict.items()})
    messages = getattr(exc, "messages", [str(exc)])
    return DomainError(" ".join(str(m) for m in messages), code=getattr(exc, "code", None) or "invalid")


def full_clean_or_raise(obj: Any, **kwargs: Any) -> None:
    """Run the model's full_clean (same keyword arguments) and turn a ValidationError into a DomainError."""
    try:
        obj.full_clean(**kwargs)
    except ValidationError as exc:
        raise validation_error_to_domain(exc)


def form_error(form: Any, exc: DomainError) -> None:
    """Show a service's refusal on the form: on the field it names when the form has it, else above the form."""
    form.add_error(exc.field if exc.field in form.fields else None, str(exc.message))
