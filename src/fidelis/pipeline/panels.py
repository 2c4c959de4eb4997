"""The opportunities card of the customer 360° page (`fidelis.customers.panels`)."""

from fidelis.accounts.permissions import has_capability
from fidelis.customers.panels import customer_panel
from fidelis.pipeline.selectors import customer_opportunities


@customer_panel(template="pipeline/_opportunity_panel.html", capability="opportunity.view", order=30)
def opportunities_panel(request, customer) -> dict:
    """Return the customer's latest visible opportunities and the totals of the open ones."""
    opportunities, totals = customer_opportunities(request.user, customer)
    return {"customer": customer, "opportunities": opportunities, "totals": totals,
            "can_add": has_capability(request.user, "opportunity.change")}
