"""The timeline sentences of tasks and of the interactions staff log (`events.lines`)."""

from django.utils.translation import gettext as _

from fidelis.core.dates import local_time
from fidelis.events.lines import line_for
from fidelis.events.models import INTERACTION_TYPES


@line_for("task.created")
def created_line(payload: dict, event) -> str:
    return _("Task: %(title)s") % {"title": payload["title"]}


@line_for("task.done")
def done_line(payload: dict, event) -> str:
    line = _("Done: %(title)s") % {"title": payload["title"]}
    if payload.get("next_due"):
        line += " · " + _("next due %(date)s") % {"date": local_time(payload["next_due"])}
    return line


@line_for("task.reopened")
def reopened_line(payload: dict, event) -> str:
    return _("Reopened: %(title)s") % {"title": payload["title"]}


@line_for("task.cancelled")
def cancelled_line(payload: dict, event) -> str:
    return _("Cancelled: %(title)s") % {"title": payload["title"]}


@line_for(*INTERACTION_TYPES)
def interaction_line(payload: dict, event) -> str | None:
    """What was said, as staff wrote it (the outcome shows as a badge of its own)."""
    return payload.get("text") or None
