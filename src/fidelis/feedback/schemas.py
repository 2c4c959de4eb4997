"""API shapes of the touchpoint catalogue."""

from datetime import datetime

from django.utils.translation import gettext_lazy
from ninja import Field, Schema
from pydantic import ConfigDict

from fidelis.core.types import Int, Text


class _Strict(Schema):
    model_config = ConfigDict(extra="forbid")


STAGE_HELP = gettext_lazy("Journey stage: awareness, consideration, purchase, use, service or loyalty.")
CHANNEL_HELP = gettext_lazy("store, online, wechat, phone, email, sms or web; empty: none.")


class TouchpointIn(_Strict):
    name: Text = Field(..., max_length=80, examples=["收银台"])
    stage: Text = Field(..., description=STAGE_HELP, examples=["purchase"])
    channel: Text = Field("", description=CHANNEL_HELP, examples=["store"])
    owner_team: Text = Field(..., max_length=60, description=gettext_lazy(
        "The team that answers for the touchpoint."), examples=["收银组"])
    description: Text = Field("", max_length=1000)
    position: Int | None = Field(None, description=gettext_lazy(
        "Its place within the stage (smaller first); by default the end of the stage."))


class TouchpointPatch(_Strict):
    name: Text | None = Field(None, max_length=80)
    stage: Text | None = Field(None, description=STAGE_HELP)
    channel: Text | None = Field(None, description=CHANNEL_HELP)
    owner_team: Text | None = Field(None, max_length=60)
    description: Text | None = Field(None, max_length=1000)
    position: Int | None = None
    is_active: bool | None = Field(None, description=gettext_lazy(
        "false: deactivate (a touchpoint is never deleted); true: put back in use."))


class TouchpointOut(Schema):
    id: str
    name: str
    stage: str
    stage_label: str
    channel: str
    owner_team: str
    description: str
    position: int
    is_active: bool
    created_at: datetime
    updated_at: datetime
