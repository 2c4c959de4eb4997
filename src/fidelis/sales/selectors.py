"""Reads on products and orders. An order is visible to a user exactly when its customer is."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from fidelis.accounts.permissions import has_capability
from fidelis.core.errors import NotFound
from fidelis.customers.models import Customer
from fidelis.customers.selectors import customer_visible_qs
from fidelis.sales.errors import SalesCode
from fidelis.sales.models import Order, OrderLine, Product, ProductCategory, Refund, Store


def order_visible_qs(user) -> QuerySet[Order]:
    """Return the orders the user may see: those of the customers the user sees."""
    if not has_capability(user, "order.view"):
        return Order.objects.none()
    return Order.objects.filter(customer__in=customer_visible_qs(user))


@dataclass
class OrderFilters:
    date_from: date | None = None
    date_to: date | None = None
    store: str = ""  # store code
    channel: str = ""
    status: str = ""
    customer: str = ""  # public id
    q: str = ""  # order number (exact or prefix)


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def order_list_filtered(user, filters: OrderFilters) -> QuerySet[Order]:
    """Return the visible orders matching the list filters, newest payment first."""
    qs = order_visible_qs(user).select_related("customer", "store")
    if filters.date_from:
        qs = qs.filter(paid_at__gte=_day_start(filters.date_from))
    if filters.date_to:
        qs = qs.filter(paid_at__lt=_day_start(filters.date_to + timedelta(days=1)))
    if filters.store:
        qs = qs.filter(store__code=filters.store)
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.customer:
        qs = qs.filter(customer__public_id=filters.customer)
    if filters.q:
        text = filters.q.strip()
        qs = qs.filter(Q(order_no=text) | Q(order_no__startswith=text))
    return qs.order_by("-paid_at", "-id")


def order_totals(qs: QuerySet[Order]) -> dict:
    """Return count, paid and refunded sums of a list of orders."""
    sums = qs.order_by().aggregate(n=Count("id"), paid=Sum("paid_amount"), refunded=Sum("refunded_amount"))
    # SQLite sums decimals without their scale: back to cents.
    cent = Decimal("0.01")
    paid, refunded = (sums["paid"] or Decimal("0")).quantize(cent), (sums["refunded"] or Decimal("0")).quantize(cent)
    return {"count": sums["n"], "paid": paid, "refunded": refunded, "net": paid - refunded}


def order_get_for_user(user, *, public_id: str | None = None, order_no: str | None = None) -> Order:
    """Return the visible order with this public id or order number, or raise NotFound."""
    qs = order_visible_qs(user).select_related("customer", "store", "created_by")
    found = (qs.filter(public_id=public_id) if public_id is not None else qs.filter(order_no=order_no)).first()
    if found is None:
        raise NotFound(_("No such order."), code=SalesCode.NOT_FOUND, field="order")
    return found


def order_lines(order: Order) -> list[OrderLine]:
    return list(order.lines.select_related("product", "category").order_by("id"))


def order_refunds(order: Order) -> list[Refund]:
    return list(order.refunds.select_related("created_by").prefetch_related("lines__line__product")
                .order_by("-created_at", "-id"))


def customer_orders(customer: Customer, *, limit: int = 5) -> tuple[list[Order], dict]:
    """Return the customer's latest orders and the totals of all of them."""
    qs = Order.objects.filter(customer=customer)
    latest = list(qs.select_related("store").order_by("-paid_at", "-id")[:limit])
    return latest, order_totals(qs)


def product_list_filtered(*, q: str = "", category: int | None = None, active: str = "") -> QuerySet[Product]:
    """Return products by SKU or name, category (with its sub-categories) and active state."""
    qs = Product.objects.select_related("category", "category__parent")
    text = (q or "").strip()
    if text:
        qs = qs.filter(Q(sku__startswith=text.upper()) | Q(name__contains=text))
    if category:
        qs = qs.filter(Q(category_id=category) | Q(category__parent_id=category))
    if active in ("1", "0"):
        qs = qs.filter(is_active=active == "1")
    return qs.order_by("category__name", "sku")


def product_get(public_id: str) -> Product:
    product = Product.objects.select_related("category").filter(public_id=public_id).first()
    if product is None:
        raise NotFound(_("No such product."), code=SalesCode.NOT_FOUND)
    return product


def products_for_sale() -> list[tuple[str, list[Product]]]:
    """Return the active products grouped by category name, for the order form."""
    groups: dict[str, list[Product]] = {}
    for product in Product.objects.filter(is_active=True).select_related("category").order_by("category__name",
                                                                                           "name"):
        groups.setdefault(product.category.name, []).append(product)
    return list(groups.items())


def stores_active() -> QuerySet[Store]:
    return Store.objects.filter(is_active=True).order_by("code")


def categories_tree() -> list[ProductCategory]:
    """Return every category, parents first, each followed by its children."""
    categories = list(ProductCategory.objects.select_related("parent").annotate(product_count=Count("products")))
    children: dict[int | None, list[ProductCategory]] = {}
    for category in categories:
        children.setdefault(category.parent_id, []).append(category)
    ordered: list[ProductCategory] = []

    def walk(parent_id: int | None, depth: int) -> None:
        for category in sorted(children.get(parent_id, []), key=lambda c: c.name):
            category.depth = depth
            ordered.append(category)
            walk(category.pk, depth + 1)

    walk(None, 0)
    return ordered
