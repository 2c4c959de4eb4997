"""One way to write money and counts, for pages and for the sentences the timeline makes: grouped by three with
commas as the tills print them (the formats of config/formats), money with two decimals, a true minus sign."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils.formats import number_format

MINUS = "\N{MINUS SIGN}"
CENT = Decimal("0.01")


def money(value) -> str:
    """Return an amount in yuan as ¥3,680.00, a negative one as −¥3,680.00 (half-cents rounded up); "" for none."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return str(value)
    text = f"¥{number_format(abs(amount), 2, force_grouping=True)}"
    return f"{MINUS}{text}" if amount < 0 else text


def count(value) -> str:
    """Return a count or points as 5,000, a negative one as −5,000; "" for none."""
    if value is None or value == "":
        return ""
    try:
        n = int(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return str(value)
    text = number_format(abs(n), 0, force_grouping=True)
    return f"{MINUS}{text}" if n < 0 else text
