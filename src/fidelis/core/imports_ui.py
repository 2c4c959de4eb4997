"""The pages every import of a file has (customers, historical orders): the list of imports with the upload form,
and a job's page with its sheet, column mapping, check report and run.

Each app's views pass their own services, templates and URL names; the steps themselves (upload, choose a sheet,
check, run — in the mode chosen on the page, after a failed "all or nothing" run too) are taken here, one way for
both.
"""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from fidelis.core.errors import DomainError

PAGE_SIZE = 25
IGNORE = "ignore"


def imports_page(request: HttpRequest, *, create: Callable, detail: str, jobs: QuerySet,
                 template: str) -> HttpResponse:
    """The imports page: the past imports, newest first, a page at a time, with who ran them; and the upload form.

    A posted file goes through `create`, then on to the job's page `detail`; a refused one is shown with the
    reason, above the list.
    """
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
    page = Paginator(jobs.select_related("created_by").order_by("-created_at", "-id"),
                     PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, template, {"error": error, "page": page, "jobs": page.object_list},
                  status=400 if error else 200)


def posted_mapping(request: HttpRequest, job) -> dict[str, str]:
    """Return the column mapping posted with the job's page (column index → field or "ignore")."""
    return {str(i): request.POST.get(f"map-{i}", IGNORE) for i in range(len(job.headers))}


def detail_page(request: HttpRequest, job, *, sheet_choose: Callable, validate: Callable, run: Callable,
                detail: str, template: str, done: Callable[[Any], str | None],
                context: dict[str, Any]) -> HttpResponse:
    """A job's page; a POST takes one step through the app's services and comes back to it.

    "Import" runs in the mode chosen on the page: after a failed "all or nothing" run, choosing "skip the bad
    rows" imports the good ones, from the rows the check stored. Columns mapped otherwise than at the check are
    checked again first. `done(job)` is the message of a run that imported, or None.
    """
    error = error_field = None
    if request.method == "POST":
        action = request.POST.get("action")
        actor = request.user
        mode = request.POST.get("mode") or None
        try:
            if action == "sheet":
                job = sheet_choose(actor=actor, job=job, sheet=request.POST.get("sheet", ""))
            elif action == "validate":
                job = validate(actor=actor, job=job, mapping=posted_mapping(request, job),
                               mode=request.POST.get("mode", ""))
            elif action == "run":
                if "map-0" in request.POST and posted_mapping(request, job) != job.mapping:
                    job = validate(actor=actor, job=job, mapping=posted_mapping(request, job),
                                   mode=mode or job.mode)
                job = run(actor=actor, job=job, mode=mode)
                message = done(job)
                if message:
                    messages.success(request, message)
            return redirect(detail, public_id=job.public_id)
        except DomainError as exc:
            error, error_field = exc.message, exc.field
    columns = [{"index": i, "header": h, "field": job.mapping.get(str(i), IGNORE)} for i, h in enumerate(job.headers)]
    return render(request, template, {
        "job": job, "columns": columns, "errors": job.report.get("errors", []), "error": error,
        "error_field": error_field, **context,
    }, status=400 if error else 200)
