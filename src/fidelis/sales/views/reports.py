"""Sales reports in the UI: a table and a stacked bar chart per store, channel, category or product over time,
exported as CSV or XLSX (audited)."""

import csv
import io

from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext as _

from fidelis.accounts.decorators import require_capability
from fidelis.accounts.services import audit_record
from fidelis.core.errors import DomainError
from fidelis.customers.exports import neutralise
from fidelis.sales.reports import DIMENSIONS, PERIODS, ReportQuery, report_table, sales_report

EXPORT_FORMATS = ("csv", "xlsx")


# Periods as the table labels them ("2026-11"), not as Plotly would read dates ("Nov 2026", in English); amounts
# in whole yuan with thousands separators, not "1.5M".
AXES = {"xaxis": {"type": "category"}, "yaxis": {"title": {"text": "CNY"}, "tickformat": ",.0f", "automargin": True}}


def _period_label(period: str) -> str:
    return {"day": "%m-%d", "week": "%m-%d", "month": "%Y-%m"}[period]


def _chart(report) -> dict:
    """Return the Plotly figure (data and layout) of the report: one bar trace per row, stacked."""
    fmt = _period_label(report.query.period)
    x = [p.strftime(fmt) for p in report.periods]
    return {"data": [{"type": "bar", "name": row.label, "x": x, "y": [float(v) for v in row.values]}
                     for row in report.rows],
            "layout": {"barmode": "stack", "margin": {"l": 50, "r": 10, "t": 10, "b": 40}, "height": 340,
                       "legend": {"orientation": "h"}, **AXES}}


def table_export(request, *, table: list[list], fmt: str, name: str, sheet: str, action: str, label: str,
                 changes: dict) -> HttpResponse:
    """Answer a report table as a CSV or XLSX download (cells neutralised against formulas), audited."""
    with transaction.atomic():
        audit_record(actor=request.user, action=action, object_type="sales.report", object_repr=label,
                     changes={key: [None, value] for key, value in {**changes, "format": fmt}.items()})
    rows = [[neutralise(cell) for cell in row] for row in table]
    if fmt == "csv":
        buffer = io.StringIO()
        buffer.write("\ufeff")
        csv.writer(buffer).writerows(rows)
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    else:
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        worksheet = workbook.create_sheet(sheet)
        for row in rows:
            worksheet.append(row)
        data = io.BytesIO()
        workbook.save(data)
        response = HttpResponse(data.getvalue(), content_type="application/vnd.openxmlformats-officedocument."
                                                               "spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


def _export(request, report, fmt: str) -> HttpResponse:
    query = report.query
    return table_export(request, table=report_table(report), fmt=fmt, sheet=_("Sales"),
                        name=f"sales-{query.dimension}-{query.start:%Y%m%d}-{query.end:%Y%m%d}",
                        action="sales.report_export", label=_("Sales report"),
                        changes={"dimension": query.dimension, "period": query.period,
                                 "start": query.start.isoformat(), "end": query.end.isoformat()})


@require_capability("report.sales")
def sales_report_view(request):
    """Show sales by store, channel, category or product per day, week or month; export it."""
    error = None
    try:
        query = ReportQuery.parse(request.GET)
    except DomainError as exc:
        error = exc
        query = ReportQuery.parse({})
    report = sales_report(user=request.user, query=query)
    fmt = request.GET.get("export", "")
    if fmt in EXPORT_FORMATS and error is None:
        return _export(request, report, fmt)
    fmt_label = _period_label(query.period)
    context = {"report": report, "query": query, "error": error, "dimensions": DIMENSIONS.items(),
               "periods": PERIODS.items(), "period_labels": [p.strftime(fmt_label) for p in report.periods],
               "chart": _chart(report), "dimension_label": DIMENSIONS[query.dimension]}
    return render(request, "sales/report.html", context)


urlpatterns = [path("reports/", sales_report_view, name="report_sales")]
