"""API shapes of tasks."""

from datetime import datetime

from django.utils.translation import gettext_lazy
from ninja import Field, Schema
from pydantic import ConfigDict

from fidelis.core.types import DateTime, Int


class _Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class TaskIn(_Strict):
    title: str = Field(..., max_length=200, examples=["回访 李太太：A1001"])
    due_at: DateTime = Field(..., description=gettext_lazy(
        "ISO 8601; without an offset it is read in the mall's time zone."))
    remind_before: Int | None = Field(0, description=gettext_lazy(
        "Remind the owner this many minutes before the due time; null: no reminder."))
    remind_at: DateTime | None = Field(None, description=gettext_lazy(
        "An explicit reminder time (not after due_at); overrides remind_before."))
    owner: str | None = Field(None, description=gettext_lazy(
        "User name of the owner; the caller by default."))
    customer: str | None = Field(None, description=gettext_lazy(
        "The customer's public id or customer number."))
    notes: str = ""
    priority: Int = Field(2, description=gettext_lazy("1 low, 2 normal, 3 high."))
    recurrence_days: Int | None = Field(None, description=gettext_lazy(
        "When done, the next task is due this many days later."))


class TaskPatch(_Strict):
    title: str | None = Field(None, max_length=200)
    due_at: DateTime | None = None
    remind_before: Int | None = None
    remind_at: DateTime | None = None
    owner: str | None = None
    customer: str | None = None
    notes: str | None = None
    priority: Int | None = None
    recurrence_days: Int | None = None


class TaskOut(Schema):
    id: str
    title: str
    notes: str
    status: str
    priority: int
    due_at: datetime
    remind_at: datetime | None
    reminded_at: datetime | None
    done_at: datetime | None
    owner: str
    created_by: str | None
    customer: str | None
    customer_number: str | None
    customer_name: str | None
    recurrence_days: int | None
    source: str
    rule: str | None
    next: str | None = None
    created: bool | None = None
    url: str
