"""The error codes of feedback: the stable `code` of a DomainError (the API's JSON `code`), one per meaning."""

from enum import StrEnum


class FeedbackCode(StrEnum):
    """The codes the feedback app refuses with (the touchpoint catalogue, survey definitions and answers); `field`
    says which input."""

    DUPLICATE_NAME = "duplicate_name"
    FORBIDDEN = "forbidden"
    INVALID_ANSWER = "invalid_answer"
    INVALID_CHANNEL = "invalid_channel"
    INVALID_DIRECTION = "invalid_direction"
    INVALID_STAGE = "invalid_stage"
    INVALID_SURVEY = "invalid_survey"
    NOT_A_NUMBER = "not_a_number"
    NOT_FOUND = "not_found"
    REQUIRED = "required"
    SKIPPED_QUESTION = "skipped_question"
    UNKNOWN_FIELD = "unknown_field"
    UNKNOWN_QUESTION = "unknown_question"
