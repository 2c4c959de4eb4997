"""Daily sales totals that the reports read instead of every order line.

`SalesDay` holds, per day (mall time), store and channel, the net sales (paid minus refunded) and the orders;
`SalesDayProduct` per day, product and category the line amounts and the pieces sold. The order services keep
them in the same transaction as the order (`rollup_order`, `rollup_refund`), the historical import adds whole files
at once (`rollup_orders`), and `rollups_rebuild` recomputes them from the orders (after a bulk load, or to check).
A report over a year of a million orders then sums some 60,000 rows instead of joining five million lines.

The increments are `INSERT … ON CONFLICT DO UPDATE SET x = x + excluded.x` (one per row; on PostgreSQL one for
all the rows, from arrays), so that two tills selling the same product on the same day add up instead of
overwriting each other.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, F, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from fidelis.sales.models import Order, OrderLine, SalesDay, SalesDayProduct

ZERO = Decimal("0")


def local_day(moment) -> date:
    return timezone.localtime(moment).date()


def _pg_array(values: tuple) -> str:
    """Return the text of a PostgreSQL array of dates, integers or decimals, or of texts (one type, no None).

    psycopg adapts a Python list value by value; the array's text, one string, is about four times faster.
    """
    if values and isinstance(values[0], str):
        return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"
    return "{" + ",".join(map(str, values)) + "}"


def _upsert(model, keys: tuple[str, ...], sums: tuple[str, ...], rows: Iterable[tuple]) -> None:
    """Add `rows` (key values, then the numbers to add; no key twice) to the model's table, creating missing rows."""
    rows = list(rows)
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    fields = [model._meta.get_field(name) for name in (*keys, *sums)]
    columns = ", ".join(quote(f.column) for f in fields)
    conflict = ", ".join(quote(model._meta.get_field(k).column) for k in keys)
    updates = ", ".join(f"{quote(model._meta.get_field(s).column)} = {table}.{quote(model._meta.get_field(s).column)}"
                        f" + excluded.{quote(model._meta.get_field(s).column)}" for s in sums)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(rows) > 1:
            # An import adds tens of thousands of rows: one statement over one array per column instead of a
            # round trip per row. ON CONFLICT may touch each table row once only, hence no key twice in `rows`.
            arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
            cursor.execute(f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays}) "
                           f"ON CONFLICT ({conflict}) DO UPDATE SET {updates}",
                           [_pg_array(column) for column in zip(*rows, strict=True)])
            return
        marks = ", ".join(["%s"] * len(fields))
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks}) ON CONFLICT ({conflict}) "
                           f"DO UPDATE SET {updates}",
                           [[f.get_db_prep_save(value, connection) for f, value in zip(fields, row, strict=True)]
                            for row in rows])


def _day_rows(orders: Iterable[tuple[date, str, str, Decimal]]) -> list[tuple]:
    totals: dict[tuple[date, str, str], list] = defaultdict(lambda: [ZERO, 0])
    for day, store, channel, amount in orders:
        total = totals[(day, store, channel)]
        total[0] += amount
        total[1] += 1
    return [(day, store, channel, amount, n) for (day, store, channel), (amount, n) in sorted(totals.items())]


def _product_rows(lines: Iterable[tuple[date, int, int, Decimal, int]]) -> list[tuple]:
    # Two plain dicts: an import sends tens of thousands of lines here.
    amounts: dict[tuple[date, int, int], Decimal] = {}
    quantities: dict[tuple[date, int, int], int] = {}
    for day, product_id, category_id, amount, quantity in lines:
        key = (day, product_id, category_id)
        if key in amounts:
            amounts[key] += amount
            quantities[key] += quantity
        else:
            amounts[key] = ZERO + amount
            quantities[key] = quantity
    return [(*key, amounts[key], quantities[key]) for key in sorted(amounts)]


def rollup_orders(orders: Iterable[tuple[date, str, str, Decimal]],
                  lines: Iterable[tuple[date, int, int, Decimal, int]]) -> None:
    """Add orders (day, store code, channel, paid amount) and lines (day, product, category, amount, quantity)."""
    _upsert(SalesDay, ("day", "store_code", "channel"), ("amount", "orders"), _day_rows(orders))
    _upsert(SalesDayProduct, ("day", "product", "category"), ("amount", "quantity"), _product_rows(lines))


def rollup_order(order: Order, lines: list[OrderLine]) -> None:
    """Add a new order to the daily totals (call in the order's transaction)."""
    day = local_day(order.paid_at)
    store = order.store.code if order.store_id else ""
    rollup_orders([(day, store, order.channel, order.paid_amount)],
                  [(day, line.product_id, line.category_id, line.amount, line.quantity) for line in lines])


def rollup_refund(order: Order, amount: Decimal) -> None:
    """Take a refund off the day the order was paid (call in the refund's transaction)."""
    store = order.store.code if order.store_id else ""
    _upsert(SalesDay, ("day", "store_code", "channel"), ("amount", "orders"),
            [(local_day(order.paid_at), store, order.channel, -amount, 0)])


@transaction.atomic
def rollups_rebuild() -> tuple[int, int]:
    """Recompute both tables from the orders and their lines; return their row counts."""
    SalesDay.objects.all().delete()
    SalesDayProduct.objects.all().delete()
    tz = timezone.get_current_timezone()
    days = (Order.objects.order_by().annotate(day=TruncDate("paid_at", tzinfo=tz))
            .values_list("day", "store__code", "channel")
            .annotate(amount=Sum(F("paid_amount") - F("refunded_amount")), n=Count("id")))
    SalesDay.objects.bulk_create([SalesDay(day=day, store_code=store or "", channel=channel, amount=amount or ZERO,
                                           orders=n) for day, store, channel, amount, n in days], batch_size=5000)
    products = (OrderLine.objects.order_by().annotate(day=TruncDate("order__paid_at", tzinfo=tz))
                .values_list("day", "product_id", "category_id")
                .annotate(amount=Sum("amount"), quantity=Sum("quantity")))
    SalesDayProduct.objects.bulk_create([
        SalesDayProduct(day=day, product_id=product, category_id=category, amount=amount or ZERO,
                        quantity=quantity or 0) for day, product, category, amount, quantity in products],
        batch_size=5000)
    return SalesDay.objects.count(), SalesDayProduct.objects.count()
