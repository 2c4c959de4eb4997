"""Sales reports: what sold, by store, channel, product category or product, per day, week or month (MISSION C4).

Every figure is one GROUP BY in the database over the orders the user may see: managers, marketing and read-only
users count every order (an erased person's orders stay in the totals, anonymous), read from the daily totals of
`fidelis.sales.rollups`; a sales rep counts the orders of the customers they own or that have no owner, read from
the orders themselves. Store and channel count orders (paid minus refunded, in CNY); category
and product count order lines (the line amounts, before the order discount, and the quantities sold).
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncMonth, TruncWeek
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fidelis.accounts.permissions import has_capability, sees_all_customers
from fidelis.core.dates import parse_date
from fidelis.core.errors import DomainError
from fidelis.sales.errors import SalesCode
from fidelis.sales.models import (
    Order,
    OrderChannel,
    OrderLine,
    Product,
    ProductCategory,
    SalesDay,
    SalesDayProduct,
    Store,
)

DIMENSIONS = {
    "store": gettext_lazy("store"),
    "channel": gettext_lazy("channel"),
    "category": gettext_lazy("product category"),
    "product": gettext_lazy("product"),
}
PERIODS = {"day": gettext_lazy("day"), "week": gettext_lazy("week"), "month": gettext_lazy("month")}
_TRUNC = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}
MAX_DAYS = {"day": 92, "week": 2 * 366, "month": 10 * 366}  # at most ~100 columns
# The report's rows and the chart's colours go together: the best `TOP` rows by name, each in its own colour of a
# qualitative palette (Tableau 10 without its grey), the rest summed into one "others" row in grey. With more rows
# than colours, Plotly would give two stores one colour and the legend could not tell them apart.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")
OTHERS_COLOUR = "#bab0ac"
TOP = len(PALETTE)

# The axes of the report charts: periods as the table labels them ("2026-11"), not as Plotly would read dates
# ("Nov 2026", in English); amounts in whole yuan with thousands separators, not "1.5M".
CHART_AXES = {"xaxis": {"type": "category"},
              "yaxis": {"title": {"text": "CNY"}, "tickformat": ",.0f", "automargin": True}}


@dataclass(frozen=True)
class ReportQuery:
    dimension: str = "store"
    period: str = "month"
    start: date | None = None
    end: date | None = None  # inclusive

    @classmethod
    def parse(cls, data, *, today: date | None = None) -> "ReportQuery":
        """Return the query of a form or query string; raise DomainError naming the bad field."""
        today = today or timezone.localdate()
        dimension = data.get("dimension") or "store"
        if dimension not in DIMENSIONS:
            raise DomainError(_("Choose one of: %(choices)s.") % {"choices": ", ".join(DIMENSIONS)},
                              code=SalesCode.INVALID_CHOICE, field="dimension")
        period = data.get("period") or "month"
        if period not in PERIODS:
            raise DomainError(_("Choose one of: %(choices)s.") % {"choices": ", ".join(PERIODS)},
                              code=SalesCode.INVALID_CHOICE, field="period")
        end = parse_date(data.get("end"), field="end") or today
        start = parse_date(data.get("start"), field="start") or _default_start(period, end)
        if start > end:
            raise DomainError(_("The start date is after the end date."), code=SalesCode.START_AFTER_END, field="start")
        if (end - start).days > MAX_DAYS[period]:
            raise DomainError(_("Too long a time for this period: at most %(days)s days.")
                              % {"days": MAX_DAYS[period]}, code=SalesCode.RANGE_TOO_LONG, field="start")
        return cls(dimension=dimension, period=period, start=start, end=end)


def _default_start(period: str, end: date) -> date:
    if period == "day":
        return end - timedelta(days=29)
    if period == "week":
        return end - timedelta(weeks=12) - timedelta(days=end.weekday())
    return date(end.year - 1, end.month, 1) if end.month == 12 else date(end.year - 1, end.month + 1, 1)


def period_starts(period: str, start: date, end: date) -> list[date]:
    """Return the first day of every period from the one holding `start` to the one holding `end`."""
    if period == "day":
        first, step = start, None
    elif period == "week":
        first, step = start - timedelta(days=start.weekday()), None
    else:
        first, step = start.replace(day=1), "month"
    out, current = [], first
    while current <= end:
        out.append(current)
        if step == "month":
            current = date(current.year + current.month // 12, current.month % 12 + 1, 1)
        else:
            current += timedelta(days=7 if period == "week" else 1)
    return out


@dataclass
class ReportRow:
    key: str
    label: str
    values: list[Decimal]
    total: Decimal
    count: int  # orders (store, channel) or pieces sold (category, product)
    others: bool = False  # the sum of the rows beyond the best ones


@dataclass
class SalesReport:
    query: ReportQuery
    periods: list[date]
    rows: list[ReportRow] = field(default_factory=list)
    column_totals: list[Decimal] = field(default_factory=list)
    total: Decimal = Decimal("0")
    count: int = 0

    @property
    def counts_orders(self) -> bool:
        return self.query.dimension in ("store", "channel")


def _bounds(query: ReportQuery) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(query.start, time.min))
    end = timezone.make_aware(datetime.combine(query.end + timedelta(days=1), time.min))
    return start, end


def _orders(user, query: ReportQuery) -> QuerySet[Order]:
    start, end = _bounds(query)
    qs = Order.objects.filter(paid_at__gte=start, paid_at__lt=end)
    if not sees_all_customers(user):
        qs = qs.filter(Q(customer__owner=user) | Q(customer__owner__isnull=True))
    return qs


def _lines(user, query: ReportQuery) -> QuerySet[OrderLine]:
    start, end = _bounds(query)
    qs = OrderLine.objects.filter(order__paid_at__gte=start, order__paid_at__lt=end)
    if not sees_all_customers(user):
        qs = qs.filter(Q(order__customer__owner=user) | Q(order__customer__owner__isnull=True))
    return qs


def _grouped_rollups(query: ReportQuery):
    """The same sums as `_grouped` from the daily totals (`fidelis.sales.rollups`): for users who see every order."""
    trunc = _TRUNC[query.period]
    days = {"day__gte": query.start, "day__lte": query.end}
    if query.dimension in ("store", "channel"):
        key = "store_code" if query.dimension == "store" else "channel"
        return (SalesDay.objects.filter(**days).order_by().annotate(p=trunc("day")).values_list("p", key)
                .annotate(amount=Sum("amount"), n=Sum("orders")))
    key = "category_id" if query.dimension == "category" else "product_id"
    return (SalesDayProduct.objects.filter(**days).order_by().annotate(p=trunc("day")).values_list("p", key)
            .annotate(amount=Sum("amount"), n=Sum("quantity")))


def _grouped(user, query: ReportQuery) -> list[tuple[date, str, Decimal, int]]:
    """Return (period start, key, amount, count) for every period and key that sold something."""
    if sees_all_customers(user):
        return _as_days(_grouped_rollups(query), query)
    return _grouped_live(user, query)


def _grouped_live(user, query: ReportQuery) -> list[tuple[date, str, Decimal, int]]:
    """The sums read from the orders and lines themselves (for sales reps: only their customers' orders)."""
    trunc = _TRUNC[query.period]
    if query.dimension in ("store", "channel"):
        key = "store__code" if query.dimension == "store" else "channel"
        rows = (_orders(user, query).order_by().annotate(p=trunc("paid_at")).values_list("p", key)
                .annotate(amount=Sum(F("paid_amount") - F("refunded_amount")), n=Count("id")))
    else:
        key = "category_id" if query.dimension == "category" else "product_id"
        rows = (_lines(user, query).order_by().annotate(p=trunc("order__paid_at")).values_list("p", key)
                .annotate(amount=Sum("amount"), n=Sum("quantity")))
    return _as_days(rows, query)


def _as_days(rows, query: ReportQuery) -> list[tuple[date, str, Decimal, int]]:
    out = []
    for when, value, amount, n in rows:
        day = timezone.localtime(when).date() if isinstance(when, datetime) else when
        out.append((day, "" if value is None else str(value), amount or Decimal("0"), n or 0))
    return out


def _labels(dimension: str, keys: list[str]) -> dict[str, str]:
    ids = [int(k) for k in keys if k.isdigit()]
    if dimension == "store":
        return {code: f"{code} {name}" for code, name in
                Store.objects.filter(code__in=keys).values_list("code", "name")}
    if dimension == "channel":
        return {value: str(label) for value, label in OrderChannel.choices}
    if dimension == "category":
        return {str(pk): name for pk, name in ProductCategory.objects.filter(pk__in=ids).values_list("pk", "name")}
    return {str(pk): f"{sku} {name}" for pk, sku, name in
            Product.objects.filter(pk__in=ids).values_list("pk", "sku", "name")}


def sales_report(*, user, query: ReportQuery, top: int = TOP) -> SalesReport:
    """Return the report: one row per store / channel / category / product (the best `top`, then "others")."""
    periods = period_starts(query.period, query.start, query.end)
    report = SalesReport(query=query, periods=periods, column_totals=[Decimal("0")] * len(periods))
    if not has_capability(user, "report.sales"):
        return report
    index = {p: i for i, p in enumerate(periods)}
    by_key: dict[str, list[Decimal]] = {}
    counts: dict[str, int] = {}
    for day, key, amount, n in _grouped(user, query):
        column = index.get(day)
        if column is None:
            continue
        by_key.setdefault(key, [Decimal("0")] * len(periods))[column] += amount
        counts[key] = counts.get(key, 0) + n
    ranked = sorted(by_key, key=lambda k: (-sum(by_key[k]), k))
    shown, rest = ranked[:top], ranked[top:]
    labels = _labels(query.dimension, shown)
    for key in shown:
        values = by_key[key]
        report.rows.append(ReportRow(key=key, label=labels.get(key) or (key or _("(none)")), values=values,
                                     total=sum(values, Decimal("0")), count=counts[key]))
    if rest:
        values = [sum((by_key[k][i] for k in rest), Decimal("0")) for i in range(len(periods))]
        report.rows.append(ReportRow(key="", label=_("Others (%(n)s)") % {"n": len(rest)}, values=values,
                                     total=sum(values, Decimal("0")), count=sum(counts[k] for k in rest),
                                     others=True))
    for row in report.rows:
        for i, value in enumerate(row.values):
            report.column_totals[i] += value
    report.total = sum(report.column_totals, Decimal("0"))
    report.count = sum(counts.values())
    return report


def row_colours(report: SalesReport) -> list[str]:
    """Return the chart colour of each row: the palette's in turn, grey for the others."""
    return [OTHERS_COLOUR if row.others else PALETTE[i % len(PALETTE)] for i, row in enumerate(report.rows)]


def report_table(report: SalesReport, *, period_format: str = "%Y-%m-%d") -> list[list]:
    """Return the report as rows of cells (header first), for the CSV and XLSX export."""
    header = [str(DIMENSIONS[report.query.dimension]), *[p.strftime(period_format) for p in report.periods],
              _("total"), _("orders") if report.counts_orders else _("pieces")]
    rows = [[row.label, *row.values, row.total, row.count] for row in report.rows]
    return [header, *rows, [_("total"), *report.column_totals, report.total, report.count]]
