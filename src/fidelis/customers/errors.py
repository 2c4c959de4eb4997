"""The error codes of customers: the stable `code` of a DomainError (the API's JSON `code`), one per meaning."""

from enum import StrEnum


class CustomerCode(StrEnum):
    """The codes the customers app refuses with (the customer archive, consent, contacts, dedupe, merge and privacy); `field` says which input."""

    ALREADY_MERGED = "already_merged"
    ALREADY_REVIEWED = "already_reviewed"
    DUPLICATE_CUSTOMER = "duplicate_customer"
    ERASED = "erased"
    FORBIDDEN = "forbidden"
    INVALID_CHANNEL = "invalid_channel"
    INVALID_PHONE = "invalid_phone"
    INVALID_TAG = "invalid_tag"
    MERGED = "merged"
    NOT_ARCHIVED = "not_archived"
    NOT_COMPANY = "not_company"
    NOT_FOUND = "not_found"
    NUMBER_TAKEN = "duplicate_number"
    REQUIRED = "required"
    SAME_CUSTOMER = "same_customer"
    UNKNOWN_EVENT = "unknown_event"
    UNKNOWN_FIELD = "unknown_field"
    UNKNOWN_USER = "unknown_user"
