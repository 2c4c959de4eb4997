"""Report tables as CSV or XLSX downloads, audited: shared by the sales and the pipeline reports."""

import csv
import io

from django.db import transaction
from django.http import HttpResponse

from fidelis.accounts.models import User
from fidelis.accounts.services import audit_record
from fidelis.customers.exports import neutralise, xlsx_workbook

EXPORT_FORMATS = ("csv", "xlsx")


def report_export(*, actor: User, table: list[list], fmt: str, name: str, sheet: str, action: str, label: str,
                  changes: dict) -> HttpResponse:
    """Record the export in the audit log and answer the table as a CSV or XLSX download (no cell runs as a
    formula: CSV cells neutralised, XLSX cells typed)."""
    with transaction.atomic(durable=True):
        audit_record(actor=actor, action=action, object_type="sales.report", object_repr=label,
                     changes={key: [None, value] for key, value in {**changes, "format": fmt}.items()})
    if fmt == "csv":
        buffer = io.StringIO()
        buffer.write("\ufeff")
        csv.writer(buffer).writerows([[neutralise(cell) for cell in row] for row in table])
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(xlsx_workbook(sheet, table), content_type="application/vnd.openxmlformats-"
                                                                          "officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response
