"""Managing the sales pipelines: a pipeline (name, active, default) and its stages (name, probability, kind, fields
required to enter, order).

Each write is one transaction with its audit row. The rules kept here:

- exactly one pipeline is the default: making one the default unsets the others in the same transaction, and the
  default cannot be switched off or made inactive (make another the default instead);
- a pipeline keeps at least one open, one won and one lost stage;
- a stage that holds opportunities keeps its kind (the opportunity's status mirrors it) and cannot be deleted;
  a stage opportunities have passed through cannot be deleted either, since their stage history points to it.
  Move the opportunities out, or rename the stage, instead.

Stage changes of one pipeline take the pipeline's row lock first (see `_lock_pipeline`).
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from fidelis.accounts.permissions import capability_check
from fidelis.accounts.services import audit_record
from fidelis.core.errors import Conflict, DomainError, NotFound, full_clean_or_raise
from fidelis.pipeline.errors import PipelineCode
from fidelis.pipeline.models import REQUIRABLE_FIELDS, OpportunityStageChange, Pipeline, Stage, StageKind
from fidelis.pipeline.services import DEFAULT_STAGES, choice_clean, probability_parse, text_clean

CAPABILITY = "pipeline.manage"
PIPELINE_FIELDS = ("name", "is_active", "is_default")
STAGE_FIELDS = ("name", "probability", "kind", "required_fields", "position")
ORDER_STEP = 10


def _may_manage(actor) -> None:
    capability_check(actor, CAPABILITY, _("You may not manage pipelines."))


def _unknown(data: dict[str, Any], fields: tuple[str, ...]) -> None:
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise DomainError(_("Unknown field: %(field)s") % {"field": unknown[0]}, code=PipelineCode.UNKNOWN_FIELD,
                          field=unknown[0])


def _bool(value: Any, *, field: str) -> bool:
    if not isinstance(value, bool):
        raise DomainError(_("Choose yes or no."), code=PipelineCode.INVALID_CHOICE, field=field)
    return value


def _required_fields(value: Any) -> list[str]:
    """Return the fields a stage requires, in the order of REQUIRABLE_FIELDS; refuse fields no check knows."""
    if value in (None, ""):
        return []
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, (list, tuple)):
        raise DomainError(_("Give a list of fields."), code=PipelineCode.NOT_A_LIST, field="required_fields")
    for item in values:
        if item not in REQUIRABLE_FIELDS:
            raise DomainError(_("A stage cannot require “%(value)s”; choose from: %(fields)s.")
                              % {"value": item, "fields": ", ".join(REQUIRABLE_FIELDS)},
                              code=PipelineCode.UNKNOWN_REQUIRED_FIELD, field="required_fields")
    return [f for f in REQUIRABLE_FIELDS if f in values]


def _check_kinds(kinds: list[str], *, field: str) -> None:
    """Refuse a set of stages without an open, a won or a lost one."""
    for kind in StageKind:
        if kind.value not in kinds:
            raise DomainError(_("A pipeline keeps at least one open, one won and one lost stage; this change would "
                                "leave no “%(kind)s” stage.") % {"kind": kind.label},
                              code=PipelineCode.STAGE_KINDS_MISSING, field=field, kind=kind.value)


def _pipeline_snapshot(pipeline: Pipeline) -> dict[str, Any]:
    return {f: getattr(pipeline, f) for f in PIPELINE_FIELDS}


def _stage_snapshot(stage: Stage) -> dict[str, Any]:
    return {"name": stage.name, "probability": stage.probability, "kind": stage.kind,
            "required_fields": list(stage.required_fields or []), "order": stage.order}


def _lock_pipeline(pk: int) -> Pipeline:
    """Return the pipeline's row, locked until the end of the transaction.

    Every change to a pipeline's stages takes this lock first: two managers deleting (or re-kinding) the last two
    won stages at once would each see the other's stage still there and together leave the pipeline without one;
    two moves at once would renumber the same rows.
    """
    found = Pipeline.objects.select_for_update().filter(pk=pk).first()
    if found is None:
        raise NotFound(_("No such pipeline."), code=PipelineCode.NOT_FOUND)
    return found


def _stage_in(pipeline: Pipeline, stage: Stage) -> Stage:
    """Return the stage read again after the pipeline's lock (it may have changed or gone meanwhile)."""
    found = Stage.objects.filter(pk=stage.pk, pipeline=pipeline).first()
    if found is None:
        raise NotFound(_("No such stage."), code=PipelineCode.NOT_FOUND)
    return found


def _renumber(stages: list[Stage]) -> None:
    """Give the stages the orders 10, 20, 30… in this sequence."""
    # (pipeline, order) is unique and checked row by row: park every row above both the old and the new numbers
    # first, so that no row ever takes a number another still holds.
    park = max([s.order for s in stages] + [ORDER_STEP * len(stages)]) + 1
    for index, stage in enumerate(stages):
        Stage.objects.filter(pk=stage.pk).update(order=park + index)
    for index, stage in enumerate(stages, start=1):
        stage.order = index * ORDER_STEP
        Stage.objects.filter(pk=stage.pk).update(order=stage.order)


def _place(pipeline: Pipeline, stage: Stage, position: Any) -> tuple[int, int]:
    """Put the stage at this place among its pipeline's stages (1 = first); return the old and new places."""
    stages = list(pipeline.stages.order_by("order", "id"))
    if isinstance(position, bool) or not isinstance(position, int) or not 1 <= position <= len(stages):
        raise DomainError(_("The position is a whole number from 1 to %(n)s.") % {"n": len(stages)},
                          code=PipelineCode.INVALID_POSITION, field="position")
    old = next(index for index, s in enumerate(stages, start=1) if s.pk == stage.pk)
    if old != position:
        moving = stages.pop(old - 1)
        stages.insert(position - 1, moving)
        _renumber(stages)
        stage.order = moving.order
    return old, position


# --- pipelines ----------------------------------------------------------------------------------------------------


def _stage_apply(stage: Stage, data: dict[str, Any], *, siblings: list[Stage]) -> None:
    """Set the stage's fields from the data (checked against the other stages of its pipeline)."""
    if "name" in data:
        name = text_clean(data["name"], field="name", max_length=40, required=True)
        if any(s.name.casefold() == name.casefold() for s in siblings):
            raise DomainError(_("This pipeline has a stage named “%(name)s” already.") % {"name": name},
                              code=PipelineCode.NAME_TAKEN, field="name")
        stage.name = name
    if "probability" in data:
        stage.probability = probability_parse(data["probability"])
    if "kind" in data:
        stage.kind = choice_clean(data["kind"], StageKind, field="kind")
    if "required_fields" in data:
        stage.required_fields = _required_fields(data["required_fields"])
    if stage.pk is None and "probability" not in data:
        raise DomainError(_("This field is required."), code=PipelineCode.REQUIRED, field="probability")


def _seed_stages(pipeline: Pipeline, stages: list[dict[str, Any]] | None) -> list[Stage]:
    """Create the stages of a new pipeline: those given, or the standard ones."""
    if stages is None:
        stages = [{"name": name, "probability": probability, "kind": kind, "required_fields": required}
                  for name, probability, kind, required in DEFAULT_STAGES]
    made: list[Stage] = []
    for index, data in enumerate(stages, start=1):
        stage = Stage(pipeline=pipeline, order=index * ORDER_STEP, kind=StageKind.OPEN)
        try:
            _unknown(data, STAGE_FIELDS[:-1])
            _stage_apply(stage, {"kind": StageKind.OPEN, **data}, siblings=made)
            full_clean_or_raise(stage)
        except DomainError as exc:
            exc.field = f"stages.{index - 1}.{exc.field}" if exc.field else f"stages.{index - 1}"
            raise
        made.append(stage)
    _check_kinds([s.kind for s in made], field="stages")
    return Stage.objects.bulk_create(made)


@transaction.atomic
def pipeline_save(*, actor, data: dict[str, Any], pipeline: Pipeline | None = None,
                  stages: list[dict[str, Any]] | None = None, via: str = "web") -> Pipeline:
    """Create a pipeline (with the stages given, or the standard ones), or change one (name, active, default).

    Making a pipeline the default unsets the previous default in the same transaction; the first pipeline is the
    default whatever was asked."""
    _may_manage(actor)
    _unknown(data, PIPELINE_FIELDS)
    creating = pipeline is None
    if not creating and stages is not None:
        raise DomainError(_("Change the stages of an existing pipeline one by one."), code=PipelineCode.STAGES_NOT_EDITABLE, field="stages")
    # Lock the pipeline and the current default, by pk, so that two default switches at once run one after the other.
    wanted = Q(is_default=True) if creating else Q(is_default=True) | Q(pk=pipeline.pk)
    locked = {p.pk: p for p in Pipeline.objects.select_for_update().filter(wanted).order_by("pk")}
    if creating:
        pipeline = Pipeline()
    elif pipeline.pk not in locked:
        raise NotFound(_("No such pipeline."), code=PipelineCode.NOT_FOUND)
    else:
        pipeline = locked[pipeline.pk]
    before = {} if creating else _pipeline_snapshot(pipeline)
    if "name" in data:
        pipeline.name = text_clean(data["name"], field="name", max_length=80, required=True)
        if Pipeline.objects.filter(name__iexact=pipeline.name).exclude(pk=pipeline.pk).exists():
            raise DomainError(_("A pipeline named “%(name)s” exists already.") % {"name": pipeline.name},
                              code=PipelineCode.NAME_TAKEN, field="name")
    elif creating:
        raise DomainError(_("This field is required."), code=PipelineCode.REQUIRED, field="name")
    if "is_active" in data:
        pipeline.is_active = _bool(data["is_active"], field="is_active")
    if "is_default" in data:
        is_default = _bool(data["is_default"], field="is_default")
        if before.get("is_default") and not is_default:
            raise DomainError(_("Exactly one pipeline is the default: make another pipeline the default instead."),
                              code=PipelineCode.DEFAULT_REQUIRED, field="is_default")
        pipeline.is_default = is_default
    others = [p for p in locked.values() if p.is_default and p.pk != pipeline.pk]
    if not others:
        pipeline.is_default = True  # there is always a default: the first pipeline is it
    if pipeline.is_default and not pipeline.is_active:
        raise DomainError(_("The default pipeline stays active: new opportunities go into it."),
                          code=PipelineCode.DEFAULT_INACTIVE, field="is_active")
    if pipeline.is_default:
        for other in others:
            other.is_default = False
            other.save(update_fields=["is_default", "updated_at"])
            audit_record(actor=actor, action="pipeline.update", obj=other, via=via,
                         changes={"is_default": [True, False]})
    full_clean_or_raise(pipeline)
    after = _pipeline_snapshot(pipeline)
    changes = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
    if not creating and not changes:
        return pipeline
    try:
        with transaction.atomic():
            pipeline.save()
    except IntegrityError:
        # A pipeline of the same name, or a first default, committed between our checks and our write.
        if Pipeline.objects.filter(name=pipeline.name).exclude(pk=pipeline.pk).exists():
            raise DomainError(_("A pipeline named “%(name)s” exists already.") % {"name": pipeline.name},
                              code=PipelineCode.NAME_TAKEN, field="name")
        raise Conflict(_("Someone changed the pipelines at the same time; try again."), code=PipelineCode.CONCURRENT_CHANGE)
    if creating:
        made = _seed_stages(pipeline, stages)
        changes["stages"] = [None, [s.name for s in made]]
    audit_record(actor=actor, action="pipeline.create" if creating else "pipeline.update", obj=pipeline, via=via,
                 changes=changes)
    return pipeline


# --- stages -------------------------------------------------------------------------------------------------------


@transaction.atomic
def stage_save(*, actor, data: dict[str, Any], pipeline: Pipeline | None = None, stage: Stage | None = None,
               via: str = "web") -> Stage:
    """Add a stage at the end of a pipeline, or change one (name, probability, kind, required fields, position).

    The pipeline keeps an open, a won and a lost stage; a stage holding opportunities keeps its kind."""
    _may_manage(actor)
    _unknown(data, STAGE_FIELDS)
    if stage is None and pipeline is None:
        raise DomainError(_("Name the pipeline."), code=PipelineCode.REQUIRED, field="pipeline")
    pipeline = _lock_pipeline(stage.pipeline_id if stage is not None else pipeline.pk)
    creating = stage is None
    if creating:
        stage = Stage(pipeline=pipeline, kind=StageKind.OPEN)
    else:
        stage = _stage_in(pipeline, stage)
    siblings = list(pipeline.stages.exclude(pk=stage.pk).order_by("order", "id"))
    before = {} if creating else _stage_snapshot(stage)
    _stage_apply(stage, {k: v for k, v in data.items() if k != "position"}, siblings=siblings)
    if not creating and stage.kind != before["kind"] and stage.opportunities.exists():
        raise DomainError(_("Opportunities are in the stage “%(stage)s”; move them to another stage before changing "
                            "its kind.") % {"stage": before["name"]}, code=PipelineCode.STAGE_IN_USE, field="kind")
    _check_kinds([s.kind for s in siblings] + [stage.kind], field="kind")
    if creating:
        last = max((s.order for s in siblings), default=0)
        stage.order = last + ORDER_STEP
    full_clean_or_raise(stage)
    stage.save()
    if "position" in data and data["position"] is not None:
        _place(pipeline, stage, data["position"])
    after = _stage_snapshot(stage)
    changes = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
    if creating or changes:
        audit_record(actor=actor, action="stage.create" if creating else "stage.update", obj=stage, via=via,
                     changes=({"pipeline": [None, pipeline.name]} | changes) if creating else changes)
    return stage


@transaction.atomic(durable=True)
def stage_move(*, actor, stage: Stage, position: int, via: str = "web") -> Stage:
    """Put a stage at this place among its pipeline's stages (1 = first) and renumber them; return it."""
    _may_manage(actor)
    pipeline = _lock_pipeline(stage.pipeline_id)
    stage = _stage_in(pipeline, stage)
    old, new = _place(pipeline, stage, position)
    if old != new:
        audit_record(actor=actor, action="stage.move", obj=stage, via=via, changes={"position": [old, new]})
    return stage


@transaction.atomic
def stage_delete(*, actor, stage: Stage, via: str = "web") -> None:
    """Delete a stage no opportunity is in or has been in; the pipeline keeps an open, a won and a lost stage."""
    _may_manage(actor)
    pipeline = _lock_pipeline(stage.pipeline_id)
    stage = _stage_in(pipeline, stage)
    held = stage.opportunities.count()
    if held:
        raise DomainError(_("%(n)s opportunities are in the stage “%(stage)s”; move them to another stage before "
                            "deleting it.") % {"n": held, "stage": stage.name},
                          code=PipelineCode.STAGE_IN_USE, field="stage", opportunities=held)
    if OpportunityStageChange.objects.filter(Q(from_stage=stage) | Q(to_stage=stage)).exists():
        raise DomainError(_("Opportunities have passed through the stage “%(stage)s” and their history keeps it; "
                            "rename or change it instead of deleting it.") % {"stage": stage.name},
                          code=PipelineCode.STAGE_HAS_HISTORY, field="stage")
    remaining = list(pipeline.stages.exclude(pk=stage.pk).order_by("order", "id"))
    _check_kinds([s.kind for s in remaining], field="stage")
    audit_record(actor=actor, action="stage.delete", obj=stage, via=via,
                 changes={k: [v, None] for k, v in _stage_snapshot(stage).items()}
                 | {"pipeline": [pipeline.name, None]})
    stage.delete()
