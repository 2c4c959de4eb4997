"""Duplicates and merges: the review list of likely pairs, the merge, the record of a merge."""

import json

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fidelis.accounts.decorators import require_capability
from fidelis.core.errors import DomainError
from fidelis.core.tasks import task_send
from fidelis.customers.dedupe import REASON_LABELS, customers_merge, duplicate_dismiss
from fidelis.customers.errors import CustomerCode
from fidelis.customers.models import (
    DuplicateCandidate,
    DuplicateStatus,
    MergeRecord,
)
from fidelis.customers.selectors import customer_visible_qs

COMPARE_FIELDS = ("number", "name", "phone", "email", "wechat_id", "company_name", "city", "address", "birthday",
                  "category", "value_tier", "lifecycle_stage", "created_at")


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
