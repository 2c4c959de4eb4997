"""The sales app's part of a person's data export (`fidelis.customers.privacy`): their orders with the lines and
the refunds."""

from typing import Any

from django.db.models import Prefetch

from fidelis.customers.privacy import personal_data_section, plain
from fidelis.sales.models import Order, OrderLine, Refund, RefundLine


def _order(order: Order) -> dict[str, Any]:
    return {
        "order_no": order.order_no, "paid_at": plain(order.paid_at), "channel": order.channel,
        "store": str(order.store) if order.store_id else None, "payment_method": order.payment_method,
        "subtotal": plain(order.subtotal), "discount": plain(order.discount), "paid_amount": plain(order.paid_amount),
        "refunded_amount": plain(order.refunded_amount), "status": order.status, "note": order.note,
        "lines": [
            {"sku": line.product.sku, "product": line.product.name, "quantity": line.quantity,
             "unit_price": plain(line.unit_price), "discount": plain(line.discount), "amount": plain(line.amount),
             "refunded_quantity": line.refunded_quantity}
            for line in order.lines.all()],
        "refunds": [
            {"amount": plain(refund.amount), "reason": refund.reason, "created_at": plain(refund.created_at),
             "lines": [{"sku": r.line.product.sku, "quantity": r.quantity} for r in refund.lines.all()]}
            for refund in order.refunds.all()],
    }


@personal_data_section("sales", models=[Order, OrderLine, Refund, RefundLine])
def sales_personal_data(customer) -> dict[str, Any]:
    """Return the person's orders, oldest first, each with its lines and refunds."""
    lines = OrderLine.objects.select_related("product").order_by("id")
    refund_lines = RefundLine.objects.select_related("line__product").order_by("id")
    refunds = Refund.objects.prefetch_related(Prefetch("lines", queryset=refund_lines)).order_by("created_at", "id")
    orders = (Order.objects.filter(customer=customer).select_related("store")
              .prefetch_related(Prefetch("lines", queryset=lines), Prefetch("refunds", queryset=refunds))
              .order_by("paid_at", "id"))
    return {"orders": [_order(order) for order in orders]}
