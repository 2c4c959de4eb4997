"""Sales reports in the UI: a table and a stacked bar chart per store, channel, category or product over time,
exported as CSV or XLSX (audited)."""

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext as _

from fidelis.accounts.decorators import require_capability
from fidelis.core.errors import DomainError
from fidelis.sales.exports import EXPORT_FORMATS, report_export
from fidelis.sales.reports import (
    CHART_AXES,
    DIMENSIONS,
    PERIODS,
    ReportQuery,
    report_table,
    row_colours,
    sales_report,
)


def _period_label(period: str) -> str:
    return {"day": "%m-%d", "week": "%m-%d", "month": "%Y-%m"}[period]


def _chart(report) -> dict:
    """Return the Plotly figure (data and layout) of the report: one bar trace per row, stacked, each row in its
    own colour; the legend lists them in the table's order."""
    fmt = _period_label(report.query.period)
    x = [p.strftime(fmt) for p in report.periods]
    return {"data": [{"type": "bar", "name": row.label, "x": x, "y": [float(v) for v in row.values],
                      "marker": {"color": colour}}
                     for row, colour in zip(report.rows, row_colours(report), strict=True)],
            "layout": {"barmode": "stack", "margin": {"l": 50, "r": 10, "t": 10, "b": 40}, "height": 340,
                       "legend": {"orientation": "h", "traceorder": "normal"}, **CHART_AXES}}


def _export(request, report, fmt: str) -> HttpResponse:
    query = report.query
    return report_export(actor=request.user, table=report_table(report), fmt=fmt, sheet=_("Sales"),
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
