"""API shapes of the event stream."""

from datetime import datetime
from typing import Any

from django.utils.translation import gettext_lazy
from ninja import Field, Schema
from pydantic import ConfigDict

from fidelis.core.types import DateTime


class EventIn(Schema):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"description": gettext_lazy(
        "One event from an outside system; name the customer by public id, customer number or phone.")})

    customer: str | None = Field(None, max_length=40,
                                 description=gettext_lazy(
                                     "Public id, customer number or phone (any format) of the customer"))
    customer_number: str | None = Field(None, max_length=20)
    phone: str | None = Field(None, max_length=40)
    type: str = Field(..., min_length=3, max_length=40, description=gettext_lazy(
        "Dotted name such as order.paid"))
    occurred_at: DateTime | None = Field(None, description=gettext_lazy(
        "When it happened; now when left out"))
    channel: str = Field("api", min_length=1, max_length=16)
    touchpoint: str = Field("", max_length=80)
    summary: str = Field("", max_length=200)
    payload: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str | None = Field(None, min_length=1, max_length=120,
                                        description=gettext_lazy("The same key twice records one event; "
                                                                 "the Idempotency-Key header works too"))


class EventOut(Schema):
    public_id: str
    customer: str
    type: str
    occurred_at: datetime
    channel: str
    touchpoint: str
    summary: str = Field(..., description=gettext_lazy(
        "The event in a sentence, in the language of Accept-Language (made from the payload for the types "
        "the platform knows; else the summary sent)"))
    payload: dict[str, Any]
    idempotency_key: str | None
    created: bool

    @staticmethod
    def resolve_summary(obj) -> str:
        return obj.line

    @staticmethod
    def resolve_customer(obj) -> str:
        return obj.customer.public_id
