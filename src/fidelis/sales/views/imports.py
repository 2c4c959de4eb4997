"""Historical order imports in the UI: upload, column mapping, dry-run report, import."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _

from fidelis.accounts.decorators import require_capability
from fidelis.core.errors import DomainError
from fidelis.customers.models import ImportMode, ImportStatus
from fidelis.customers.views.imports import upload_page
from fidelis.sales.imports import (
    IGNORE,
    import_field_choices,
    order_import_create,
    order_import_run,
    order_import_sheet_choose,
    order_import_validate,
)
from fidelis.sales.models import OrderImport


@require_capability("order.import")
def import_start(request):
    return upload_page(request, create=order_import_create, detail="sales:import_detail",
                       jobs=OrderImport.objects.all(), template="sales/import_start.html")


@require_capability("order.import")
def import_detail(request, public_id: str):
    job = get_object_or_404(OrderImport, public_id=public_id)
    error = error_field = None
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "sheet":
                job = order_import_sheet_choose(actor=request.user, job=job, sheet=request.POST.get("sheet", ""))
            elif action == "validate":
                mapping = {str(i): request.POST.get(f"map-{i}", IGNORE) for i in range(len(job.headers))}
                job = order_import_validate(actor=request.user, job=job, mapping=mapping,
                                            mode=request.POST.get("mode", ""))
            elif action == "run":
                job = order_import_run(actor=request.user, job=job)
                if job.status == ImportStatus.IMPORTED:
                    messages.success(request, _("%(orders)s orders with %(lines)s lines imported.")
                                     % {"orders": job.order_count, "lines": job.line_count})
            return redirect("sales:import_detail", public_id=job.public_id)
        except DomainError as exc:
            error, error_field = exc.message, exc.field
    columns = [{"index": i, "header": h, "field": job.mapping.get(str(i), IGNORE)} for i, h in enumerate(job.headers)]
    return render(request, "sales/import_detail.html", {
        "job": job, "columns": columns, "fields": import_field_choices(), "modes": ImportMode.choices,
        "errors": job.report.get("errors", []), "error": error, "error_field": error_field,
        "statuses": ImportStatus,
    }, status=400 if error else 200)


urlpatterns = [
    path("import/", import_start, name="import_start"),
    path("import/<str:public_id>/", import_detail, name="import_detail"),
]
