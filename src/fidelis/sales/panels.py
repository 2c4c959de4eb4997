"""The orders card of the customer 360° page (`fidelis.customers.panels`)."""

from fidelis.accounts.permissions import has_capability
from fidelis.customers.panels import customer_panel
from fidelis.sales.selectors import customer_orders


@customer_panel(template="sales/_customer_panel.html", capability="order.view", order=20)
def orders_panel(request, customer) -> dict:
    """Return the customer's latest orders and the totals of all of them."""
    orders, totals = customer_orders(customer)
    return {"customer": customer, "orders": orders, "totals": totals,
            "can_add": has_capability(request.user, "order.add")}
