"""The codes of the events app's refusals (`DomainError.code`): the event stream, its API and the webhooks.

Members are strings equal to their values, which is what API bodies carry; a value never changes.
"""

from enum import StrEnum


class EventCode(StrEnum):
    INVALID = "invalid"
    REQUIRED = "required"
    NOT_FOUND = "not_found"
    # the event
    INVALID_TYPE = "invalid_type"
    TOO_LARGE = "too_large"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    # the customer it names
    INVALID_PHONE = "invalid_phone"
    AMBIGUOUS_CUSTOMER = "ambiguous_customer"
    # webhooks
    INACTIVE = "inactive"
    NOT_FAILED = "not_failed"
