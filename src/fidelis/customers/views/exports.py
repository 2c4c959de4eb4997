"""Exports: the filtered customer list, a person's data export (PIPL) and the erasure of it."""

import json

from django.contrib import messages
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from fidelis.accounts.decorators import require_capability
from fidelis.core.errors import DomainError
from fidelis.customers.exports import FILTERS, FORMATS, csv_stream, customers_export_start, xlsx_bytes
from fidelis.customers.privacy import customer_erase, customer_personal_data_export
from fidelis.customers.selectors import customer_get_for_user


@require_capability("customer.export")
def customer_export(request):
    filters = {k: request.GET.get(k, "") for k in FILTERS}
    fmt = request.GET.get("format") if request.GET.get("format") in FORMATS else "csv"
    qs = customers_export_start(actor=request.user, filters=filters, fmt=fmt)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    if fmt == "xlsx":
        response = HttpResponse(xlsx_bytes(qs),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    else:
        response = StreamingHttpResponse(csv_stream(qs), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="customers-{stamp}.{fmt}"'
    return response


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
