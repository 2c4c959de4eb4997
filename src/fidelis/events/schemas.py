"""API shapes of the event stream."""

from datetime import datetime
from typing import Any

from ninja import Field, Schema
from pydantic import ConfigDict

from fidelis.core.types import DateTime


class EventIn(Schema):
    """One event from an outside system; name the customer by public id, customer number or phone."""

    model_config = ConfigDict(extra="forbid")

    customer: str | None = Field(None, max_length=40,
                                 description="Public id, customer number or phone (any format) of the customer")
    customer_number: str | None = Field(None, max_length=20)
    phone: str | None = Field(None, max_length=40)
    type: str = Field(..., min_length=3, max_length=40, description="Dotted name such as order.paid")
    occurred_at: DateTime | None = Field(None, description="When it happened; now when left out")
    channel: str = Field("api", min_length=1, max_length=16)
    touchpoint: str = Field("", max_length=80)
    summary: str = Field("", max_length=200)
    payload: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str | None = Field(None, min_length=1, max_length=120,
                                        description="The same key twice records one event; "
                                                    "the Idempotency-Key header works too")


class EventOut(Schema):
    public_id: str
    customer: str
    type: str
    occurred_at: datetime
    channel: str
    touchpoint: str
    summary: str = Field(..., description="The event in a sentence, in the language of Accept-Language (made from "
                                          "the payload for the types the platform knows; else the summary sent)")
    payload: dict[str, Any]
    idempotency_key: str | None
    created: bool

    @staticmethod
    def resolve_summary(obj) -> str:
        return obj.line

    @staticmethod
    def resolve_customer(obj) -> str:
        return obj.customer.public_id
