"""API shapes of tasks."""

from datetime import datetime

from ninja import Field, Schema
from pydantic import ConfigDict


class _Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class TaskIn(_Strict):
    title: str = Field(..., max_length=200, examples=["回访 李太太：A1001"])
    due_at: datetime = Field(..., description="ISO 8601; without an offset it is read in the mall's time zone.")
    remind_before: int | None = Field(0, description="Remind the owner this many minutes before the due time; "
                                                     "null: no reminder.")
    remind_at: datetime | None = Field(None, description="An explicit reminder time (not after due_at); "
                                                         "overrides remind_before.")
    owner: str | None = Field(None, description="User name of the owner; the caller by default.")
    customer: str | None = Field(None, description="The customer's public id or customer number.")
    notes: str = ""
    priority: int = Field(2, description="1 low, 2 normal, 3 high.")
    recurrence_days: int | None = Field(None, description="When done, the next task is due this many days later.")


class TaskPatch(_Strict):
    title: str | None = Field(None, max_length=200)
    due_at: datetime | None = None
    remind_before: int | None = None
    remind_at: datetime | None = None
    owner: str | None = None
    customer: str | None = None
    notes: str | None = None
    priority: int | None = None
    recurrence_days: int | None = None


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
