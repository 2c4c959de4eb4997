"""API shapes of the customer archive: what clients send and what they get back."""

from datetime import date, datetime
from typing import Any

from django.utils.translation import gettext_lazy
from ninja import Field, Schema
from pydantic import ConfigDict

from fidelis.core.types import Date


class _Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class CustomerFields(_Strict):
    """The editable fields of a customer (customers.services.EDITABLE_FIELDS), all optional."""

    number: str | None = Field(None, max_length=20)
    kind: str | None = Field(None, description="individual | company")
    gender: str | None = Field(None, description="female | male | empty")
    birthday: Date | None = None
    phone: str | None = Field(None, max_length=40, description=gettext_lazy(
        "Any common format; stored as +86…"))
    phone_alt: str | None = Field(None, max_length=40)
    email: str | None = Field(None, max_length=254)
    wechat_id: str | None = Field(None, max_length=64)
    province: str | None = Field(None, max_length=30)
    city: str | None = Field(None, max_length=30)
    district: str | None = Field(None, max_length=30)
    address: str | None = Field(None, max_length=200)
    company_name: str | None = Field(None, max_length=120)
    industry: str | None = Field(None, max_length=60)
    company_size: str | None = None
    occupation: str | None = Field(None, max_length=60)
    interests: str | None = Field(None, max_length=200)
    special_requests: str | None = None
    notes: str | None = None
    category: str | None = Field(None, description="potential | basic | key")
    value_tier: str | None = Field(None, description="high | medium | low")
    lifecycle_stage: str | None = Field(None, description="interested | follower | member | buyer | loyal | advocate")
    source: str | None = Field(None, max_length=40)
    owner: str | None = Field(None, description=gettext_lazy(
        "User name of the owning sales rep; empty for none"))


class CustomerCreateIn(CustomerFields):
    name: str = Field(..., min_length=1, max_length=100)
    tags: list[str] = Field(default_factory=list, description=gettext_lazy(
        "Tag names; \"group:name\" puts a new tag in a group"))
    allow_duplicate: bool = Field(False, description=gettext_lazy(
        "Create the customer even when an active customer has the same phone or e-mail; without it such a "
        "request is refused with 409 duplicate_customer"))


class ExistingCustomerOut(Schema):
    public_id: str
    number: str
    name: str


class DuplicateCustomerOut(Schema):
    code: str = Field(..., description="duplicate_customer")
    message: str
    field: str = Field(..., description="phone | phone_alt | email")
    owner: str | None = Field(None, description=gettext_lazy(
        "Display name of the stored customer's owner, whom to ask"))
    existing: ExistingCustomerOut | None = Field(None, description=gettext_lazy(
        "The stored customer, when the caller may see it"))


class CustomerPatchIn(CustomerFields):
    name: str | None = Field(None, min_length=1, max_length=100)


class TagIn(_Strict):
    tag: str = Field(..., min_length=1, max_length=81)


class ConsentIn(_Strict):
    granted: bool
    source: str = Field(..., min_length=1, max_length=80, description=gettext_lazy(
        "Where consent was given or withdrawn"))


class ConsentOut(Schema):
    channel: str
    granted: bool
    source: str
    recorded_at: datetime


class ContactOut(Schema):
    name: str
    title: str
    phone: str
    email: str
    is_primary: bool


class CustomerOut(Schema):
    public_id: str
    number: str
    kind: str
    name: str
    gender: str
    birthday: date | None
    phone: str
    phone_alt: str
    email: str
    wechat_id: str
    province: str
    city: str
    district: str
    address: str
    company_name: str
    industry: str
    company_size: str
    occupation: str
    interests: str
    special_requests: str
    notes: str
    category: str
    value_tier: str
    lifecycle_stage: str
    source: str
    owner: str | None
    tags: list[str]
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_owner(obj) -> str | None:
        return obj.owner.username if obj.owner_id else None

    @staticmethod
    def resolve_tags(obj) -> list[str]:
        return [str(tag) for tag in obj.tags.all()]


class CustomerDetailOut(CustomerOut):
    consents: list[ConsentOut]
    contacts: list[ContactOut]

    @staticmethod
    def resolve_consents(obj) -> list[Any]:
        return list(obj.consents.all())

    @staticmethod
    def resolve_contacts(obj) -> list[Any]:
        return list(obj.contacts.all())


class CustomerListOut(Schema):
    count: int
    items: list[CustomerOut]


class TimelineEventOut(Schema):
    public_id: str
    type: str
    type_label: str
    occurred_at: datetime
    channel: str
    touchpoint: str
    summary: str = Field(..., description=gettext_lazy(
        "The event in a sentence, in the language of Accept-Language (made from the payload; for other "
        "events the summary they were recorded with)"))
    payload: dict[str, Any]
    actor: str | None

    @staticmethod
    def resolve_summary(obj) -> str:
        return obj.line

    @staticmethod
    def resolve_actor(obj) -> str | None:
        return obj.actor.username if obj.actor_id else None

    @staticmethod
    def resolve_type_label(obj) -> str:
        return str(obj.type_label)


class TimelineOut(Schema):
    items: list[TimelineEventOut]
    next_before: str | None = Field(None, description=gettext_lazy(
        "Pass as `before` for the next, older page"))
