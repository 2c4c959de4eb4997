"""The error codes of sales: the stable `code` of a DomainError (the API's JSON `code`), one per meaning."""

from enum import StrEnum


class SalesCode(StrEnum):
    """The codes the sales app refuses with (stores, products, orders, refunds and sales reports); `field` says which input."""

    CATEGORY_CYCLE = "cycle"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    INACTIVE_PRODUCT = "inactive_product"
    INACTIVE_STORE = "inactive_store"
    INVALID_AMOUNT = "invalid_amount"
    INVALID_CHANNEL = "invalid_channel"
    INVALID_CHOICE = "invalid_choice"
    INVALID_ORDER_NO = "invalid_order_no"
    INVALID_PAYMENT_METHOD = "invalid_payment_method"
    INVALID_QUANTITY = "invalid_quantity"
    MERGED = "merged"
    NOT_FOUND = "not_found"
    NO_FREE_ORDER_NO = "no_number"
    ORDER_NO_TAKEN = "duplicate_order_no"
    PAID_IN_FUTURE = "paid_in_future"
    RANGE_TOO_LONG = "range_too_long"
    REFUND_TOO_LARGE = "refund_too_large"
    REQUIRED = "required"
    START_AFTER_END = "start_after_end"
    TOO_LONG = "too_long"
    TOO_MANY_LINES = "too_many"
    UNKNOWN_CATEGORY = "unknown_category"
    UNKNOWN_FIELD = "unknown_field"
    UNKNOWN_LINE = "unknown_line"
    UNKNOWN_PRODUCT = "unknown_product"
    UNKNOWN_STORE = "unknown_store"
