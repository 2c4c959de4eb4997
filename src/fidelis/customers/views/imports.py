"""Customer import: the list of imports with the upload, the column mapping, the check and the run."""

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from fidelis.accounts.decorators import require_capability
from fidelis.core.imports import ImportMode, ImportStatus
from fidelis.core.imports_ui import detail_page, imports_page
from fidelis.customers.imports import (
    duplicate_hints,
    import_field_choices,
    import_job_create,
    import_job_run,
    import_job_sheet_choose,
    import_job_validate,
)
from fidelis.customers.models import ImportJob


@require_capability("customer.import")
def import_start(request):
    return imports_page(request, create=import_job_create, detail="customers:import_detail",
                        jobs=ImportJob.objects.all(), template="customers/import_start.html")


def _imported(job: ImportJob) -> str | None:
    if job.status != ImportStatus.IMPORTED:
        return None
    return _("%(count)s customers imported.") % {"count": job.created_count}


@require_capability("customer.import")
def import_detail(request, public_id: str):
    job = get_object_or_404(ImportJob, public_id=public_id)
    return detail_page(request, job, sheet_choose=import_job_sheet_choose, validate=import_job_validate,
                       run=import_job_run, detail="customers:import_detail", template="customers/import_detail.html",
                       done=_imported, context={"fields": import_field_choices(), "modes": ImportMode.choices,
                                                "statuses": ImportStatus, "hints": duplicate_hints(job)})
