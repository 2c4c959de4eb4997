"""The timeline sentences of orders and refunds (`events.lines`)."""

from decimal import Decimal

from django.utils.translation import gettext as _

from fidelis.core.numbers import money
from fidelis.events.lines import is_amount, line_for


@line_for("order.paid")
def paid_line(payload: dict, event) -> str:
    number = payload["order_no"]
    discount = payload.get("discount")
    if is_amount(discount) and Decimal(str(discount)) > 0:
        return _("Order %(number)s, %(discount)s off") % {"number": number, "discount": money(discount)}
    return _("Order %(number)s") % {"number": number}


@line_for("order.refunded")
def refunded_line(payload: dict, event) -> str:
    values = {"number": payload["order_no"], "amount": money(-Decimal(str(payload["amount"]))),
              "reason": payload.get("reason") or ""}
    if values["reason"]:
        return _("Order %(number)s %(amount)s · %(reason)s") % values
    return _("Order %(number)s %(amount)s") % values
