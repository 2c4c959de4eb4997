"""Writes on the touchpoint catalogue: each is one transaction with an audit row (touchpoint.create, .update,
.deactivate, .reactivate, .move). Touchpoints are never deleted: surveys and service cases will point at them."""

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from fidelis.accounts.permissions import has_capability
from fidelis.accounts.services import audit_record
from fidelis.core.errors import Conflict, DomainError, PermissionDenied, full_clean_or_raise
from fidelis.events.models import Channel
from fidelis.feedback.errors import FeedbackCode
from fidelis.feedback.models import JourneyStage, Touchpoint

# What touchpoint_save accepts.
TOUCHPOINT_FIELDS = ("name", "stage", "channel", "owner_team", "description", "position", "is_active")
MOVES = ("up", "down")


def _require_manage(actor) -> None:
    if actor is not None and not has_capability(actor, "touchpoint.manage"):
        raise PermissionDenied(_("Your role may not change the touchpoint catalogue."), code=FeedbackCode.FORBIDDEN)


def _snapshot(touchpoint: Touchpoint) -> dict[str, Any]:
    return {name: getattr(touchpoint, name) for name in TOUCHPOINT_FIELDS}


def _assign(touchpoint: Touchpoint, data: dict[str, Any]) -> None:
    unknown = set(data) - set(TOUCHPOINT_FIELDS)
    if unknown:
        field = sorted(unknown)[0]
        raise DomainError(_("Unknown field: %(field)s") % {"field": field}, code=FeedbackCode.UNKNOWN_FIELD,
                          field=field)
    for name, value in data.items():
        if name in ("name", "owner_team", "description", "channel", "stage"):
            value = "" if value is None else str(value).strip()
        elif name == "position" and value is not None:
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise DomainError(_("Give the position as a whole number."), code=FeedbackCode.NOT_A_NUMBER,
                                  field="position")
        elif name == "is_active":
            value = bool(value)
        setattr(touchpoint, name, value)


def _validate(touchpoint: Touchpoint) -> None:
    if not touchpoint.name:
        raise DomainError(_("A touchpoint needs a name."), code=FeedbackCode.REQUIRED, field="name")
    if touchpoint.stage not in JourneyStage.values:
        raise DomainError(_("Unknown journey stage: %(value)s") % {"value": touchpoint.stage or "—"},
                          code=FeedbackCode.INVALID_STAGE, field="stage")
    if touchpoint.channel and touchpoint.channel not in Channel.values:
        raise DomainError(_("Unknown channel: %(value)s") % {"value": touchpoint.channel},
                          code=FeedbackCode.INVALID_CHANNEL, field="channel")
    if not touchpoint.owner_team:
        raise DomainError(_("Name the team that answers for this touchpoint."), code=FeedbackCode.REQUIRED,
                          field="owner_team")
    full_clean_or_raise(touchpoint, exclude=["created_by"], validate_unique=False, validate_constraints=False)
    if touchpoint.is_active and _same_name(touchpoint).exists():
        raise _duplicate(touchpoint)


def _same_name(touchpoint: Touchpoint):
    return (Touchpoint.objects.active().annotate(lower_name=Lower("name"))
            .filter(lower_name=touchpoint.name.lower()).exclude(pk=touchpoint.pk))


def _duplicate(touchpoint: Touchpoint) -> Conflict:
    return Conflict(_("An active touchpoint is already called “%(name)s”.") % {"name": touchpoint.name},
                    code=FeedbackCode.DUPLICATE_NAME, field="name")


def _end_of_stage(stage: str, but: Touchpoint | None = None) -> int:
    qs = Touchpoint.objects.filter(stage=stage)
    if but is not None and but.pk is not None:
        qs = qs.exclude(pk=but.pk)
    last = qs.order_by().aggregate(last=Max("position"))["last"]
    return 1 if last is None else last + 1


def _action(before: dict[str, Any] | None, changes: dict[str, list]) -> str:
    if before is None:
        return "touchpoint.create"
    if set(changes) == {"is_active"}:
        return "touchpoint.reactivate" if changes["is_active"][1] else "touchpoint.deactivate"
    return "touchpoint.update"


@transaction.atomic(durable=True)
def touchpoint_save(*, actor, data: dict[str, Any], touchpoint: Touchpoint | None = None,
                    via: str = "web") -> Touchpoint:
    """Create a touchpoint, or change the one given with the fields in `data` (marketing and managers).

    A new touchpoint, or one moved to another stage without a position, goes to the end of its stage.
    """
    _require_manage(actor)
    if touchpoint is None:
        before = None
        touchpoint = Touchpoint(created_by=actor if actor is not None and actor.is_authenticated else None)
    else:
        touchpoint = Touchpoint.objects.select_for_update().get(pk=touchpoint.pk)
        before = _snapshot(touchpoint)
    _assign(touchpoint, data)
    if touchpoint.position is None or ("position" not in data and (
            before is None or before["stage"] != touchpoint.stage)):
        touchpoint.position = _end_of_stage(touchpoint.stage, but=touchpoint) if touchpoint.stage else 0
    _validate(touchpoint)
    after = _snapshot(touchpoint)
    if before is None:
        changes = {k: [None, v] for k, v in after.items() if v not in ("", None)}
    else:
        changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
        if not changes:
            return touchpoint
    try:
        # A savepoint: the unique index refuses a name another request has just taken (between the check above
        # and this write); the refusal then reads as the check's would.
        with transaction.atomic():
            touchpoint.save()
    except IntegrityError:
        if touchpoint.is_active and _same_name(touchpoint).exists():
            raise _duplicate(touchpoint)
        raise
    audit_record(actor=actor, action=_action(before, changes), obj=touchpoint, changes=changes, via=via)
    return touchpoint


def touchpoint_deactivate(*, actor, touchpoint: Touchpoint, via: str = "web") -> Touchpoint:
    """Take a touchpoint out of use; it stays in the catalogue (and wherever it is referred to), greyed out."""
    return touchpoint_save(actor=actor, touchpoint=touchpoint, data={"is_active": False}, via=via)


def touchpoint_reactivate(*, actor, touchpoint: Touchpoint, via: str = "web") -> Touchpoint:
    """Put a deactivated touchpoint back in use (refused while an active one has its name)."""
    return touchpoint_save(actor=actor, touchpoint=touchpoint, data={"is_active": True}, via=via)


@transaction.atomic(durable=True)
def touchpoint_move(*, actor, touchpoint: Touchpoint, direction: str, via: str = "web") -> Touchpoint:
    """Move a touchpoint one place up or down within its stage; at either end it stays where it is."""
    _require_manage(actor)
    if direction not in MOVES:
        raise DomainError(_("Move a touchpoint up or down."), code=FeedbackCode.INVALID_DIRECTION,
                          field="direction")
    # Lock the whole stage in one query (in the catalogue's order): two moves in one stage at once would
    # otherwise both read the old positions and leave two touchpoints on one place.
    stage = list(Touchpoint.objects.select_for_update().filter(stage=touchpoint.stage).order_by("position", "id"))
    index = next((i for i, t in enumerate(stage) if t.pk == touchpoint.pk), None)
    if index is None:  # moved to another stage meanwhile
        return Touchpoint.objects.get(pk=touchpoint.pk)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(stage):
        return stage[index]
    before = stage[index].position
    stage[index], stage[other] = stage[other], stage[index]
    moved = []
    for place, item in enumerate(stage, start=1):  # positions 1…n, so that equal positions cannot stall a move
        if item.position != place:
            item.position = place
            moved.append(item)
    Touchpoint.objects.bulk_update(moved, ["position"])
    mine = stage[other]
    audit_record(actor=actor, action="touchpoint.move", obj=mine, changes={"position": [before, mine.position]},
                 via=via)
    return mine
