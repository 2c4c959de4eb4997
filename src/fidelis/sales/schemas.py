"""API shapes of products and orders (POS, e-shop, WeChat mini-program)."""

from datetime import datetime
from decimal import Decimal

from django.utils.translation import gettext_lazy
from ninja import Field, Schema
from pydantic import ConfigDict

from fidelis.core.types import BigInt, Date, DateTime, Int, Money


class _Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class StoreOut(Schema):
    code: str
    name: str
    is_active: bool


class ProductOut(Schema):
    id: str
    sku: str
    name: str
    category: str
    category_path: str
    list_price: Decimal
    is_active: bool


class ProductIn(_Strict):
    sku: str = Field(..., min_length=1, max_length=40)
    name: str = Field(..., min_length=1, max_length=120)
    category: str = Field(..., min_length=1, max_length=60, description=gettext_lazy(
        "Category name; it must exist"))
    list_price: Money = Field(..., description=gettext_lazy("CNY, before discounts"))
    is_active: bool = True


class LineIn(_Strict):
    sku: str = Field(..., min_length=1, max_length=40)
    quantity: Int = Field(..., description=gettext_lazy("At least 1"))
    unit_price: Money | None = Field(None, description=gettext_lazy("CNY; default: the product's list price"))
    discount: Money = Field(Decimal("0"), description=gettext_lazy("Discount on this line, CNY"))


class OrderIn(_Strict):
    model_config = ConfigDict(json_schema_extra={"description": gettext_lazy(
        "A paid order; name the customer by public id, customer number or phone.")})

    customer: str | None = Field(None, max_length=40, description=gettext_lazy(
        "Public id, customer number or phone"))
    customer_number: str | None = Field(None, max_length=20)
    phone: str | None = Field(None, max_length=40)
    order_no: str | None = Field(None, min_length=1, max_length=40, description=gettext_lazy(
        "Given when left out"))
    channel: str = Field("store", description="store | online | wechat | phone")
    store: str | None = Field(None, max_length=20, description=gettext_lazy(
        "Store code; required for store orders"))
    payment_method: str = Field("wechat_pay", description="wechat_pay | alipay | card | cash | gift_card | "
                                                          "transfer | other")
    discount: Money = Field(Decimal("0"), description=gettext_lazy("Discount on the whole order, CNY"))
    paid_at: DateTime | None = Field(None, description=gettext_lazy("When it was paid; now when left out"))
    note: str = Field("", max_length=200)
    lines: list[LineIn] = Field(..., min_length=1, max_length=200)


class LineOut(Schema):
    id: int
    sku: str
    name: str
    category: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    amount: Decimal
    refunded_quantity: int


class RefundOut(Schema):
    id: str
    amount: Decimal
    reason: str
    created_at: datetime
    lines: list[dict]


class OrderOut(Schema):
    id: str
    order_no: str
    customer: str
    customer_number: str
    customer_name: str
    channel: str
    store: str | None
    payment_method: str
    subtotal: Decimal
    discount: Decimal
    paid_amount: Decimal
    refunded_amount: Decimal
    status: str
    paid_at: datetime
    note: str
    lines: list[LineOut]
    refunds: list[RefundOut] | None = None
    created: bool | None = None


class OrderQuery(Schema):
    date_from: Date | None = None
    date_to: Date | None = None
    store: str = ""
    channel: str = ""
    status: str = ""
    customer: str = Field("", description=gettext_lazy("Customer public id"))
    q: str = Field("", description=gettext_lazy("Order number, or its beginning"))
    limit: int = Field(50, ge=1, le=200)
    offset: Int = Field(0, ge=0)


class RefundLineIn(_Strict):
    line: BigInt | None = Field(None, description=gettext_lazy("Order line id (or name the sku)"))
    sku: str | None = Field(None, max_length=40)
    quantity: Int


class RefundIn(_Strict):
    amount: Money | None = Field(None, description=gettext_lazy(
        "CNY; default: the paid value of the lines named"))
    reason: str = Field(..., min_length=1, max_length=200)
    lines: list[RefundLineIn] | None = None


class RefundResultOut(Schema):
    refund: RefundOut
    order: OrderOut
    created: bool
