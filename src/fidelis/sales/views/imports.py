"""Historical order imports in the UI: the list of imports with the upload, column mapping, dry-run report, import."""

from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.translation import gettext as _

from fidelis.accounts.decorators import require_capability
from fidelis.core.imports import ImportMode, ImportStatus
from fidelis.core.imports_ui import detail_page, imports_page
from fidelis.customers.imports import duplicate_hints
from fidelis.sales.imports import (
    import_field_choices,
    order_import_create,
    order_import_run,
    order_import_sheet_choose,
    order_import_validate,
)
from fidelis.sales.models import OrderImport


@require_capability("order.import")
def import_start(request):
    return imports_page(request, create=order_import_create, detail="sales:import_detail",
                        jobs=OrderImport.objects.all(), template="sales/import_start.html")


def _imported(job: OrderImport) -> str | None:
    if job.status != ImportStatus.IMPORTED:
        return None
    return _("%(orders)s orders with %(lines)s lines imported.") % {"orders": job.order_count, "lines": job.line_count}


@require_capability("order.import")
def import_detail(request, public_id: str):
    job = get_object_or_404(OrderImport, public_id=public_id)
    return detail_page(request, job, sheet_choose=order_import_sheet_choose, validate=order_import_validate,
                       run=order_import_run, detail="sales:import_detail", template="sales/import_detail.html",
                       done=_imported, context={"fields": import_field_choices(), "modes": ImportMode.choices,
                                                "statuses": ImportStatus, "hints": duplicate_hints(job)})


urlpatterns = [
    path("import/", import_start, name="import_start"),
    path("import/<str:public_id>/", import_detail, name="import_detail"),
]
