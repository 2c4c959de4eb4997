"""What a customer merge does to sales: the absorbed record's orders follow the kept one."""

from fidelis.customers.dedupe import on_merge
from fidelis.sales.models import Order


@on_merge
def move_orders(*, actor, keep, absorb) -> dict:
    """Move the absorbed record's orders to the kept record; return their numbers."""
    numbers = list(Order.objects.filter(customer=absorb).order_by("paid_at").values_list("order_no", flat=True))
    Order.objects.filter(customer=absorb).update(customer=keep)
    return {"orders": numbers}

