"""Reads of the touchpoint catalogue: the journey view (stages in order, their touchpoints) and the lists."""

from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from fidelis.core.errors import DomainError, NotFound
from fidelis.feedback.errors import FeedbackCode
from fidelis.feedback.models import JourneyStage, Touchpoint


@dataclass
class StageGroup:
    """One stage of the journey with its touchpoints, in their order."""

    stage: str
    label: str
    touchpoints: list[Touchpoint] = field(default_factory=list)

    @property
    def active_count(self) -> int:
        return sum(1 for t in self.touchpoints if t.is_active)


def touchpoint_list(*, stage: str = "", active: bool | None = None) -> QuerySet[Touchpoint]:
    """Return the touchpoints in journey order, of one stage and/or only the (in)active ones when asked (an unknown
    stage is refused, naming the field)."""
    qs = Touchpoint.objects.all()
    if stage:
        if stage not in JourneyStage.values:
            raise DomainError(_("Unknown journey stage: %(value)s") % {"value": stage},
                              code=FeedbackCode.INVALID_STAGE, field="stage")
        qs = qs.filter(stage=stage)
    if active is not None:
        qs = qs.filter(is_active=active)
    return qs


def touchpoints_by_stage(*, include_inactive: bool = True) -> list[StageGroup]:
    """Return every journey stage in order with its touchpoints (a stage without any too), in one query."""
    groups = {value: StageGroup(stage=value, label=str(label)) for value, label in JourneyStage.choices}
    for touchpoint in touchpoint_list(active=None if include_inactive else True):
        groups[touchpoint.stage].touchpoints.append(touchpoint)
    return list(groups.values())


def touchpoint_get(public_id: str) -> Touchpoint:
    """Return the touchpoint with this public id; NotFound when there is none."""
    found = Touchpoint.objects.filter(public_id=public_id).first()
    if found is None:
        raise NotFound(_("No such touchpoint."), code=FeedbackCode.NOT_FOUND)
    return found
