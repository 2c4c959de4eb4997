"""Duplicates and merges: the review list of likely pairs, the merge, the record of a merge."""

from datetime import date, datetime
from typing import Any

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from fidelis.accounts.decorators import require_capability
from fidelis.accounts.models import User
from fidelis.core.dates import local_time
from fidelis.core.errors import DomainError
from fidelis.core.tasks import task_send
from fidelis.customers.dedupe import REASON_LABELS, customers_merge, duplicate_dismiss
from fidelis.customers.errors import CustomerCode
from fidelis.customers.models import (
    ConsentChannel,
    Customer,
    DuplicateCandidate,
    DuplicateStatus,
    MergeRecord,
)
from fidelis.customers.normalize import format_phone
from fidelis.customers.selectors import customer_visible_qs
from fidelis.customers.services import EDITABLE_FIELDS

COMPARE_FIELDS = ("number", "name", "phone", "email", "wechat_id", "company_name", "city", "address", "birthday",
                  "category", "value_tier", "lifecycle_stage", "created_at")


def _side_by_side(candidate: DuplicateCandidate) -> list[dict]:
    rows = []
    for field in COMPARE_FIELDS:
        model_field = candidate.customer._meta.get_field(field)
        left, right = (_shown(model_field, getattr(c, field)) if getattr(c, field) not in (None, "") else ""
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


# What a merge moves, as `customers_merge` and the apps' merge hooks (sales, loyalty, pipeline, work) report it, in
# the order the page lists it. A kind the page does not know yet is left out rather than shown by its key.
MOVED_LABELS = {
    "orders": gettext_lazy("Orders"),
    "events": gettext_lazy("Timeline events"),
    "tags": gettext_lazy("Tags"),
    "contacts": gettext_lazy("Contacts"),
    "consents": gettext_lazy("Consents"),
    "memberships": gettext_lazy("Club memberships"),
    "points_carried": gettext_lazy("Points carried over"),
    "coupons": gettext_lazy("Coupons"),
    "opportunities": gettext_lazy("Opportunities"),
    "contracts": gettext_lazy("Contracts"),
    "tasks": gettext_lazy("Tasks"),
}
# The merged record's fields shown on its card, in the order of the customer page; the search keys, ids and merge
# columns stored beside them are not the person's data.
SNAPSHOT_FIELDS = (*EDITABLE_FIELDS, "owner", "created_at")
_PHONE_FIELDS = ("phone", "phone_alt")


def _field_label(name: str) -> str:
    return str(Customer._meta.get_field(name).verbose_name)


def _stored(field, value: Any) -> Any:
    """Return a snapshot value (JSON: dates as ISO text) as the field's Python value."""
    value = field.to_python(value)
    if isinstance(value, datetime) and timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_default_timezone())
    return value


def _shown(field, value: Any) -> str:
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, datetime):
        return local_time(value)
    if isinstance(value, date):
        return date_format(value, "Y-m-d")
    if field.name in _PHONE_FIELDS:
        return format_phone(value)
    return str(value)


def merge_moved_rows(moved: dict[str, Any]) -> list[dict[str, Any]]:
    """Return what a merge moved as rows of the page: label, count and the items named (order numbers, tags…)."""
    rows = []
    for key, label in MOVED_LABELS.items():
        value = moved.get(key)
        if not value:
            continue
        if isinstance(value, list):
            items = ([str(ConsentChannel(v).label) if v in ConsentChannel.values else str(v) for v in value]
                     if key == "consents" else [str(v) for v in value])
            rows.append({"key": key, "label": label, "count": len(value), "items": items})
        else:
            rows.append({"key": key, "label": label, "count": value, "items": []})
    return rows


def merge_filled_fields(moved: dict[str, Any]) -> list[str]:
    """Return the labels of the kept record's fields that the merge filled from the merged one."""
    names = {f.name for f in Customer._meta.get_fields()}
    return [_field_label(name) for name in moved.get("fields", []) if name in names]


def merge_snapshot_card(snapshot: dict[str, Any]) -> dict[str, Any]:
    """Return the merged record as it was, as a customer card: labelled fields that had a value, tags, consents,
    contacts; choices by their label, times in local time, phones as people write them."""
    if snapshot.get("erased"):
        return {"erased": True, "number": snapshot.get("number", "")}
    facts = []
    for name in SNAPSHOT_FIELDS:
        field = Customer._meta.get_field(name)
        value = snapshot.get(field.attname)
        if value in (None, ""):
            continue
        if name == "owner":
            owner = User.objects.filter(pk=value).first()
            if owner is not None:
                facts.append({"name": name, "label": field.verbose_name, "value": str(owner)})
            continue
        facts.append({"name": name, "label": field.verbose_name, "value": _shown(field, _stored(field, value))})
    if snapshot.get("erased_at"):
        field = Customer._meta.get_field("erased_at")
        facts.append({"name": "erased_at", "label": field.verbose_name,
                      "value": _shown(field, _stored(field, snapshot["erased_at"]))})
    consents = []
    for consent in snapshot.get("consents", []):
        channel = consent.get("channel", "")
        recorded = _stored(Customer._meta.get_field("created_at"), consent.get("recorded_at"))
        consents.append({
            "channel": str(ConsentChannel(channel).label) if channel in ConsentChannel.values else channel,
            "granted": consent.get("granted", False), "source": consent.get("source", ""),
            "recorded_at": local_time(recorded) if recorded else ""})
    contacts = [{**contact, "phone": format_phone(contact.get("phone") or "")}
                for contact in snapshot.get("contacts", [])]
    return {"erased": False, "facts": facts, "tags": snapshot.get("tags", []), "consents": consents,
            "contacts": contacts}


@require_capability("customer.merge")
def merge_detail(request, pk: int):
    record = get_object_or_404(MergeRecord.objects.select_related("kept", "absorbed", "actor")
                               .filter(kept__in=customer_visible_qs(request.user)), pk=pk)
    return render(request, "customers/merge_detail.html", {
        "record": record, "moved": merge_moved_rows(record.moved), "filled": merge_filled_fields(record.moved),
        "card": merge_snapshot_card(record.snapshot)})
