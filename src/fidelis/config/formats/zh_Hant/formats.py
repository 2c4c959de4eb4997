# Digits grouped by three with commas, as Chinese tills, invoices and banks print amounts (see formats/__init__.py).
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
