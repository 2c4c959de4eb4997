"""The error codes of work: the stable `code` of a DomainError (the API's JSON `code`), one per meaning."""

from enum import StrEnum


class WorkCode(StrEnum):
    """The codes the work app refuses with (tasks, reminders and follow-up rules); `field` says which input."""

    FORBIDDEN = "forbidden"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    INVALID_CHANNEL = "invalid_channel"
    INVALID_DATE = "invalid_date"
    INVALID_INTERACTION = "invalid_interaction"
    INVALID_OUTCOME = "invalid_outcome"
    INVALID_OWNER = "invalid_owner"
    INVALID_TEMPLATE = "invalid_template"
    NOT_A_NUMBER = "not_a_number"
    NOT_FOUND = "not_found"
    NOT_IN_FUTURE = "not_in_future"
    NOT_OPEN = "not_open"
    OWNER_CANNOT_SEE_CUSTOMER = "owner_cannot_see_customer"
    RELATED_NOT_SAVED = "related_not_saved"
    REMIND_AFTER_DUE = "remind_after_due"
    REMIND_OUT_OF_RANGE = "remind_out_of_range"
    REQUIRED = "required"
    TOO_LONG = "too_long"
    UNKNOWN_FIELD = "unknown_field"
    UNKNOWN_OWNER = "unknown_owner"
    UNKNOWN_TRIGGER = "unknown_trigger"
