"""The data side of the archive: import, duplicates and merges, export, a person's data export and erasure."""

import json

from django.contrib import messages
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fidelis.accounts.decorators import require_capability
from fidelis.core.errors import DomainError
from fidelis.core.tasks import task_send
from fidelis.customers.dedupe import REASON_LABELS, customers_merge, duplicate_dismiss
from fidelis.customers.errors import CustomerCode
from fidelis.customers.exports import FILTERS, csv_stream, customers_export_start, xlsx_bytes
from fidelis.customers.imports import (
    import_field_choices,
    import_job_create,
    import_job_run,
    import_job_sheet_choose,
    import_job_validate,
)
from fidelis.customers.models import (
    DuplicateCandidate,
    DuplicateStatus,
    ImportJob,
    ImportMode,
    ImportStatus,
    MergeRecord,
)
from fidelis.customers.privacy import customer_erase, customer_personal_data_export
from fidelis.customers.selectors import customer_get_for_user, customer_visible_qs

COMPARE_FIELDS = ("number", "name", "phone", "email", "wechat_id", "company_name", "city", "address", "birthday",
                  "category", "value_tier", "lifecycle_stage", "created_at")


@require_capability("customer.export")
def customer_export(request):
    filters = {k: request.GET.get(k, "") for k in FILTERS}
    fmt = "xlsx" if request.GET.get("format") == "xlsx" else "csv"
    qs = customers_export_start(actor=request.user, filters=filters, fmt=fmt)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    if fmt == "xlsx":
        response = HttpResponse(xlsx_bytes(qs),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    else:
        response = StreamingHttpResponse(csv_stream(qs), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="customers-{stamp}.{fmt}"'
    return response


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


def _side_by_side(candidate: DuplicateCandidate) -> list[dict]:
    rows = []
    for field in COMPARE_FIELDS:
        model_field = candidate.customer._meta.get_field(field)
        left, right = (getattr(c, f"get_{field}_display")() if model_field.choices else getattr(c, field)
                       for c in (candidate.customer, candidate.other))
        rows.append({"label": model_field.verbose_name, "left": left, "right": right, "differs": left != right})
    return rows


@require_capability("customer.merge")
def duplicate_list(request):
    if request.method == "POST" and request.POST.get("action") == "scan":
        from fidelis.customers.tasks import duplicates_scan_task

        actor_id = request.user.pk
        if task_send(duplicates_scan_task, actor_id):
            messages.success(request, _("The duplicate scan has started; new pairs appear here when it ends."))
        else:
            messages.error(request, _("The duplicate scan could not be started now; try again later (it also runs "
                                      "every night)."))
        return redirect("customers:duplicates")
    visible = customer_visible_qs(request.user)
    candidates = list(DuplicateCandidate.objects.filter(status=DuplicateStatus.OPEN, customer__in=visible,
                                                        other__in=visible)
                      .select_related("customer", "other").order_by("-created_at", "-id")[:50])
    pairs = [{"candidate": c, "reason": REASON_LABELS.get(c.reason, c.reason), "rows": _side_by_side(c)}
             for c in candidates]
    return render(request, "customers/duplicate_list.html", {"pairs": pairs})


@require_capability("customer.merge")
@require_POST
def duplicate_review(request, pk: int):
    visible = customer_visible_qs(request.user)
    candidate = get_object_or_404(DuplicateCandidate.objects.filter(customer__in=visible, other__in=visible), pk=pk)
    try:
        if request.POST.get("action") == "dismiss":
            duplicate_dismiss(actor=request.user, candidate=candidate)
            messages.success(request, _("Marked as not a duplicate."))
            return redirect("customers:duplicates")
        keep_id = request.POST.get("keep")
        if keep_id not in (str(candidate.customer_id), str(candidate.other_id)):
            raise DomainError(_("Choose the record to keep."), code=CustomerCode.REQUIRED, field="keep")
        keep, absorb = ((candidate.customer, candidate.other) if keep_id == str(candidate.customer_id)
                        else (candidate.other, candidate.customer))
        record = customers_merge(actor=request.user, keep=keep, absorb=absorb)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("customers:duplicates")
    messages.success(request, _("Records merged."))
    return redirect("customers:merge_detail", pk=record.pk)


@require_capability("customer.merge")
def merge_detail(request, pk: int):
    record = get_object_or_404(MergeRecord.objects.select_related("kept", "absorbed", "actor")
                               .filter(kept__in=customer_visible_qs(request.user)), pk=pk)
    return render(request, "customers/merge_detail.html", {
        "record": record, "snapshot": sorted(record.snapshot.items()),
        "moved": json.dumps(record.moved, ensure_ascii=False, indent=2)})


@require_capability("customer.privacy")
def person_export(request, public_id: str):
    customer = customer_get_for_user(request.user, public_id)
    data = customer_personal_data_export(actor=request.user, customer=customer)
    response = HttpResponse(json.dumps(data, ensure_ascii=False, indent=2, default=str),
                            content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="customer-{customer.public_id}.json"'
    return response


@require_capability("customer.privacy")
def person_erase(request, public_id: str):
    customer = customer_get_for_user(request.user, public_id)
    error = None
    if request.method == "POST":
        try:
            customer_erase(actor=request.user, customer=customer, reason=request.POST.get("reason", ""))
        except DomainError as exc:
            error = exc.message
        else:
            messages.success(request, _("The customer's personal data was erased."))
            return redirect("customers:detail", public_id=customer.public_id)
    return render(request, "customers/person_erase.html", {"customer": customer, "error": error},
                  status=400 if error else 200)
