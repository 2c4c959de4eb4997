"""Products and orders over HTTP: what a POS, an e-shop or a WeChat mini-program needs.

Read the catalogue and the stores, post paid orders with their lines (the customer's order.paid event follows, and
the member club awards the points), read orders, refund all or part of one. Writes take an `Idempotency-Key`
header: the same key again gives the first answer again and no second effect (`fidelis.core.idempotency`).
"""

from django.db.models import Prefetch
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import Query, Router, Status

from fidelis.accounts.api_auth import requires
from fidelis.core.errors import DomainError
from fidelis.core.idempotency import KEY_HEADER, header_idempotency_key
from fidelis.core.types import Int, Text
from fidelis.events.api import event_customer
from fidelis.sales import selectors, services
from fidelis.sales.errors import SalesCode
from fidelis.sales.models import Order, OrderLine, ProductCategory, Refund
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


@router.get("/stores", response=list[StoreOut], summary=gettext_lazy("The stores (shops, branches)"))
@requires("sales:read", "order.view")
def store_list(request):
    return list(selectors.stores_active())


@router.get("/products", response=list[ProductOut], summary=gettext_lazy("The product catalogue"),
            description=gettext_lazy("Filter by SKU or name (`q`), category name, and `active` (1 or 0)."))
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


@router.post("/products", response={201: ProductOut}, summary=gettext_lazy("Add a product"))
@requires("sales:write", "product.manage")
def product_create(request, payload: ProductIn):
    category = ProductCategory.objects.filter(name=payload.category.strip()).first()
    if category is None:
        raise DomainError(_("There is no category “%(name)s”.") % {"name": payload.category}, code=SalesCode.UNKNOWN_CATEGORY,
                          field="category")
    product = services.product_save(actor=request.auth, via="api", data={
        "sku": payload.sku, "name": payload.name, "category": category, "list_price": payload.list_price,
        "is_active": payload.is_active})
    return Status(201, product_out(product))


@router.get("/orders", response=list[OrderOut], summary=gettext_lazy("Orders, newest first"),
            description=gettext_lazy("Filters: paid between date_from and date_to (inclusive), store code, "
                                     "channel, status, customer public id, order number (or its "
                                     "beginning)."))
@requires("sales:read", "order.view")
def order_list(request, filters: Query[OrderQuery]):
    qs = selectors.order_list_filtered(request.auth, selectors.OrderFilters(
        date_from=filters.date_from, date_to=filters.date_to, store=filters.store.strip().upper(),
        channel=filters.channel, status=filters.status, customer=filters.customer, q=filters.q))
    lines = OrderLine.objects.select_related("product", "category").order_by("id")
    orders = qs.prefetch_related(Prefetch("lines", queryset=lines))[filters.offset:filters.offset + filters.limit]
    return [order_out(o, lines=list(o.lines.all())) for o in orders]


@router.post("/orders", response={200: OrderOut, 201: OrderOut}, summary=gettext_lazy("Record a paid order"),
             description=gettext_lazy("Writes the order, its lines and the customer's order.paid event "
                                      "(the member club awards the points). The same Idempotency-Key again "
                                      "gives the first answer again (Idempotent-Replayed: true) and writes "
                                      "nothing."))
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


@router.get("/orders/{number}", response=OrderOut,
            summary=gettext_lazy("One order by its order number, with lines and refunds"))
@requires("sales:read", "order.view")
def order_detail(request, number: Text):
    order = selectors.order_get_for_user(request.auth, order_no=number)
    return order_out(order, refunds=selectors.order_refunds(order))


@router.post("/orders/{number}/refunds", response={200: RefundResultOut, 201: RefundResultOut},
             summary=gettext_lazy("Refund all or part of an order"),
             description=gettext_lazy("Without an amount, the paid value of the lines named is refunded. A "
                                      "refund larger than what is left is refused. The customer's "
                                      "order.refunded event follows (the member club takes the points back "
                                      "in proportion). Idempotent on the Idempotency-Key header."))
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
