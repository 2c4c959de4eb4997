"""API shapes of the member club (POS, e-shop, WeChat official account)."""

from datetime import datetime
from decimal import Decimal

from django.utils.translation import gettext_lazy
from ninja import Field, Schema
from pydantic import ConfigDict

from fidelis.core.types import BigInt, DateTime, Money, Text


class _Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class TierOut(Schema):
    id: int
    name: str
    rank: int
    earn_multiplier: Decimal


class ProgressOut(Schema):
    next_tier: str | None
    basis: str | None
    value: Decimal
    needed: Decimal
    percent: int
    grace_until: str | None


class CouponOut(Schema):
    code: str
    name: str
    kind: str
    value: Decimal
    min_spend: Decimal | None
    status: str
    valid_from: datetime
    valid_until: datetime | None
    order_ref: str = ""
    discount: Decimal | None = None


class MemberOut(Schema):
    number: str
    card_code: str
    program: str
    customer: str
    customer_number: str
    name: str
    status: str
    joined_at: datetime
    balance: int
    points_value_cny: Decimal
    tier: TierOut | None
    progress: ProgressOut | None = None
    coupons: list[CouponOut] | None = None
    created: bool | None = None


class EnrolIn(_Strict):
    customer: str | None = Field(None, description=gettext_lazy("Customer public id"))
    customer_number: str | None = None
    phone: str | None = None
    program: str | None = Field(None, description=gettext_lazy(
        "Program public id; default: the first active program"))
    channel: str = Field("api", max_length=16)
    referrer: str | None = Field(None, description=gettext_lazy(
        "Member number or card code of the member who referred them"))


class EntryOut(Schema):
    id: int
    kind: str
    points: int
    balance_after: int
    occurred_at: datetime
    reason: str
    order_ref: str
    rule: str | None
    expires_at: datetime | None


class AdjustIn(_Strict):
    points: BigInt = Field(..., description=gettext_lazy("Positive to add, negative to take away"))
    reason: str = Field(..., min_length=1, max_length=200)


class PayIn(_Strict):
    points: BigInt = Field(..., gt=0)
    order_no: str = Field(..., min_length=1, max_length=64)


class PayOut(Schema):
    points: int
    value_cny: Decimal
    balance: int
    entry: int


class RedeemIn(_Strict):
    reward: str = Field(..., description=gettext_lazy("Reward public id"))


class RedemptionOut(Schema):
    reward: str
    points: int
    balance: int
    coupon: CouponOut | None


class RewardOut(Schema):
    id: str
    name: str
    kind: str
    description: str
    points_cost: int
    min_tier: str | None
    stock: int | None


class PosOrderIn(_Strict):
    model_config = ConfigDict(json_schema_extra={"description": gettext_lazy(
        "A paid order as a till sends it (`POST /api/loyalty/orders`).")})

    member: str | None = Field(None, description=gettext_lazy("Member number"))
    card: str | None = Field(None, description=gettext_lazy("Card / QR code"))
    phone: str | None = None
    order_no: str = Field(..., min_length=1, max_length=40, description=gettext_lazy(
        "The order's number: 1 to 40 characters, no spaces"))
    amount: Money = Field(..., description=gettext_lazy(
        "Paid amount in CNY (or refunded amount for a refund)"))
    channel: str = Field("store", max_length=16, description="store | online | wechat | phone")
    store: str = Field("", max_length=80, description=gettext_lazy(
        "Store code; a name the catalogue does not know is kept as the place of sale"))
    categories: list[str] = Field(default_factory=list, description=gettext_lazy(
        "The product categories sold, for the earn rules"))
    occurred_at: DateTime | None = Field(None, description=gettext_lazy(
        "When it was paid; now when left out"))


class PosRefundIn(PosOrderIn):
    model_config = ConfigDict(json_schema_extra={"description": gettext_lazy(
        "A refund of (part of) a paid order as a till sends it (`POST /api/loyalty/refunds`).")})

    amount: Money = Field(..., description=gettext_lazy("The amount refunded now, in CNY"))
    refund_no: Text | None = Field(None, min_length=1, max_length=40,
                                  description=gettext_lazy(
                                      "The refund's own number: the same number again is the same refund"))
    reason: str = Field("", max_length=200, description=gettext_lazy(
        "Why it is refunded; shown on the order page"))


class PosOrderOut(Schema):
    event: str
    created: bool
    points: int
    balance: int
    tier: str | None
    waiting: bool = Field(False, description=gettext_lazy(
        "A refund whose purchase has not arrived yet: applied when it does"))


class CouponCheckIn(_Strict):
    code: str = Field(..., min_length=4, max_length=24)
    order_amount: Money | None = None
    member: str | None = Field(None, description=gettext_lazy("Member number: the coupon must be theirs"))


class CouponCheckOut(Schema):
    code: str
    name: str
    valid: bool
    discount: Decimal | None
    code_error: str | None = None
    message: str | None = None


class CouponRedeemIn(_Strict):
    code: str = Field(..., min_length=4, max_length=24)
    order_no: str = Field(..., min_length=1, max_length=64)
    order_amount: Money | None = None
    member: str | None = None


class CouponReverseIn(_Strict):
    reason: str = Field("", max_length=200)
