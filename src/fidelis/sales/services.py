"""Writes on products and orders. Each is one transaction with its audit row and, for orders, its event.

`order_create` records `order.paid` on the customer's timeline with the payload the member club reads (amount,
store code, categories, lines, order number), so a sales order earns points through the live earn rules;
`order_refund` records `order.refunded`, from which the member club takes the points back in proportion.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fidelis.accounts.permissions import capability_check
from fidelis.accounts.services import audit_record
from fidelis.core.errors import Conflict, DomainError, NotFound, full_clean_or_raise
from fidelis.customers.models import Customer
from fidelis.customers.selectors import customer_require_writable, customer_visible_qs
from fidelis.events.services import record_event
from fidelis.sales.errors import SalesCode
from fidelis.sales.models import (
    Order,
    OrderChannel,
    OrderLine,
    OrderStatus,
    PaymentMethod,
    Product,
    ProductCategory,
    Refund,
    RefundLine,
    Store,
)
from fidelis.sales.rollups import rollup_order, rollup_refund

CURRENCY = "CNY"
CENT = Decimal("0.01")
MAX_MONEY = Decimal("9999999999.99")  # what a DecimalField(12, 2) holds
MAX_QUANTITY = 100_000
MAX_LINES = 200
# A till's clock may be a little ahead of ours; an order paid further in the future is a typing error.
FUTURE_SKEW = timedelta(minutes=10)
# The summary line of a till's sale sent without lines (`POST /api/loyalty/orders`): catalogue data, not words
# of the interface.
TILL_SKU = "POS-SALE"
TILL_CATEGORY = "POS"
TILL_PRODUCT_NAME = "POS sale"
PRODUCT_FIELDS = ("sku", "name", "category", "list_price", "is_active")
STORE_FIELDS = ("code", "name", "is_active")
CATEGORY_FIELDS = ("name", "parent")


def money(value: Any, *, field: str, allow_zero: bool = True) -> Decimal:
    """Return a CNY amount as Decimal rounded half up to the cent; raise DomainError naming the field."""
    if isinstance(value, float):
        value = str(value)  # never carry a binary fraction into money
    try:
        amount = Decimal(str(value).strip().replace(",", "").replace("¥", "")) if value not in (None, "") else None
    except (InvalidOperation, ValueError):
        amount = None
    if amount is None or not amount.is_finite():
        raise DomainError(_("“%(value)s” is not an amount.") % {"value": value}, code=SalesCode.INVALID_AMOUNT, field=field)
    amount = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    if amount < 0 or (amount == 0 and not allow_zero):
        raise DomainError(_("The amount must be more than zero.") if not allow_zero
                          else _("The amount cannot be negative."), code=SalesCode.INVALID_AMOUNT, field=field)
    if amount > MAX_MONEY:
        raise DomainError(_("The amount is too large."), code=SalesCode.INVALID_AMOUNT, field=field)
    return amount


def _changes(obj, before: dict[str, Any], fields: tuple[str, ...]) -> dict[str, list]:
    after = {f: plain_value(getattr(obj, f)) for f in fields}
    return {f: [before.get(f), after[f]] for f in fields if before.get(f) != after[f]}


def plain_value(value: Any) -> Any:
    """Return the value as the audit log stores it: a Decimal or a model instance as a string."""
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "pk"):
        return str(value)
    return value


# --- catalogue ----------------------------------------------------------------------------------------------------


def _unknown(data: dict[str, Any], fields: tuple[str, ...]) -> None:
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise DomainError(_("Unknown field: %(field)s") % {"field": unknown[0]}, code=SalesCode.UNKNOWN_FIELD,
                          field=unknown[0])


def _save_catalogue(*, actor, obj, data: dict[str, Any], fields: tuple[str, ...], action: str, via: str):
    capability_check(actor, "product.manage", _("You may not change the product catalogue."))
    _unknown(data, fields)
    creating = obj.pk is None
    before = {} if creating else {f: plain_value(getattr(obj, f)) for f in fields}
    for field, value in data.items():
        if isinstance(value, str):
            value = value.strip()
        setattr(obj, field, value)
    full_clean_or_raise(obj)
    changes = _changes(obj, before, fields)
    if creating or changes:
        obj.save()
        audit_record(actor=actor, action=f"{action}.{'create' if creating else 'update'}", obj=obj,
                     changes=changes, via=via)
    return obj


@transaction.atomic(durable=True)
def store_save(*, actor, data: dict[str, Any], store: Store | None = None, via: str = "web") -> Store:
    """Create a store, or change one (code, name, active)."""
    if "code" in data:
        data = {**data, "code": str(data["code"] or "").strip().upper()}
    return _save_catalogue(actor=actor, obj=store or Store(), data=data, fields=STORE_FIELDS, action="store",
                           via=via)


@transaction.atomic(durable=True)
def category_save(*, actor, data: dict[str, Any], category: ProductCategory | None = None,
                  via: str = "web") -> ProductCategory:
    """Create a product category, or change one; a category cannot sit below itself."""
    category = category or ProductCategory()
    parent = data.get("parent")
    node = parent
    while node is not None and category.pk is not None:
        if node.pk == category.pk:
            raise DomainError(_("A category cannot sit below itself."), code=SalesCode.CATEGORY_CYCLE, field="parent")
        node = node.parent
    return _save_catalogue(actor=actor, obj=category, data=data, fields=CATEGORY_FIELDS, action="category", via=via)


@transaction.atomic
def product_save(*, actor, data: dict[str, Any], product: Product | None = None, via: str = "web") -> Product:
    """Create a product, or change one (SKU, name, category, list price, active)."""
    data = dict(data)
    if "sku" in data:
        data["sku"] = str(data["sku"] or "").strip().upper()
    if "list_price" in data:
        data["list_price"] = money(data["list_price"], field="list_price")
    return _save_catalogue(actor=actor, obj=product or Product(), data=data, fields=PRODUCT_FIELDS,
                           action="product", via=via)


# --- orders -------------------------------------------------------------------------------------------------------


@dataclass
class _Line:
    product: Product
    quantity: int
    unit_price: Decimal
    discount: Decimal

    @property
    def amount(self) -> Decimal:
        return self.quantity * self.unit_price - self.discount


def _quantity(raw: Any, field: str) -> int:
    invalid = DomainError(_("“%(value)s” is not a whole number.") % {"value": raw}, code=SalesCode.INVALID_QUANTITY,
                          field=field)
    if isinstance(raw, bool):
        raise invalid
    if isinstance(raw, int):
        quantity = raw
    else:
        try:
            number = Decimal(str(raw if raw is not None else "").strip())
        except (InvalidOperation, ValueError):
            raise invalid
        if not number.is_finite() or number != number.to_integral_value():
            raise invalid
        quantity = int(number)
    if quantity <= 0:
        raise DomainError(_("The quantity must be at least 1."), code=SalesCode.INVALID_QUANTITY, field=field)
    if quantity > MAX_QUANTITY:
        raise DomainError(_("The quantity is too large."), code=SalesCode.INVALID_QUANTITY, field=field)
    return quantity


def _lines(raw_lines: list[dict[str, Any]]) -> list[_Line]:
    if not raw_lines:
        raise DomainError(_("An order needs at least one line."), code=SalesCode.REQUIRED, field="lines")
    if len(raw_lines) > MAX_LINES:
        raise DomainError(_("An order has at most %(n)s lines.") % {"n": MAX_LINES}, code=SalesCode.TOO_MANY_LINES, field="lines")
    skus = {str(line.get("sku") or "").strip().upper() for line in raw_lines if not line.get("product")}
    by_sku = {p.sku: p for p in Product.objects.filter(sku__in=skus - {""}).select_related("category")}
    lines = []
    for index, raw in enumerate(raw_lines):
        prefix = f"lines.{index}"
        unknown = set(raw) - {"product", "sku", "quantity", "unit_price", "discount"}
        if unknown:
            raise DomainError(_("Unknown field: %(field)s") % {"field": sorted(unknown)[0]}, code=SalesCode.UNKNOWN_FIELD,
                              field=f"{prefix}.{sorted(unknown)[0]}")
        product = raw.get("product")
        if product is None:
            sku = str(raw.get("sku") or "").strip().upper()
            if not sku:
                raise DomainError(_("Choose a product."), code=SalesCode.REQUIRED, field=f"{prefix}.sku")
            product = by_sku.get(sku)
            if product is None:
                raise DomainError(_("There is no product with SKU %(sku)s.") % {"sku": sku}, code=SalesCode.UNKNOWN_PRODUCT,
                                  field=f"{prefix}.sku")
        if not product.is_active:
            raise DomainError(_("%(product)s is no longer sold.") % {"product": product}, code=SalesCode.INACTIVE_PRODUCT,
                              field=f"{prefix}.sku")
        quantity = _quantity(raw.get("quantity"), f"{prefix}.quantity")
        price = raw.get("unit_price")
        unit_price = product.list_price if price in (None, "") else money(price, field=f"{prefix}.unit_price")
        discount = money(raw.get("discount") or 0, field=f"{prefix}.discount")
        if discount > quantity * unit_price:
            raise DomainError(_("The discount is larger than the line's price."), code=SalesCode.INVALID_AMOUNT,
                              field=f"{prefix}.discount")
        lines.append(_Line(product, quantity, unit_price, discount))
    return lines


def _store(store: Store | str | None, channel: str) -> Store | None:
    if isinstance(store, str):
        code = store.strip().upper()
        store = Store.objects.filter(code=code).first() if code else None
        if store is None and code:
            raise DomainError(_("There is no store with code %(code)s.") % {"code": code}, code=SalesCode.UNKNOWN_STORE,
                              field="store")
    if store is None:
        if channel == OrderChannel.STORE:
            raise DomainError(_("Name the store of an in-store order."), code=SalesCode.REQUIRED, field="store")
        return None
    if not store.is_active:
        raise DomainError(_("The store %(store)s is closed.") % {"store": store}, code=SalesCode.INACTIVE_STORE, field="store")
    return store


def _till_store(name: str, channel: str) -> tuple[Store | None, str]:
    """Return the catalogue store a till names by its code, else no store and the till's own name of the place."""
    name = (name or "").strip()
    store = Store.objects.filter(code=name.upper()).first() if name else None
    return (_store(store, channel), "") if store is not None else (None, name[:80])


def till_product() -> Product:
    """Return the product of a till's summary line (a sale sent without its lines), made the first time."""
    product = Product.objects.filter(sku=TILL_SKU).select_related("category").first()
    if product is None:
        # get_or_create: the first sales of two tills at once make one category and one product.
        category, _new = ProductCategory.objects.get_or_create(name=TILL_CATEGORY, defaults={"parent": None})
        product, _new = Product.objects.get_or_create(sku=TILL_SKU, defaults={
            "name": TILL_PRODUCT_NAME, "category": category, "list_price": Decimal("0")})
    return product


def till_line(amount: Decimal | str) -> dict[str, Any]:
    """Return the one summary line of a till's sale that names no products: the paid amount, once."""
    return {"product": till_product(), "quantity": 1, "unit_price": money(amount, field="amount")}


def _order_no(order_no: str | None, paid_at: datetime) -> str:
    if order_no is not None:
        order_no = str(order_no).strip()
        if not order_no or len(order_no) > 40 or any(c.isspace() for c in order_no):
            raise DomainError(_("An order number has 1 to 40 characters and no spaces."), code=SalesCode.INVALID_ORDER_NO,
                              field="order_no")
        if Order.objects.filter(order_no=order_no).exists():
            raise DomainError(_("Order number %(number)s exists already.") % {"number": order_no},
                              code=SalesCode.ORDER_NO_TAKEN, field="order_no")
        return order_no
    day = timezone.localtime(paid_at).strftime("%Y%m%d")
    for _attempt in range(20):
        candidate = f"S{day}{secrets.randbelow(10**6):06d}"
        if not Order.objects.filter(order_no=candidate).exists():
            return candidate
    raise DomainError(_("No free order number today; name one."), code=SalesCode.NO_FREE_ORDER_NO, field="order_no")


def _existing_for_key(key: str, customer: Customer) -> Order | None:
    existing = Order.objects.filter(idempotency_key=key).first()
    if existing is not None and existing.customer_id != customer.pk:
        raise Conflict(_("This idempotency key was already used for another order."), code=SalesCode.IDEMPOTENCY_CONFLICT,
                       field="idempotency_key")
    return existing


def order_payload(order: Order, lines: list[OrderLine], *, place: str = "",
                  categories: list[str] | None = None) -> dict[str, Any]:
    """Return the order.paid payload the member club reads (amount, store code, categories, lines, order number).

    `place` is the till's name of a store outside the catalogue; `categories` those a till names for a sale sent
    without its lines (default: the categories of the lines).
    """
    if categories is None:
        categories = list(dict.fromkeys(line.category.name for line in lines))
    return {
        "order_no": order.order_no, "amount": str(order.paid_amount), "currency": CURRENCY,
        "store": order.store.code if order.store else place, "channel": order.channel, "categories": categories,
        "lines": [{"sku": line.product.sku, "category": line.category.name, "quantity": line.quantity,
                   "amount": str(line.amount)} for line in lines],
        "subtotal": str(order.subtotal), "discount": str(order.discount), "payment_method": order.payment_method,
    }


def paid_event_key(order: Order) -> str:
    """Return the idempotency key of an order's order.paid event (one per order, whoever writes it)."""
    return paid_event_key_for(order.order_no)


def paid_event_key_for(order_no: str) -> str:
    return f"sales:order:{order_no}:paid"


@transaction.atomic
def order_create(*, actor, customer: Customer, lines: list[dict[str, Any]], channel: str,
                 store: Store | str | None, payment_method: str, discount: Decimal | str | int = 0,
                 paid_at: datetime | None = None, order_no: str | None = None, idempotency_key: str | None = None,
                 note: str = "", via: str = "web", till_store: str | None = None,
                 categories: list[str] | None = None) -> Order:
    """Record a paid order with its lines, the audit row and the order.paid event; return it.

    Lines are dicts with a `product` (or its `sku`), a `quantity`, and optionally a `unit_price` (default: the
    list price) and a line `discount`. The same idempotency key again gives the first order back (its `created`
    attribute is False then) and writes nothing.

    A till (`POST /api/loyalty/orders`) names its store as it calls it (`till_store`, instead of `store`): the
    catalogue store of that code, else an order without a store whose event names the till's place; and it may
    name the categories of a sale sent as one summary line (`till_line`), for the earn rules.
    """
    capability_check(actor, "order.add", _("You may not record orders."))
    if actor is not None and not customer_visible_qs(actor).filter(pk=customer.pk).exists():
        raise NotFound(_("No such customer."), code=SalesCode.NOT_FOUND, field="customer")
    if customer.merged_into_id:
        raise DomainError(_("This customer was merged into another record."), code=SalesCode.MERGED, field="customer")
    customer_require_writable(customer)
    key = (idempotency_key or "").strip() or None
    if key:
        if len(key) > 120:
            raise DomainError(_("An idempotency key has at most 120 characters."), code=SalesCode.TOO_LONG,
                              field="idempotency_key")
        existing = _existing_for_key(key, customer)
        if existing is not None:
            existing.created = False
            return existing
    if channel not in OrderChannel.values:
        raise DomainError(_("Unknown channel."), code=SalesCode.INVALID_CHANNEL, field="channel")
    if payment_method not in PaymentMethod.values:
        raise DomainError(_("Unknown payment method."), code=SalesCode.INVALID_PAYMENT_METHOD, field="payment_method")
    checked = _lines(lines)
    the_store, place = _till_store(till_store, channel) if till_store is not None else (_store(store, channel), "")
    now = timezone.now()
    paid_at = paid_at or now
    if timezone.is_naive(paid_at):
        paid_at = timezone.make_aware(paid_at)
    if paid_at > now + FUTURE_SKEW:
        raise DomainError(_("The payment time lies in the future."), code=SalesCode.PAID_IN_FUTURE, field="paid_at")
    subtotal = sum((line.amount for line in checked), Decimal("0"))
    order_discount = money(discount, field="discount")
    if order_discount > subtotal:
        raise DomainError(_("The discount is larger than the order's subtotal."), code=SalesCode.INVALID_AMOUNT,
                          field="discount")
    if subtotal > MAX_MONEY:
        raise DomainError(_("The amount is too large."), code=SalesCode.INVALID_AMOUNT, field="lines")
    try:
        number = _order_no(order_no, paid_at)
    except DomainError as exc:
        # A retry with the same key that came while the first request committed: answer with its order.
        existing = _existing_for_key(key, customer) if key and exc.code == SalesCode.ORDER_NO_TAKEN else None
        if existing is None:
            raise
        existing.created = False
        return existing
    order = Order(order_no=number, customer=customer, channel=channel, store=the_store,
                  payment_method=payment_method, subtotal=subtotal, discount=order_discount,
                  paid_amount=subtotal - order_discount, paid_at=paid_at, note=(note or "").strip()[:200],
                  idempotency_key=key, created_by=actor if getattr(actor, "is_authenticated", False) else None)
    try:
        # A savepoint: a concurrent request with the same key or number wins, and this one answers with it.
        with transaction.atomic():
            order.save()
    except IntegrityError:
        existing = _existing_for_key(key, customer) if key else None
        if existing is None:
            raise DomainError(_("Order number %(number)s exists already.") % {"number": order.order_no},
                              code=SalesCode.ORDER_NO_TAKEN, field="order_no")
        existing.created = False
        return existing
    rows = OrderLine.objects.bulk_create([
        OrderLine(order=order, product=line.product, category=line.product.category, quantity=line.quantity,
                  unit_price=line.unit_price, discount=line.discount, amount=line.amount) for line in checked])
    rollup_order(order, rows)
    audit_record(actor=actor, action="order.create", obj=order, via=via, changes={
        "order_no": [None, order.order_no], "customer": [None, customer.number],
        "paid_amount": [None, str(order.paid_amount)], "lines": [None, len(rows)]})
    order.event, _new = record_event(
        customer=customer, type="order.paid", actor=actor, occurred_at=paid_at, channel=channel,
        touchpoint=the_store.name if the_store else place,
        payload=order_payload(order, rows, place=place, categories=categories), idempotency_key=paid_event_key(order))
    order.created = True
    return order


def _refund_lines(order: Order, raw_lines: list[dict[str, Any]] | None) -> list[tuple[OrderLine, int]]:
    if not raw_lines:
        return []
    by_id = {line.pk: line for line in order.lines.select_related("product", "category")}
    by_sku = {line.product.sku: line for line in by_id.values()}
    picked: dict[int, int] = {}
    for index, raw in enumerate(raw_lines):
        ref = raw.get("line")
        line = ref if isinstance(ref, OrderLine) else None
        if line is None and ref not in (None, ""):
            line = by_id.get(int(ref)) if str(ref).isdigit() else None
        if line is None and raw.get("sku"):
            line = by_sku.get(str(raw["sku"]).strip().upper())
        if line is None or line.order_id != order.pk:
            raise DomainError(_("This order has no such line."), code=SalesCode.UNKNOWN_LINE, field=f"lines.{index}.line")
        quantity = _quantity(raw.get("quantity"), f"lines.{index}.quantity")
        picked[line.pk] = picked.get(line.pk, 0) + quantity
        line = by_id[line.pk]
        if picked[line.pk] > line.quantity - line.refunded_quantity:
            raise DomainError(_("Only %(n)s of %(product)s are left to refund.")
                              % {"n": line.quantity - line.refunded_quantity, "product": line.product.name},
                              code=SalesCode.REFUND_TOO_LARGE, field=f"lines.{index}.quantity")
    return [(by_id[pk], quantity) for pk, quantity in picked.items()]


def refund_share(line: OrderLine, quantity: int, order: Order) -> Decimal:
    """Return what `quantity` of a line is worth as paid: its share of the line amount less its part of the
    order discount, rounded half up to the cent."""
    if not line.quantity or not order.subtotal:
        return Decimal("0.00")
    paid_share = line.amount * quantity / line.quantity * order.paid_amount / order.subtotal
    return paid_share.quantize(CENT, rounding=ROUND_HALF_UP)


@transaction.atomic
def order_refund(*, actor, order: Order, amount: Decimal | str | None, reason: str,
                 lines: list[dict[str, Any]] | None = None, idempotency_key: str | None = None,
                 via: str = "web") -> Refund:
    """Refund all or part of a paid order (optionally naming the products taken back); record order.refunded.

    Without an amount the value of the named lines is refunded. A refund larger than what is left is refused.
    The same idempotency key again gives the first refund back (`created` False) and writes nothing.
    """
    capability_check(actor, "order.refund", _("You may not refund orders."))
    if actor is not None and not customer_visible_qs(actor).filter(pk=order.customer_id).exists():
        raise NotFound(_("No such order."), code=SalesCode.NOT_FOUND, field="order")
    key = (idempotency_key or "").strip() or None
    if key:
        existing = Refund.objects.filter(idempotency_key=key).first()
        if existing is not None:
            if existing.order_id != order.pk:
                raise Conflict(_("This idempotency key was already used for another refund."),
                               code=SalesCode.IDEMPOTENCY_CONFLICT, field="idempotency_key")
            existing.created = False
            return existing
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Say why the order is refunded."), code=SalesCode.REQUIRED, field="reason")
    if len(reason) > 200:
        raise DomainError(_("The reason has at most 200 characters."), code=SalesCode.TOO_LONG, field="reason")
    # Lock the order: two refunds at once must not together give back more than was paid.
    order = Order.objects.select_for_update(of=("self",)).select_related("store", "customer").get(pk=order.pk)
    picked = _refund_lines(order, lines)
    if amount in (None, ""):
        if not picked:
            raise DomainError(_("Enter the amount to refund."), code=SalesCode.REQUIRED, field="amount")
        amount = min(sum((refund_share(line, q, order) for line, q in picked), Decimal("0")), order.refundable)
    refund_amount = money(amount, field="amount", allow_zero=False)
    if refund_amount > order.refundable:
        raise DomainError(_("At most ¥%(left)s of this order is left to refund.") % {"left": order.refundable},
                          code=SalesCode.REFUND_TOO_LARGE, field="amount")
    refund = Refund(order=order, amount=refund_amount, reason=reason, idempotency_key=key,
                    created_by=actor if getattr(actor, "is_authenticated", False) else None)
    try:
        with transaction.atomic():
            refund.save()
    except IntegrityError:
        existing = Refund.objects.filter(idempotency_key=key).first() if key else None
        if existing is None or existing.order_id != order.pk:
            raise Conflict(_("This idempotency key was already used for another refund."),
                           code=SalesCode.IDEMPOTENCY_CONFLICT, field="idempotency_key")
        existing.created = False
        return existing
    RefundLine.objects.bulk_create([RefundLine(refund=refund, line=line, quantity=q) for line, q in picked])
    for line, quantity in picked:
        OrderLine.objects.filter(pk=line.pk).update(refunded_quantity=line.refunded_quantity + quantity)
    before = (str(order.refunded_amount), order.status)
    order.refunded_amount += refund_amount
    order.status = OrderStatus.REFUNDED if order.refunded_amount >= order.paid_amount else OrderStatus.PARTLY_REFUNDED
    order.save(update_fields=["refunded_amount", "status", "updated_at"])
    rollup_refund(order, refund_amount)
    audit_record(actor=actor, action="order.refund", obj=order, via=via, changes={
        "refunded_amount": [before[0], str(order.refunded_amount)], "status": [before[1], order.status],
        "refund": [None, str(refund_amount)], "reason": [None, reason]})
    refund.event, _new = record_event(
        customer=order.customer, type="order.refunded", actor=actor, channel=order.channel,
        touchpoint=order.store.name if order.store else "",
        payload={"order_no": order.order_no, "amount": str(refund_amount), "currency": CURRENCY,
                 "refunded_total": str(order.refunded_amount), "paid_amount": str(order.paid_amount),
                 "store": order.store.code if order.store else "", "channel": order.channel, "reason": reason,
                 "lines": [{"sku": line.product.sku, "category": line.category.name, "quantity": q}
                           for line, q in picked]},
        idempotency_key=f"sales:refund:{refund.public_id}")
    refund.created = True
    return refund
