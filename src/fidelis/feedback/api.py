"""The touchpoint catalogue over HTTP (scopes feedback:read / feedback:write): list by stage, create, change
(deactivate with is_active false). Everyone may read; marketing and managers change."""

from django.utils.translation import gettext_lazy
from ninja import Query, Router, Schema, Status

from fidelis.accounts.api_auth import requires
from fidelis.core.types import Text
from fidelis.feedback import selectors, services
from fidelis.feedback.models import Touchpoint
from fidelis.feedback.schemas import TouchpointIn, TouchpointOut, TouchpointPatch

router = Router(tags=["feedback"])


def touchpoint_out(touchpoint: Touchpoint) -> dict:
    return {"id": touchpoint.public_id, "name": touchpoint.name, "stage": touchpoint.stage,
            "stage_label": touchpoint.get_stage_display(), "channel": touchpoint.channel,
            "owner_team": touchpoint.owner_team, "description": touchpoint.description,
            "position": touchpoint.position, "is_active": touchpoint.is_active,
            "created_at": touchpoint.created_at, "updated_at": touchpoint.updated_at}


class TouchpointQuery(Schema):
    stage: Text | None = None
    active: bool | None = None


@router.get("/touchpoints", response=list[TouchpointOut],
            summary=gettext_lazy("The touchpoint catalogue, in journey order"),
            description=gettext_lazy("stage: one journey stage (awareness, consideration, purchase, use, service, "
                                     "loyalty); active: true or false (default: both)."))
@requires("feedback:read", "touchpoint.view")
def touchpoint_list(request, filters: Query[TouchpointQuery]):
    return [touchpoint_out(t) for t in selectors.touchpoint_list(stage=filters.stage or "", active=filters.active)]


@router.post("/touchpoints", response={201: TouchpointOut}, summary=gettext_lazy("Add a touchpoint"),
             description=gettext_lazy("The name must be unique among the active touchpoints (409 otherwise); "
                                      "without a position it goes to the end of its stage."))
@requires("feedback:write", "touchpoint.manage")
def touchpoint_create(request, payload: TouchpointIn):
    data = payload.model_dump()
    if data["position"] is None:
        del data["position"]
    touchpoint = services.touchpoint_save(actor=request.auth, data=data, via="api")
    return Status(201, touchpoint_out(touchpoint))


@router.patch("/touchpoints/{public_id}", response=TouchpointOut, summary=gettext_lazy("Change a touchpoint"),
              description=gettext_lazy("Only the fields sent change; is_active false deactivates the touchpoint, "
                                       "true puts it back in use."))
@requires("feedback:write", "touchpoint.manage")
def touchpoint_update(request, public_id: Text, payload: TouchpointPatch):
    touchpoint = selectors.touchpoint_get(public_id)
    data = {k: v for k, v in payload.model_dump(exclude_unset=True).items() if v is not None or k == "channel"}
    touchpoint = services.touchpoint_save(actor=request.auth, touchpoint=touchpoint, data=data, via="api")
    return touchpoint_out(touchpoint)
