"""The member-club card of the customer 360° page (`fidelis.customers.panels`)."""

from fidelis.accounts.permissions import has_capability
from fidelis.customers.panels import customer_panel
from fidelis.loyalty.selectors import (
    member_coupons,
    member_entries,
    member_of_default_program,
    member_progress,
    program_default,
)


@customer_panel(template="loyalty/_customer_panel.html", capability="loyalty.view", order=10)
def member_panel(request, customer) -> dict:
    """Return the customer's membership of the default program: balance, tier, progress, latest points and
    coupons; or the offer to join."""
    member = member_of_default_program(customer)
    context = {"customer": customer, "member": member,
               "program": member.program if member else program_default(),
               "can_operate": has_capability(request.user, "loyalty.operate")}
    if member is not None:
        context.update(progress=member_progress(member), coupons=member_coupons(member, limit=5),
                       entries=member_entries(member, limit=5))
    return context
