"""Opportunities, contracts, pipelines and their stages over HTTP, under /api/sales/ as before the split.

Writes that create something take an `Idempotency-Key` header where a client may retry them.
"""

from django.utils.translation import gettext_lazy
from ninja import Query, Router, Status

from fidelis.accounts.api_auth import requires
from fidelis.core.types import RowId, Text
from fidelis.events.api import event_customer
from fidelis.pipeline import selectors, services
from fidelis.pipeline import stages as stage_services
from fidelis.pipeline.schemas import (
    ContractIn,
    ContractOut,
    ContractQuery,
    ContractRenewIn,
    ContractTerminateIn,
    MoveIn,
    OpportunityIn,
    OpportunityOut,
    OpportunityPatch,
    OpportunityQuery,
    PipelineIn,
    PipelineOut,
    PipelinePatch,
    StageIn,
    StageOut,
    StagePatch,
)

router = Router(tags=["sales"])


# --- opportunities and contracts ---------------------------------------------------------------------------------


def opportunity_out(o) -> dict:
    return {"id": o.public_id, "title": o.title, "customer": o.customer.public_id, "customer_name": o.customer.name,
            "source": o.source, "expected_amount": o.expected_amount, "expected_close_date": o.expected_close_date,
            "stage": o.stage.name, "status": o.status, "probability": o.probability, "owner": o.owner.username,
            "products": [p.sku for p in o.products.all()], "won_at": o.won_at, "lost_at": o.lost_at,
            "lost_reason": o.lost_reason, "lost_note": o.lost_note, "order": o.order.order_no if o.order else None,
            "contracts": [c.number for c in o.contracts.all()], "created_at": o.created_at,
            "stage_changed_at": o.stage_changed_at}


def contract_out(c) -> dict:
    return {"id": c.public_id, "number": c.number, "title": c.title, "customer": c.customer.public_id,
            "customer_name": c.customer.name, "amount": c.amount, "payment_method": c.payment_method,
            "start_date": c.start_date, "end_date": c.end_date, "status": c.status, "signed_at": c.signed_at,
            "owner": c.owner.username, "opportunity": c.opportunity.public_id if c.opportunity else None,
            "renewal_of": c.renewal_of.number if c.renewal_of else None}


def _opportunity(request, public_id: str):
    return selectors.opportunity_get_for_user(request.auth, public_id)


@router.get("/opportunities", response=list[OpportunityOut],
            summary=gettext_lazy("Opportunities, latest change first"),
            description=gettext_lazy("A sales rep sees their own; managers, marketing and read-only users "
                                     "everyone's."))
@requires("sales:read", "opportunity.view")
def opportunity_list(request, filters: Query[OpportunityQuery]):
    qs = selectors.opportunity_list_filtered(request.auth, selectors.OpportunityFilters(
        stage=filters.stage, owner=filters.owner, source=filters.source, status=filters.status,
        month=filters.month, customer=filters.customer))
    qs = qs.select_related("order").prefetch_related("products", "contracts")
    return [opportunity_out(o) for o in qs[filters.offset:filters.offset + filters.limit]]


@router.post("/opportunities", response={201: OpportunityOut}, summary=gettext_lazy("Record an opportunity"),
             description=gettext_lazy("Starts in the first stage unless an open stage is named; the "
                                      "stage's required fields must be given. Records opportunity.created "
                                      "on the customer's timeline."))
@requires("sales:write", "opportunity.change")
def opportunity_post(request, payload: OpportunityIn):
    customer = event_customer(request.auth, payload)
    opportunity = services.opportunity_create(
        actor=request.auth, customer=customer, title=payload.title, source=payload.source,
        expected_amount=payload.expected_amount, expected_close_date=payload.expected_close_date,
        stage=payload.stage, probability=payload.probability, products=payload.products, owner=payload.owner,
        notes=payload.notes, via="api")
    return Status(201, opportunity_out(_opportunity(request, opportunity.public_id)))


@router.get("/opportunities/{public_id}", response=OpportunityOut, summary=gettext_lazy("One opportunity"))
@requires("sales:read", "opportunity.view")
def opportunity_detail(request, public_id: Text):
    return opportunity_out(_opportunity(request, public_id))


@router.patch("/opportunities/{public_id}", response=OpportunityOut,
              summary=gettext_lazy("Change an opportunity"),
              description=gettext_lazy("Only the fields sent change; `owner` (a user name) reassigns it "
                                       "(managers only)."))
@requires("sales:write", "opportunity.change")
def opportunity_patch(request, public_id: Text, payload: OpportunityPatch):
    opportunity = _opportunity(request, public_id)
    data = payload.model_dump(exclude_unset=True)
    services.opportunity_update(actor=request.auth, opportunity=opportunity, data=data, via="api")
    return opportunity_out(_opportunity(request, public_id))


@router.post("/opportunities/{public_id}/move", response=OpportunityOut,
             summary=gettext_lazy("Move an opportunity to a stage"),
             description=gettext_lazy("Entering a stage needs the fields it requires (send them along). A "
                                      "lost stage needs `lost_reason`; a won stage may record an `order` "
                                      "and register a `contract`. Records opportunity.stage_changed, and "
                                      "opportunity.won or opportunity.lost."))
@requires("sales:write", "opportunity.change")
def opportunity_move(request, public_id: Text, payload: MoveIn):
    opportunity = _opportunity(request, public_id)
    data = {k: v for k, v in (("expected_amount", payload.expected_amount),
                              ("expected_close_date", payload.expected_close_date)) if v is not None}
    order = None
    if payload.order is not None:
        order = payload.order.model_dump(exclude_none=True)
        order["lines"] = [line.model_dump(exclude_none=True) for line in payload.order.lines]
    contract = payload.contract.model_dump(exclude_none=True) if payload.contract is not None else None
    services.opportunity_move(actor=request.auth, opportunity=opportunity, stage=payload.stage, data=data,
                                       lost_reason=payload.lost_reason, lost_note=payload.lost_note, order=order,
                                       contract=contract, via="api")
    return opportunity_out(_opportunity(request, public_id))


@router.get("/contracts", response=list[ContractOut], summary=gettext_lazy("Contracts, latest start first"))
@requires("sales:read", "contract.view")
def contract_list(request, filters: Query[ContractQuery]):
    qs = selectors.contract_list_filtered(request.auth, selectors.ContractFilters(
        status=filters.status, customer=filters.customer, ending_within=filters.ending_within))
    qs = qs.select_related("opportunity", "renewal_of")
    return [contract_out(c) for c in qs[filters.offset:filters.offset + filters.limit]]


@router.post("/contracts", response={201: ContractOut}, summary=gettext_lazy("Register a contract"),
             description=gettext_lazy("A contract number is unique; the end date is not before the start "
                                      "date."))
@requires("sales:write", "contract.change")
def contract_post(request, payload: ContractIn):
    customer = event_customer(request.auth, payload)
    opportunity = (selectors.opportunity_get_for_user(request.auth, payload.opportunity)
                   if payload.opportunity else None)
    contract = services.contract_create(
        actor=request.auth, customer=customer, number=payload.number, title=payload.title, amount=payload.amount,
        payment_method=payload.payment_method, start_date=payload.start_date, end_date=payload.end_date,
        signed_at=payload.signed_at, status=payload.status, opportunity=opportunity, owner=payload.owner,
        notes=payload.notes, via="api")
    return Status(201, contract_out(selectors.contract_get_for_user(request.auth, contract.public_id)))


@router.get("/contracts/{public_id}", response=ContractOut, summary=gettext_lazy("One contract"))
@requires("sales:read", "contract.view")
def contract_detail(request, public_id: Text):
    return contract_out(selectors.contract_get_for_user(request.auth, public_id))


@router.post("/contracts/{public_id}/renew", response={201: ContractOut},
             summary=gettext_lazy("Renew a contract"),
             description=gettext_lazy("Registers the next contract (by default the same amount and length, "
                                      "starting the day after the old one ends), linked to the old one, "
                                      "which becomes `renewed`. Only an active or expired contract can be "
                                      "renewed; the new number must be unused."))
@requires("sales:write", "contract.change")
def contract_renew(request, public_id: Text, payload: ContractRenewIn):
    contract = selectors.contract_get_for_user(request.auth, public_id)
    new = services.contract_renew(
        actor=request.auth, contract=contract, number=payload.number, amount=payload.amount,
        start_date=payload.start_date, end_date=payload.end_date, payment_method=payload.payment_method,
        notes=payload.notes, via="api")
    return Status(201, contract_out(selectors.contract_get_for_user(request.auth, new.public_id)))


@router.post("/contracts/{public_id}/terminate", response=ContractOut,
             summary=gettext_lazy("End a contract early"),
             description=gettext_lazy("Needs a reason; records `contract.terminated` on the customer's "
                                      "timeline. A renewed or terminated contract cannot be terminated "
                                      "again."))
@requires("sales:write", "contract.change")
def contract_terminate(request, public_id: Text, payload: ContractTerminateIn):
    contract = selectors.contract_get_for_user(request.auth, public_id)
    services.contract_terminate(actor=request.auth, contract=contract, reason=payload.reason, via="api")
    return contract_out(selectors.contract_get_for_user(request.auth, public_id))


# --- pipelines and their stages -----------------------------------------------------------------------------------
# Pipelines and stages have no public id: they are named by their id, as the board and `stage` in a move do (a
# malformed id is a 404).


def stage_out(stage, position: int) -> dict:
    return {"id": stage.pk, "pipeline": stage.pipeline_id, "name": stage.name, "position": position,
            "order": stage.order, "probability": stage.probability, "kind": stage.kind,
            "required_fields": list(stage.required_fields or [])}


def pipeline_out(row) -> dict:
    p = row.pipeline
    return {"id": p.pk, "name": p.name, "is_active": p.is_active, "is_default": p.is_default,
            "open_opportunities": row.open_opportunities,
            "stages": [stage_out(s, index) for index, s in enumerate(row.stages, start=1)]}


def _pipeline_row(request, pk: int):
    return selectors.pipelines_overview(request.auth, pk=pk)[0]


def _stage_result(request, stage) -> dict:
    row = _pipeline_row(request, stage.pipeline_id)
    return next(s for s in pipeline_out(row)["stages"] if s["id"] == stage.pk)


@router.get("/pipelines", response=list[PipelineOut],
            summary=gettext_lazy("The pipelines with their stages, default first"))
@requires("sales:read", "opportunity.view")
def pipeline_list(request):
    return [pipeline_out(row) for row in selectors.pipelines_overview(request.auth)]


@router.post("/pipelines", response={201: PipelineOut}, summary=gettext_lazy("Create a pipeline (managers)"),
             description=gettext_lazy("With the `stages` given (at least one open, one won and one lost) "
                                      "or the standard ones. `is_default: true` unsets the previous "
                                      "default."))
@requires("sales:write", "pipeline.manage")
def pipeline_post(request, payload: PipelineIn):
    stages = ([stage.model_dump(exclude_none=True) for stage in payload.stages] if payload.stages is not None
              else None)
    pipeline = stage_services.pipeline_save(actor=request.auth, data=payload.model_dump(exclude={"stages"}),
                                            stages=stages, via="api")
    return Status(201, pipeline_out(_pipeline_row(request, pipeline.pk)))


@router.patch("/pipelines/{pipeline_id}", response=PipelineOut,
              summary=gettext_lazy("Change a pipeline (managers)"),
              description=gettext_lazy("Only the fields sent change; `is_default: true` unsets the "
                                       "previous default, and the default cannot be switched off or made "
                                       "inactive."))
@requires("sales:write", "pipeline.manage")
def pipeline_patch(request, pipeline_id: RowId, payload: PipelinePatch):
    pipeline = selectors.pipeline_get(pipeline_id)
    stage_services.pipeline_save(actor=request.auth, pipeline=pipeline, data=payload.model_dump(exclude_unset=True),
                                 via="api")
    return pipeline_out(_pipeline_row(request, pipeline.pk))


@router.post("/pipelines/{pipeline_id}/stages", response={201: StageOut},
             summary=gettext_lazy("Add a stage to a pipeline (managers)"),
             description=gettext_lazy("The stage goes last unless a `position` is given."))
@requires("sales:write", "pipeline.manage")
def stage_post(request, pipeline_id: RowId, payload: StageIn):
    pipeline = selectors.pipeline_get(pipeline_id)
    stage = stage_services.stage_save(actor=request.auth, pipeline=pipeline, data=payload.model_dump(), via="api")
    return Status(201, _stage_result(request, stage))


@router.patch("/stages/{stage_id}", response=StageOut, summary=gettext_lazy("Change a stage (managers)"),
              description=gettext_lazy("Only the fields sent change; `position` moves it. Its kind stays "
                                       "while opportunities are in it; the pipeline keeps an open, a won "
                                       "and a lost stage."))
@requires("sales:write", "pipeline.manage")
def stage_patch(request, stage_id: RowId, payload: StagePatch):
    stage = selectors.stage_get(stage_id)
    stage = stage_services.stage_save(actor=request.auth, stage=stage, data=payload.model_dump(exclude_unset=True),
                                      via="api")
    return _stage_result(request, stage)


@router.delete("/stages/{stage_id}", response={204: None}, summary=gettext_lazy("Delete a stage (managers)"),
               description=gettext_lazy("Refused (400) while opportunities are in the stage or when they "
                                        "have passed through it, and for the pipeline's last open, won or "
                                        "lost stage."))
@requires("sales:write", "pipeline.manage")
def stage_delete(request, stage_id: RowId):
    stage_services.stage_delete(actor=request.auth, stage=selectors.stage_get(stage_id), via="api")
    return Status(204, None)
