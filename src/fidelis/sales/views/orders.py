"""Orders in the UI: the list with filters, an order with its lines and refunds, a new order (customer picker,
lines added with htmx) and a refund. The orders card of the customer 360° page is in `fidelis.sales.panels`."""

import re
from datetime import date

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _

from fidelis.accounts.decorators import require_capability
from fidelis.accounts.permissions import has_capability
from fidelis.core.errors import DomainError, NotFound, form_error
from fidelis.customers.selectors import customer_get_for_user, customer_search
from fidelis.sales import selectors, services
from fidelis.sales.errors import SalesCode
from fidelis.sales.forms import OrderForm, RefundForm
from fidelis.sales.models import OrderChannel, OrderStatus

PAGE_SIZE = 50
PICKER_LIMIT = 10
MAX_LINE_INDEX = 999
_LINE_FIELD = re.compile(r"^lines\.(\d+)(?:\.(\w+))?$")


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()) if text and text.strip() else None
    except ValueError:
        return None


@require_capability("order.view")
def order_list(request):
    get = request.GET
    filters = selectors.OrderFilters(
        date_from=_date(get.get("date_from", "")), date_to=_date(get.get("date_to", "")),
        store=get.get("store", "").strip().upper(), channel=get.get("channel", "").strip(),
        status=get.get("status", "").strip(), customer=get.get("customer", "").strip(), q=get.get("q", "").strip())
    qs = selectors.order_list_filtered(request.user, filters)
    page = Paginator(qs, PAGE_SIZE).get_page(get.get("page"))
    query = {k: v for k, v in (("date_from", filters.date_from.isoformat() if filters.date_from else ""),
                                ("date_to", filters.date_to.isoformat() if filters.date_to else ""),
                                ("store", filters.store), ("channel", filters.channel), ("status", filters.status),
                                ("customer", filters.customer), ("q", filters.q)) if v}
    customer = None
    if filters.customer:
        try:
            customer = customer_get_for_user(request.user, filters.customer)
        except NotFound:
            customer = None
    return render(request, "sales/order_list.html", {
        "page": page, "orders": page.object_list, "filters": filters,
        "filtered": bool(query), "totals": selectors.order_totals(qs), "customer": customer,
        "stores": selectors.stores_active(), "channels": OrderChannel.choices, "statuses": OrderStatus.choices,
        "can_add": has_capability(request.user, "order.add"),
        "can_import": has_capability(request.user, "order.import"),
    })


@require_capability("order.view")
def order_detail(request, public_id: str):
    order = selectors.order_get_for_user(request.user, public_id=public_id)
    return render(request, "sales/order_detail.html", {
        "order": order, "lines": selectors.order_lines(order), "refunds": selectors.order_refunds(order),
        "can_refund": has_capability(request.user, "order.refund") and order.refundable > 0,
    })


def _form_context(request, form: OrderForm, customer, line_errors: dict[int, str] | None = None) -> dict:
    rows = form.line_rows() if form.is_bound else []
    if not rows:
        rows = [{"index": 0}]
    for row in rows:
        row["error"] = (line_errors or {}).get(row["index"], "")
    return {"form": form, "customer": customer, "rows": rows, "next_index": max(r["index"] for r in rows) + 1,
            "products": selectors.products_for_sale()}


@require_capability("order.add")
def order_create(request):
    """Record an order for a customer: pick the customer, add lines, choose store and payment."""
    customer = None
    wanted = request.POST.get("customer") or request.GET.get("customer") or ""
    if wanted:
        try:
            customer = customer_get_for_user(request.user, wanted.strip())
        except NotFound:
            customer = None
    form = OrderForm(request.POST or None, initial={"customer": customer.public_id if customer else ""})
    line_errors: dict[int, str] = {}
    if request.method == "POST" and form.is_valid():
        lines, rows = form.lines()
        data = form.cleaned_data
        try:
            if customer is None:
                raise DomainError(_("Choose the customer."), code=SalesCode.REQUIRED, field="customer")
            order = services.order_create(
                actor=request.user, customer=customer, lines=lines, channel=data["channel"], store=data["store"],
                payment_method=data["payment_method"], discount=data["discount"] or 0, paid_at=data["paid_at"],
                note=data["note"])
        except DomainError as exc:
            match = _LINE_FIELD.match(exc.field or "")
            if match and int(match.group(1)) < len(rows):
                line_errors[rows[int(match.group(1))]] = str(exc.message)
                form.add_error(None, _("Please correct the lines marked below."))
            else:
                form_error(form, exc)
        else:
            messages.success(request, _("Order %(number)s recorded: ¥%(amount)s.")
                             % {"number": order.order_no, "amount": order.paid_amount})
            return redirect("sales:order_detail", public_id=order.public_id)
    return render(request, "sales/order_form.html", _form_context(request, form, customer, line_errors),
                  status=400 if form.errors else 200)


@require_capability("order.add")
def order_line(request):
    """Return one more empty line row for the order form (htmx)."""
    raw = request.GET.get("index", "")
    index = min(int(raw), MAX_LINE_INDEX) if raw.isdigit() else 0
    return render(request, "sales/_order_line.html", {"row": {"index": index}, "next_index": index + 1,
                                                      "products": selectors.products_for_sale(), "oob": True})


@require_capability("order.add")
def order_customers(request):
    """Return the customers matching the picker's text, as choices for the order form (htmx)."""
    q = (request.GET.get("customer_q") or request.GET.get("q") or "").strip()
    customers = customer_search(request.user, q, limit=PICKER_LIMIT) if q else []
    return render(request, "sales/_customer_options.html", {"customers": customers, "q": q})


@require_capability("order.refund")
def order_refund(request, public_id: str):
    order = selectors.order_get_for_user(request.user, public_id=public_id)
    lines = selectors.order_lines(order)
    form = RefundForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            refund = services.order_refund(actor=request.user, order=order, amount=form.cleaned_data["amount"],
                                           reason=form.cleaned_data["reason"], lines=form.lines(lines) or None)
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("¥%(amount)s refunded on order %(number)s.")
                             % {"amount": refund.amount, "number": order.order_no})
            return redirect("sales:order_detail", public_id=order.public_id)
    return render(request, "sales/order_refund.html", {"order": order, "lines": lines, "form": form,
                                                       "posted": request.POST},
                  status=400 if form.errors else 200)


urlpatterns = [
    path("orders/", order_list, name="orders"),
    path("orders/new/", order_create, name="order_create"),
    path("orders/new/line/", order_line, name="order_line"),
    path("orders/new/customers/", order_customers, name="order_customers"),
    path("orders/<str:public_id>/", order_detail, name="order_detail"),
    path("orders/<str:public_id>/refund/", order_refund, name="order_refund"),
]
