"""Customer import: the upload, the column mapping, the check and the run."""


from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from fidelis.accounts.decorators import require_capability
from fidelis.core.errors import DomainError
from fidelis.customers.imports import (
    import_field_choices,
    import_job_create,
    import_job_run,
    import_job_sheet_choose,
    import_job_validate,
)
from fidelis.customers.models import (
    ImportJob,
    ImportMode,
    ImportStatus,
)


def upload_page(request, *, create, detail: str, jobs, template: str):
    """The first step of an import: take the uploaded file through `create` and go on to the job's page `detail`,
    or show the upload form with the reason the file was refused and the latest jobs."""
    error = None
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            error = _("Choose a file to upload.")
        else:
            try:
                job = create(actor=request.user, uploaded_file=upload)
            except DomainError as exc:
                error = exc.message
            else:
                return redirect(detail, public_id=job.public_id)
    return render(request, template, {"error": error, "jobs": jobs.select_related("created_by")[:20]},
                  status=400 if error else 200)


@require_capability("customer.import")
def import_start(request):
    return upload_page(request, create=import_job_create, detail="customers:import_detail",
                       jobs=ImportJob.objects.all(), template="customers/import_start.html")


@require_capability("customer.import")
def import_detail(request, public_id: str):
    job = get_object_or_404(ImportJob, public_id=public_id)
    error = error_field = None
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "sheet":
                job = import_job_sheet_choose(actor=request.user, job=job, sheet=request.POST.get("sheet", ""))
            elif action == "validate":
                mapping = {str(i): request.POST.get(f"map-{i}", "ignore") for i in range(len(job.headers))}
                job = import_job_validate(actor=request.user, job=job, mapping=mapping,
                                          mode=request.POST.get("mode", ""))
            elif action == "run":
                job = import_job_run(actor=request.user, job=job)
                if job.status == ImportStatus.IMPORTED:
                    messages.success(request, _("%(count)s customers imported.") % {"count": job.created_count})
            return redirect("customers:import_detail", public_id=job.public_id)
        except DomainError as exc:
            error, error_field = exc.message, exc.field
    columns = [{"index": i, "header": h, "field": job.mapping.get(str(i), "ignore")} for i, h in enumerate(job.headers)]
    return render(request, "customers/import_detail.html", {
        "job": job, "columns": columns, "fields": import_field_choices(), "modes": ImportMode.choices,
        "errors": job.report.get("errors", []), "error": error, "error_field": error_field,
        "statuses": ImportStatus,
    }, status=400 if error else 200)
