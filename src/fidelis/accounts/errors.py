"""The error codes of accounts: the stable `code` of a DomainError (the API's JSON `code`), one per meaning."""

from enum import StrEnum


class AccountCode(StrEnum):
    """The codes the accounts app refuses with (users, roles, API tokens and permissions); `field` says which input."""

    FORBIDDEN = "forbidden"
    INVALID_ROLE = "invalid_role"
    INVALID_SCOPE = "invalid_scope"
    MISSING_SCOPE = "missing_scope"
    REQUIRED = "required"
    SELF_DEACTIVATE = "self_deactivate"
    TOKEN_EXPIRED = "token_expired"
    TOKEN_INVALID = "token_invalid"
    TOKEN_REVOKED = "token_revoked"
    UNKNOWN_LANGUAGE = "unknown_language"
    USERNAME_TAKEN = "duplicate"
