"""Sales reports: sums per store, channel, category and product per period, visibility, export, bad input."""

import csv
import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from django.utils import timezone, translation
from openpyxl import load_workbook

from fidelis.accounts.models import AuditEntry, Role
from fidelis.core.errors import DomainError
from fidelis.sales.reports import (
    OTHERS_COLOUR,
    PALETTE,
    ReportQuery,
    period_starts,
    report_table,
    sales_report,
)
from fidelis.sales.services import order_create, order_refund, store_save
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _at(day: str, hour: int = 12) -> datetime:
    return timezone.make_aware(datetime.combine(date.fromisoformat(day), datetime.min.time()).replace(hour=hour))


@pytest.fixture
def orders(manager, users, catalogue, shopper):
    """Four orders in March and April 2026; one of them of a customer owned by another rep."""
    p = catalogue["products"]
    other = CustomerFactory(name="外人", owner=users[Role.MANAGER])
    made = [
        order_create(actor=manager, customer=shopper, channel="store", store="1F-01", payment_method="cash",
                     paid_at=_at("2026-03-02"), lines=[{"product": p["CF-001"], "quantity": 2}]),  # 56
        order_create(actor=manager, customer=shopper, channel="online", store=None, payment_method="alipay",
                     paid_at=_at("2026-03-31", 23), lines=[{"product": p["WF-101"], "quantity": 1}]),  # 1299
        order_create(actor=manager, customer=shopper, channel="store", store="2F-01", payment_method="card",
                     paid_at=_at("2026-04-01", 0), lines=[{"product": p["WF-102"], "quantity": 1},
                                                          {"product": p["CF-002"], "quantity": 1}]),  # 931
        order_create(actor=manager, customer=other, channel="store", store="1F-01", payment_method="cash",
                     paid_at=_at("2026-04-15"), lines=[{"product": p["CF-002"], "quantity": 3}]),  # 96
    ]
    order_refund(actor=manager, order=made[2], amount=Decimal("31.00"), reason="退一杯")
    return made


def _query(**kw):
    return ReportQuery.parse({"start": "2026-03-01", "end": "2026-04-30", "period": "month", **kw})


def test_sales_report_by_store_counts_net_sales_per_month_in_the_mall_time_zone(manager, orders):
    report = sales_report(user=manager, query=_query(dimension="store"))
    assert report.periods == [date(2026, 3, 1), date(2026, 4, 1)]
    rows = {row.label: (row.values, row.count) for row in report.rows}
    assert rows["1F-01 悦享咖啡"] == ([Decimal("56.00"), Decimal("96.00")], 2)
    assert rows["2F-01 时尚女装馆"] == ([Decimal("0"), Decimal("900.00")], 1)  # 931 paid − 31 refunded
    assert report.total == Decimal("56") + Decimal("1299") + Decimal("900") + Decimal("96")
    assert report.count == 4


def test_sales_report_by_category_and_product_counts_lines_and_pieces(manager, orders):
    by_category = sales_report(user=manager, query=_query(dimension="category"))
    rows = {row.label: (row.total, row.count) for row in by_category.rows}
    assert rows == {"女装": (Decimal("2198.00"), 2), "咖啡": (Decimal("184.00"), 6)}
    by_product = sales_report(user=manager, query=_query(dimension="product", period="week"))
    assert by_product.periods[0] == date(2026, 2, 23)  # weeks start on Monday
    assert [r.label for r in by_product.rows][0] == "WF-101 真丝连衣裙"


def test_sales_report_by_channel_folds_the_smallest_rows_into_others(manager, orders):
    with translation.override("en"):
        report = sales_report(user=manager, query=_query(dimension="channel"), top=1)
    assert [r.label for r in report.rows] == ["Online shop", "Others (1)"]
    assert report.rows[1].total == Decimal("1052.00")


def test_sales_report_of_a_sales_rep_counts_only_their_customers(users, orders):
    rep = users[Role.SALES]
    report = sales_report(user=rep, query=_query(dimension="store"))
    assert report.count == 3  # the order of the manager's customer is not counted
    service = sales_report(user=users[Role.SERVICE], query=_query())
    assert service.rows == [] and service.total == 0  # no report.sales capability


@pytest.mark.parametrize("data,field", [({"dimension": "colour"}, "dimension"), ({"period": "year"}, "period"),
                                        ({"start": "2026-13-01"}, "start"), ({"end": "31/12/2026"}, "end"),
                                        ({"start": "2026-05-01", "end": "2026-04-01"}, "start"),
                                        ({"period": "day", "start": "2025-01-01", "end": "2026-01-01"}, "start")])
def test_report_query_refuses_bad_input_naming_the_field(data, field):
    with pytest.raises(DomainError) as raised:
        ReportQuery.parse(data)
    assert raised.value.field == field


def test_period_starts_cover_the_range_including_month_ends():
    assert period_starts("month", date(2025, 11, 15), date(2026, 2, 1)) == [
        date(2025, 11, 1), date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1)]
    assert len(period_starts("day", date(2026, 2, 27), date(2026, 3, 2))) == 4


def test_report_table_has_header_rows_and_totals(manager, orders):
    with translation.override("en"):
        table = report_table(sales_report(user=manager, query=_query(dimension="store")))
    assert table[0][0] == "store" and table[0][-2:] == ["total", "orders"]
    assert table[-1][0] == "total" and table[-1][-1] == 4


def test_report_page_shows_the_table_and_chart_and_exports_audited(client, manager, orders):
    client.force_login(manager)
    page = client.get("/sales/reports/", {"dimension": "category", "start": "2026-03-01", "end": "2026-04-30"})
    assert page.status_code == 200
    body = page.content.decode()
    assert "女装" in body and 'id="sales-chart-data"' in body and "plotly/plotly.min.js" in body
    export = client.get("/sales/reports/", {"dimension": "store", "start": "2026-03-01", "end": "2026-04-30",
                                            "export": "csv"})
    assert export.status_code == 200 and export["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows[-1][0] in ("total", "合计", "总计") or rows[-1][-1] == "4"
    assert AuditEntry.objects.filter(action="sales.report_export", actor=manager).count() == 1
    xlsx = client.get("/sales/reports/", {"dimension": "store", "start": "2026-03-01", "end": "2026-04-30",
                                          "export": "xlsx"})
    assert xlsx.content[:2] == b"PK"
    # the workbook holds the figures as numbers and no text with a visible quote
    cells = [cell for row in load_workbook(io.BytesIO(xlsx.content)).active.iter_rows(values_only=True)
             for cell in row if cell is not None]
    assert cells[-1] == 4 and not any(isinstance(c, str) and c.startswith("'") for c in cells)


def test_report_page_shows_a_bad_date_as_an_error_not_a_crash(client, manager):
    client.force_login(manager)
    page = client.get("/sales/reports/", {"start": "not-a-date"})
    assert page.status_code == 200 and 'id="report-error"' in page.content.decode()


def test_daily_totals_kept_by_orders_refunds_and_imports_equal_a_rebuild_from_the_orders(manager, users, orders):
    from fidelis.sales.models import SalesDay, SalesDayProduct
    from fidelis.sales.rollups import rollups_rebuild

    kept_days = sorted(SalesDay.objects.values_list("day", "store_code", "channel", "amount", "orders"))
    kept_products = sorted(SalesDayProduct.objects.values_list("day", "product", "category", "amount", "quantity"))
    assert (str(kept_days[2][0]), kept_days[2][1], kept_days[2][2]) == ("2026-04-01", "2F-01", "store")
    rollups_rebuild()
    assert sorted(SalesDay.objects.values_list("day", "store_code", "channel", "amount", "orders")) == kept_days
    assert sorted(SalesDayProduct.objects.values_list("day", "product", "category", "amount", "quantity")) == \
        kept_products
    # and every report read from the totals equals the same report read from the orders
    from fidelis.sales import reports

    for dimension in ("store", "channel", "category", "product"):
        for period in ("day", "week", "month"):
            query = _query(dimension=dimension, period=period, start="2026-03-01", end="2026-04-30")
            assert sorted(reports._grouped(manager, query)) == sorted(reports._grouped_live(manager, query)), \
                (dimension, period)


def test_report_of_thirteen_stores_shows_the_best_nine_each_in_its_colour_and_the_rest_as_others(client, manager,
                                                                                                    catalogue, shopper):
    # given thirteen stores, the n-th selling n coffees in March 2026 (two of them exist in the catalogue)
    for n in range(3, 14):
        store_save(actor=manager, data={"code": f"B1-{n:02d}", "name": f"店铺{n}"})
    codes = ["1F-01", "2F-01", *[f"B1-{n:02d}" for n in range(3, 14)]]
    for n, code in enumerate(codes, start=1):
        order_create(actor=manager, customer=shopper, channel="store", store=code, payment_method="cash",
                     paid_at=_at("2026-03-10"), lines=[{"product": catalogue["products"]["CF-001"], "quantity": n}])
    # when the report by store is shown
    client.force_login(manager)
    client.cookies["django_language"] = "zh-hans"
    page = client.get("/sales/reports/", {"dimension": "store", "start": "2026-03-01", "end": "2026-04-30"})
    # then the nine best stores have a row each, the four smallest one row "其他（4）" with their sums
    rows = page.context["report"].rows
    assert [r.label for r in rows[:9]] == [f"B1-{n:02d} 店铺{n}" for n in range(13, 4, -1)]
    assert (rows[9].label, rows[9].others, rows[9].total, rows[9].count) == (
        "其他（4）", True, Decimal("28.00") * (1 + 2 + 3 + 4), 4)
    # and the chart gives the ten rows ten different colours, the others grey, the legend in the table's order
    chart = page.context["chart"]
    colours = [trace["marker"]["color"] for trace in chart["data"]]
    assert colours == [*PALETTE, OTHERS_COLOUR] and len(set(colours)) == 10
    assert [trace["name"] for trace in chart["data"]] == [r.label for r in rows]
    assert chart["layout"]["legend"]["traceorder"] == "normal"
    # and the table sits in a wrapper that scrolls sideways and can be scrolled with the keyboard
    body = page.content.decode()
    assert '<section class="card table-wrap" id="report-table-wrap" tabindex="0" role="region"' in body
    assert body.index('id="report-table-wrap"') < body.index('id="report-table"')
