"""API shapes of opportunities and contracts."""

from datetime import date, datetime
from decimal import Decimal

from django.utils.translation import gettext_lazy
from ninja import Field, Schema
from pydantic import ConfigDict

from fidelis.core.types import Int, Money
from fidelis.sales.schemas import LineIn


class _Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class OpportunityIn(_Strict):
    model_config = ConfigDict(json_schema_extra={"description": gettext_lazy(
        "A new opportunity; name the customer by public id, customer number or phone.")})

    customer: str | None = Field(None, max_length=40, description=gettext_lazy(
        "Public id, customer number or phone"))
    customer_number: str | None = Field(None, max_length=20)
    phone: str | None = Field(None, max_length=40)
    title: str = Field(..., min_length=1, max_length=120)
    source: str = Field("walk_in", description="walk_in | referral | wechat | phone | event | website | other")
    expected_amount: Money | None = Field(None, description="CNY")
    expected_close_date: str | None = Field(None, description="YYYY-MM-DD")
    stage: str | None = Field(None, description=gettext_lazy("Stage name or id; default: the first stage"))
    probability: Int | None = Field(None, description=gettext_lazy("0–100; default: the stage's"))
    products: list[str] | None = Field(None, description=gettext_lazy("SKUs"))
    owner: str | None = Field(None, description=gettext_lazy("User name (managers only)"))
    notes: str = Field("", max_length=4000)


class OpportunityPatch(_Strict):
    title: str | None = Field(None, min_length=1, max_length=120)
    source: str | None = None
    expected_amount: Money | None = None
    expected_close_date: str | None = Field(None, description="YYYY-MM-DD")
    probability: Int | None = None
    products: list[str] | None = None
    owner: str | None = Field(None, description=gettext_lazy("User name (managers only)"))
    notes: str | None = Field(None, max_length=4000)


class WonOrderIn(_Strict):
    lines: list[LineIn] = Field(..., min_length=1, max_length=200)
    channel: str = "store"
    store: str | None = None
    payment_method: str = "wechat_pay"


class WonContractIn(_Strict):
    number: str = Field(..., min_length=1, max_length=40)
    amount: Money | None = Field(None, description=gettext_lazy("CNY; default: the expected amount"))
    start_date: str = Field(..., description="YYYY-MM-DD")
    end_date: str = Field(..., description="YYYY-MM-DD")
    payment_method: str = "transfer"


class MoveIn(_Strict):
    stage: str = Field(..., description=gettext_lazy("Stage name or id"))
    expected_amount: Money | None = None
    expected_close_date: str | None = Field(None, description="YYYY-MM-DD")
    lost_reason: str = Field("", description=gettext_lazy(
        "price | competitor | no_budget | no_decision | timing | product | other; required for a lost stage"))
    lost_note: str = Field("", max_length=300)
    order: WonOrderIn | None = Field(None, description=gettext_lazy("Won: record this order"))
    contract: WonContractIn | None = Field(None, description=gettext_lazy("Won: register this contract"))


class OpportunityOut(Schema):
    id: str
    title: str
    customer: str
    customer_name: str
    source: str
    expected_amount: Decimal | None
    expected_close_date: date | None
    stage: str
    status: str
    probability: int
    owner: str
    products: list[str]
    won_at: datetime | None
    lost_at: datetime | None
    lost_reason: str
    lost_note: str
    order: str | None
    contracts: list[str]
    created_at: datetime
    stage_changed_at: datetime


class ContractIn(_Strict):
    customer: str | None = Field(None, max_length=40, description=gettext_lazy(
        "Public id, customer number or phone"))
    customer_number: str | None = Field(None, max_length=20)
    phone: str | None = Field(None, max_length=40)
    number: str = Field(..., min_length=1, max_length=40)
    title: str = Field("", max_length=120)
    amount: Money
    payment_method: str = "transfer"
    start_date: str = Field(..., description="YYYY-MM-DD")
    end_date: str = Field(..., description="YYYY-MM-DD")
    signed_at: str | None = Field(None, description="YYYY-MM-DD")
    status: str = Field("active", description="draft | active")
    opportunity: str | None = Field(None, description=gettext_lazy("Public id of the opportunity"))
    owner: str | None = Field(None, description=gettext_lazy("User name (managers only)"))
    notes: str = Field("", max_length=4000)


class ContractRenewIn(_Strict):
    number: str = Field(..., min_length=1, max_length=40, description=gettext_lazy(
        "Number of the new contract"))
    amount: Money | None = Field(None, description=gettext_lazy("Default: the old contract's amount"))
    start_date: str | None = Field(None, description=gettext_lazy(
        "YYYY-MM-DD; default: the day after the old one ends"))
    end_date: str | None = Field(None, description=gettext_lazy(
        "YYYY-MM-DD; default: as long as the old one"))
    payment_method: str | None = Field(None, description=gettext_lazy("Default: the old contract's"))
    notes: str = Field("", max_length=4000)


class ContractTerminateIn(_Strict):
    reason: str = Field(..., min_length=1, max_length=300)


class ContractOut(Schema):
    id: str
    number: str
    title: str
    customer: str
    customer_name: str
    amount: Decimal
    payment_method: str
    start_date: date
    end_date: date
    status: str
    signed_at: date | None
    owner: str
    opportunity: str | None
    renewal_of: str | None


class OpportunityQuery(Schema):
    stage: str = Field("", description=gettext_lazy("Stage id"))
    owner: str = Field("", description=gettext_lazy("User id"))
    source: str = ""
    status: str = Field("", description="open | won | lost")
    month: str = Field("", description=gettext_lazy("Expected close month, YYYY-MM"))
    customer: str = Field("", description=gettext_lazy("Customer public id"))
    limit: int = Field(50, ge=1, le=200)
    offset: Int = Field(0, ge=0)


class ContractQuery(Schema):
    status: str = ""
    customer: str = Field("", description=gettext_lazy("Customer public id"))
    ending_within: str = Field("", description=gettext_lazy("Days"))
    limit: int = Field(50, ge=1, le=200)
    offset: Int = Field(0, ge=0)


# --- pipelines and their stages ---------------------------------------------------------------------------------


class StageIn(_Strict):
    model_config = ConfigDict(json_schema_extra={"description": gettext_lazy(
        "A stage: its name in the pipeline, default win probability, kind and the fields it requires.")})

    name: str = Field(..., max_length=40)
    probability: Int = Field(..., description="0–100")
    kind: str = Field("open", description="open | won | lost")
    required_fields: list[str] = Field([], description=gettext_lazy(
        "Fields an opportunity fills before entering: expected_amount | expected_close_date | products"))
    position: Int | None = Field(None, description=gettext_lazy(
        "Place among the pipeline's stages, 1 = first; default: last"))


class StagePatch(_Strict):
    name: str | None = Field(None, max_length=40)
    probability: Int | None = Field(None, description="0–100")
    kind: str | None = Field(None, description=gettext_lazy(
        "open | won | lost; not while opportunities are in the stage"))
    required_fields: list[str] | None = None
    position: Int | None = Field(None, description=gettext_lazy(
        "Place among the pipeline's stages, 1 = first"))


class StageOut(Schema):
    id: int
    pipeline: int
    name: str
    position: int
    order: int
    probability: int
    kind: str
    required_fields: list[str]


class PipelineIn(_Strict):
    name: str = Field(..., max_length=80)
    is_active: bool = True
    is_default: bool = Field(False, description=gettext_lazy(
        "Making it the default unsets the previous default"))
    stages: list[StageIn] | None = Field(None, max_length=50, description=gettext_lazy(
        "Default: the standard stages; at least one open, one won and one lost"))


class PipelinePatch(_Strict):
    name: str | None = Field(None, max_length=80)
    is_active: bool | None = None
    is_default: bool | None = Field(None, description=gettext_lazy(
        "true makes it the default (unsetting the previous one)"))


class PipelineOut(Schema):
    id: int
    name: str
    is_active: bool
    is_default: bool
    open_opportunities: int = Field(..., description=gettext_lazy("Open opportunities the caller may see"))
    stages: list[StageOut]
