"""The pipeline report in the UI: value per stage, forecast by month (Plotly), win rate and average cycle by rep
or source; CSV / XLSX export (audited)."""

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext as _

from fidelis.accounts.decorators import require_capability
from fidelis.core.errors import DomainError
from fidelis.pipeline.reports import DIMENSIONS, PipelineQuery, pipeline_report, report_table
from fidelis.sales.exports import EXPORT_FORMATS, report_export
from fidelis.sales.reports import CHART_AXES


def _chart(report) -> dict:
    x = [f["month"].strftime("%Y-%m") for f in report.forecast]
    return {"data": [{"type": "bar", "name": _("amount"), "x": x, "y": [float(f["raw"]) for f in report.forecast]},
                     {"type": "bar", "name": _("weighted"), "x": x,
                      "y": [float(f["weighted"]) for f in report.forecast]}],
            "layout": {"barmode": "group", "margin": {"l": 60, "r": 10, "t": 10, "b": 40}, "height": 320,
                       "legend": {"orientation": "h"}, **CHART_AXES}}


def _export(request, report, fmt: str) -> HttpResponse:
    query = report.query
    return report_export(actor=request.user, table=report_table(report), fmt=fmt, sheet=_("Pipeline"),
                         name=f"pipeline-{query.start:%Y%m%d}-{query.end:%Y%m%d}",
                         action="sales.pipeline_report_export", label=_("Pipeline report"),
                         changes={"dimension": query.dimension, "start": query.start.isoformat(),
                                  "end": query.end.isoformat()})


@require_capability("report.sales")
def pipeline_report_view(request):
    """Show the pipeline value, the forecast, and win rate and cycle by rep or source; export them."""
    error = None
    try:
        query = PipelineQuery.parse(request.GET)
    except DomainError as exc:
        error = exc
        query = PipelineQuery.parse({})
    report = pipeline_report(user=request.user, query=query)
    fmt = request.GET.get("export", "")
    if fmt in EXPORT_FORMATS and error is None:
        return _export(request, report, fmt)
    return render(request, "pipeline/pipeline_report.html", {
        "report": report, "query": query, "error": error, "dimensions": DIMENSIONS.items(),
        "dimension_label": DIMENSIONS[query.dimension], "chart": _chart(report)}, status=400 if error else 200)


urlpatterns = [path("reports/pipeline/", pipeline_report_view, name="report")]
