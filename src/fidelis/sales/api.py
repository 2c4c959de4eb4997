"""Products and orders over HTTP: what a POS, an e-shop or a WeChat mini-program needs.

Read the catalogue and the stores, post paid orders with their lines (the customer's order.paid event follows, and
the member club awards the points), read orders, refund all or part of one. Writes take an `Idempotency-Key`
header: the same key again gives the first answer again and no second effect (`fidelis.core.idempotency`).
"""

from django.db.models import Prefetch
from django.utils.translation import gettext as _
from ninja import Query, Router, Status

from fidelis.accounts.api_auth import requires
from fidelis.core.errors import DomainError
from fidelis.core.idempotency import KEY_HEADER, header_idempotency_key
from fidelis.core.types import Int, RowId, Text
from fidelis.events.api import event_customer
from fidelis.sales import pipeline as pipeline_services
from fidelis.sales import pipeline_admin, pipeline_selectors, selectors, services
from fidelis.sales.models import Order, OrderLine, ProductCategory, Refund
from fidelis.sales.pipeline_schemas import (
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
from fidelis.sales.schemas import (
    OrderIn,
    OrderOut,
    OrderQuery,
    ProductIn,
    ProductOut,
    RefundIn,
    RefundResultOut,
    StoreOut,
)

router = Router(tags=["sales"])


def product_out(product) -> dict:
    return {"id": product.public_id, "sku": product.sku, "name": product.name, "category": product.category.name,
            "category_path": product.category.path, "list_price": product.list_price,
            "is_active": product.is_active}


def refund_out(refund: Refund) -> dict:
    return {"id": refund.public_id, "amount": refund.amount, "reason": refund.reason,
            "created_at": refund.created_at,
            "lines": [{"line": rl.line_id, "sku": rl.line.product.sku, "quantity": rl.quantity}
                      for rl in refund.lines.all()]}


def order_out(order: Order, *, lines=None, refunds=None, created: bool | None = None) -> dict:
    lines = lines if lines is not None else selectors.order_lines(order)
    customer = order.customer
    return {
        "id": order.public_id, "order_no": order.order_no, "customer": customer.public_id,
        "customer_number": customer.number, "customer_name": customer.name, "channel": order.channel,
        "store": order.store.code if order.store else None, "payment_method": order.payment_method,
        "subtotal": order.subtotal, "discount": order.discount, "paid_amount": order.paid_amount,
        "refunded_amount": order.refunded_amount, "status": order.status, "paid_at": order.paid_at,
        "note": order.note,
        "lines": [{"id": line.pk, "sku": line.product.sku, "name": line.product.name, "category": line.category.name,
                   "quantity": line.quantity, "unit_price": line.unit_price, "discount": line.discount,
                   "amount": line.amount, "refunded_quantity": line.refunded_quantity} for line in lines],
        "refunds": [refund_out(r) for r in refunds] if refunds is not None else None,
        "created": created,
    }


@router.get("/stores", response=list[StoreOut], summary="The stores (shops, branches)")
@requires("sales:read", "order.view")
def store_list(request):
    return list(selectors.stores_active())


@router.get("/products", response=list[ProductOut], summary="The product catalogue",
            description="Filter by SKU or name (`q`), category name, and `active` (1 or 0).")
@requires("sales:read", "order.view")
def product_list(request, q: str = "", category: str = "", active: str = "1", limit: Int = 200, offset: Int = 0):
    category_id = None
    if category:
        category_id = ProductCategory.objects.filter(name=category.strip()).values_list("pk", flat=True).first()
        if category_id is None:
            return []
    qs = selectors.product_list_filtered(q=q, category=category_id, active=active)
    limit = max(1, min(limit, 500))
    return [product_out(p) for p in qs[max(offset, 0):max(offset, 0) + limit]]


@router.post("/products", response={201: ProductOut}, summary="Add a product")
@requires("sales:write", "product.manage")
def product_create(request, payload: ProductIn):
    category = ProductCategory.objects.filter(name=payload.category.strip()).first()
    if category is None:
        raise DomainError(_("There is no category “%(name)s”.") % {"name": payload.category}, code="unknown_category",
                          field="category")
    product = services.product_save(actor=request.auth, via="api", data={
        "sku": payload.sku, "name": payload.name, "category": category, "list_price": payload.list_price,
        "is_active": payload.is_active})
    return Status(201, product_out(product))


@router.get("/orders", response=list[OrderOut], summary="Orders, newest first",
            description="Filters: paid between date_from and date_to (inclusive), store code, channel, status, "
                        "customer public id, order number (or its beginning).")
@requires("sales:read", "order.view")
def order_list(request, filters: Query[OrderQuery]):
    qs = selectors.order_list_filtered(request.auth, selectors.OrderFilters(
        date_from=filters.date_from, date_to=filters.date_to, store=filters.store.strip().upper(),
        channel=filters.channel, status=filters.status, customer=filters.customer, q=filters.q))
    lines = OrderLine.objects.select_related("product", "category").order_by("id")
    orders = qs.prefetch_related(Prefetch("lines", queryset=lines))[filters.offset:filters.offset + filters.limit]
    return [order_out(o, lines=list(o.lines.all())) for o in orders]


@router.post("/orders", response={200: OrderOut, 201: OrderOut}, summary="Record a paid order",
             description="Writes the order, its lines and the customer's order.paid event (the member club awards "
                         "the points). The same Idempotency-Key again gives the first answer again "
                         "(Idempotent-Replayed: true) and writes nothing.")
@requires("sales:write", "order.add")
def order_post(request, payload: OrderIn, idempotency_key: str | None = KEY_HEADER):
    key = header_idempotency_key(idempotency_key)
    customer = event_customer(request.auth, payload)
    order = services.order_create(
        actor=request.auth, customer=customer, channel=payload.channel, store=payload.store,
        payment_method=payload.payment_method, discount=payload.discount, paid_at=payload.paid_at,
        order_no=payload.order_no, idempotency_key=key, note=payload.note, via="api",
        lines=[line.model_dump(exclude_none=True) for line in payload.lines])
    created = order.created
    if not created:
        order = selectors.order_get_for_user(request.auth, public_id=order.public_id)
    refunds = selectors.order_refunds(order) if not created else []
    return Status(201 if created else 200, order_out(order, created=created, refunds=refunds))


@router.get("/orders/{number}", response=OrderOut, summary="One order by its order number, with lines and refunds")
@requires("sales:read", "order.view")
def order_detail(request, number: Text):
    order = selectors.order_get_for_user(request.auth, order_no=number)
    return order_out(order, refunds=selectors.order_refunds(order))


@router.post("/orders/{number}/refunds", response={200: RefundResultOut, 201: RefundResultOut},
             summary="Refund all or part of an order",
             description="Without an amount, the paid value of the lines named is refunded. A refund larger than "
                         "what is left is refused. The customer's order.refunded event follows (the member club "
                         "takes the points back in proportion). Idempotent on the Idempotency-Key header.")
@requires("sales:write", "order.refund")
def order_refund_post(request, number: Text, payload: RefundIn, idempotency_key: str | None = KEY_HEADER):
    order = selectors.order_get_for_user(request.auth, order_no=number)
    refund = services.order_refund(
        actor=request.auth, order=order, amount=payload.amount, reason=payload.reason, via="api",
        lines=[line.model_dump(exclude_none=True) for line in payload.lines] if payload.lines else None,
        idempotency_key=header_idempotency_key(idempotency_key))
    order = selectors.order_get_for_user(request.auth, order_no=number)
    created = getattr(refund, "created", False)
    return Status(201 if created else 200, {"refund": refund_out(refund), "created": created,
                                            "order": order_out(order, refunds=selectors.order_refunds(order))})


# --- pipeline: opportunities and contracts ------------------------------------------------------------------------



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
    return pipeline_selectors.opportunity_get_for_user(request.auth, public_id)


@router.get("/opportunities", response=list[OpportunityOut], summary="Opportunities, latest change first",
            description="A sales rep sees their own; managers, marketing and read-only users everyone's.")
@requires("sales:read", "opportunity.view")
def opportunity_list(request, filters: Query[OpportunityQuery]):
    qs = pipeline_selectors.opportunity_list_filtered(request.auth, pipeline_selectors.OpportunityFilters(
        stage=filters.stage, owner=filters.owner, source=filters.source, status=filters.status,
        month=filters.month, customer=filters.customer))
    qs = qs.select_related("order").prefetch_related("products", "contracts")
    return [opportunity_out(o) for o in qs[filters.offset:filters.offset + filters.limit]]


@router.post("/opportunities", response={201: OpportunityOut}, summary="Record an opportunity",
             description="Starts in the first stage unless an open stage is named; the stage's required fields "
                         "must be given. Records opportunity.created on the customer's timeline.")
@requires("sales:write", "opportunity.change")
def opportunity_post(request, payload: OpportunityIn):
    customer = event_customer(request.auth, payload)
    opportunity = pipeline_services.opportunity_create(
        actor=request.auth, customer=customer, title=payload.title, source=payload.source,
        expected_amount=payload.expected_amount, expected_close_date=payload.expected_close_date,
        stage=payload.stage, probability=payload.probability, products=payload.products, owner=payload.owner,
        notes=payload.notes, via="api")
    return Status(201, opportunity_out(_opportunity(request, opportunity.public_id)))


@router.get("/opportunities/{public_id}", response=OpportunityOut, summary="One opportunity")
@requires("sales:read", "opportunity.view")
def opportunity_detail(request, public_id: Text):
    return opportunity_out(_opportunity(request, public_id))


@router.patch("/opportunities/{public_id}", response=OpportunityOut, summary="Change an opportunity",
              description="Only the fields sent change; `owner` (a user name) reassigns it (managers only).")
@requires("sales:write", "opportunity.change")
def opportunity_patch(request, public_id: Text, payload: OpportunityPatch):
    opportunity = _opportunity(request, public_id)
    data = payload.model_dump(exclude_unset=True)
    pipeline_services.opportunity_update(actor=request.auth, opportunity=opportunity, data=data, via="api")
    return opportunity_out(_opportunity(request, public_id))


@router.post("/opportunities/{public_id}/move", response=OpportunityOut, summary="Move an opportunity to a stage",
             description="Entering a stage needs the fields it requires (send them along). A lost stage needs "
                         "`lost_reason`; a won stage may record an `order` and register a `contract`. Records "
                         "opportunity.stage_changed, and opportunity.won or opportunity.lost.")
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
    pipeline_services.opportunity_move(actor=request.auth, opportunity=opportunity, stage=payload.stage, data=data,
                                       lost_reason=payload.lost_reason, lost_note=payload.lost_note, order=order,
                                       contract=contract, via="api")
    return opportunity_out(_opportunity(request, public_id))


@router.get("/contracts", response=list[ContractOut], summary="Contracts, latest start first")
@requires("sales:read", "contract.view")
def contract_list(request, filters: Query[ContractQuery]):
    qs = pipeline_selectors.contract_list_filtered(request.auth, pipeline_selectors.ContractFilters(
        status=filters.status, customer=filters.customer, ending_within=filters.ending_within))
    qs = qs.select_related("opportunity", "renewal_of")
    return [contract_out(c) for c in qs[filters.offset:filters.offset + filters.limit]]


@router.post("/contracts", response={201: ContractOut}, summary="Register a contract",
             description="A contract number is unique; the end date is not before the start date.")
@requires("sales:write", "contract.change")
def contract_post(request, payload: ContractIn):
    customer = event_customer(request.auth, payload)
    opportunity = (pipeline_selectors.opportunity_get_for_user(request.auth, payload.opportunity)
                   if payload.opportunity else None)
    contract = pipeline_services.contract_create(
        actor=request.auth, customer=customer, number=payload.number, title=payload.title, amount=payload.amount,
        payment_method=payload.payment_method, start_date=payload.start_date, end_date=payload.end_date,
        signed_at=payload.signed_at, status=payload.status, opportunity=opportunity, owner=payload.owner,
        notes=payload.notes, via="api")
    return Status(201, contract_out(pipeline_selectors.contract_get_for_user(request.auth, contract.public_id)))


@router.get("/contracts/{public_id}", response=ContractOut, summary="One contract")
@requires("sales:read", "contract.view")
def contract_detail(request, public_id: Text):
    return contract_out(pipeline_selectors.contract_get_for_user(request.auth, public_id))


@router.post("/contracts/{public_id}/renew", response={201: ContractOut}, summary="Renew a contract",
             description="Registers the next contract (by default the same amount and length, starting the day "
                         "after the old one ends), linked to the old one, which becomes `renewed`. Only an active "
                         "or expired contract can be renewed; the new number must be unused.")
@requires("sales:write", "contract.change")
def contract_renew(request, public_id: Text, payload: ContractRenewIn):
    contract = pipeline_selectors.contract_get_for_user(request.auth, public_id)
    new = pipeline_services.contract_renew(
        actor=request.auth, contract=contract, number=payload.number, amount=payload.amount,
        start_date=payload.start_date, end_date=payload.end_date, payment_method=payload.payment_method,
        notes=payload.notes, via="api")
    return Status(201, contract_out(pipeline_selectors.contract_get_for_user(request.auth, new.public_id)))


@router.post("/contracts/{public_id}/terminate", response=ContractOut, summary="End a contract early",
             description="Needs a reason; records `contract.terminated` on the customer's timeline. A renewed or "
                         "terminated contract cannot be terminated again.")
@requires("sales:write", "contract.change")
def contract_terminate(request, public_id: Text, payload: ContractTerminateIn):
    contract = pipeline_selectors.contract_get_for_user(request.auth, public_id)
    pipeline_services.contract_terminate(actor=request.auth, contract=contract, reason=payload.reason, via="api")
    return contract_out(pipeline_selectors.contract_get_for_user(request.auth, public_id))


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
    return pipeline_selectors.pipelines_overview(request.auth, pk=pk)[0]


def _stage_result(request, stage) -> dict:
    row = _pipeline_row(request, stage.pipeline_id)
    return next(s for s in pipeline_out(row)["stages"] if s["id"] == stage.pk)


@router.get("/pipelines", response=list[PipelineOut], summary="The pipelines with their stages, default first")
@requires("sales:read", "opportunity.view")
def pipeline_list(request):
    return [pipeline_out(row) for row in pipeline_selectors.pipelines_overview(request.auth)]


@router.post("/pipelines", response={201: PipelineOut}, summary="Create a pipeline (managers)",
             description="With the `stages` given (at least one open, one won and one lost) or the standard ones. "
                         "`is_default: true` unsets the previous default.")
@requires("sales:write", "pipeline.manage")
def pipeline_post(request, payload: PipelineIn):
    stages = ([stage.model_dump(exclude_none=True) for stage in payload.stages] if payload.stages is not None
              else None)
    pipeline = pipeline_admin.pipeline_save(actor=request.auth, data=payload.model_dump(exclude={"stages"}),
                                            stages=stages, via="api")
    return Status(201, pipeline_out(_pipeline_row(request, pipeline.pk)))


@router.patch("/pipelines/{pipeline_id}", response=PipelineOut, summary="Change a pipeline (managers)",
              description="Only the fields sent change; `is_default: true` unsets the "
                          "previous default, and the default cannot be switched off or made inactive.")
@requires("sales:write", "pipeline.manage")
def pipeline_patch(request, pipeline_id: RowId, payload: PipelinePatch):
    pipeline = pipeline_selectors.pipeline_get(pipeline_id)
    pipeline_admin.pipeline_save(actor=request.auth, pipeline=pipeline, data=payload.model_dump(exclude_unset=True),
                                 via="api")
    return pipeline_out(_pipeline_row(request, pipeline.pk))


@router.post("/pipelines/{pipeline_id}/stages", response={201: StageOut}, summary="Add a stage to a pipeline (managers)",
             description="The stage goes last unless a `position` is given.")
@requires("sales:write", "pipeline.manage")
def stage_post(request, pipeline_id: RowId, payload: StageIn):
    pipeline = pipeline_selectors.pipeline_get(pipeline_id)
    stage = pipeline_admin.stage_save(actor=request.auth, pipeline=pipeline, data=payload.model_dump(), via="api")
    return Status(201, _stage_result(request, stage))


@router.patch("/stages/{stage_id}", response=StageOut, summary="Change a stage (managers)",
              description="Only the fields sent change; `position` moves it. Its kind "
                          "stays while opportunities are in it; the pipeline keeps an open, a won and a lost stage.")
@requires("sales:write", "pipeline.manage")
def stage_patch(request, stage_id: RowId, payload: StagePatch):
    stage = pipeline_selectors.stage_get(stage_id)
    stage = pipeline_admin.stage_save(actor=request.auth, stage=stage, data=payload.model_dump(exclude_unset=True),
                                      via="api")
    return _stage_result(request, stage)


@router.delete("/stages/{stage_id}", response={204: None}, summary="Delete a stage (managers)",
               description="Refused (400) while opportunities are in the stage or when "
                           "they have passed through it, and for the pipeline's last open, won or lost stage.")
@requires("sales:write", "pipeline.manage")
def stage_delete(request, stage_id: RowId):
    pipeline_admin.stage_delete(actor=request.auth, stage=pipeline_selectors.stage_get(stage_id), via="api")
    return Status(204, None)
