"""Contracts in the UI: the list with filters, a contract with its renewal chain, create / edit, renew, terminate."""


from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fidelis.accounts.decorators import require_capability
from fidelis.accounts.permissions import has_capability
from fidelis.core.errors import DomainError, NotFound, form_error
from fidelis.customers.selectors import customer_get_for_user
from fidelis.pipeline import selectors, services
from fidelis.pipeline.errors import PipelineCode
from fidelis.pipeline.forms import ContractForm, RenewForm, TerminateForm
from fidelis.pipeline.models import ContractStatus

PAGE_SIZE = 50
_FIELDS = ("number", "title", "amount", "payment_method", "start_date", "end_date", "signed_at", "status", "notes")


def _owners(user):
    return None if services.is_rep(user) else selectors.sales_owners()


@require_capability("contract.view")
def contract_list(request):
    get = request.GET
    filters = selectors.ContractFilters(status=get.get("status", "").strip(), owner=get.get("owner", "").strip(),
                                        customer=get.get("customer", "").strip(),
                                        ending_within=get.get("ending_within", "").strip(), q=get.get("q", "").strip())
    qs = selectors.contract_list_filtered(request.user, filters)
    page = Paginator(qs, PAGE_SIZE).get_page(get.get("page"))
    query = {k: v for k, v in vars(filters).items() if v}
    return render(request, "pipeline/contract_list.html", {
        "page": page, "contracts": page.object_list, "filters": filters,
        "filtered": bool(query), "statuses": ContractStatus.choices,
        "owners": _owners(request.user), "can_change": has_capability(request.user, "contract.change")})


@require_capability("contract.view")
def contract_detail(request, public_id: str):
    contract = selectors.contract_get_for_user(request.user, public_id)
    renewal = getattr(contract, "renewal", None) if hasattr(contract, "renewal") else None
    return render(request, "pipeline/contract_detail.html", {
        "contract": contract, "renewal": renewal, "terminate_form": TerminateForm(),
        "can_change": has_capability(request.user, "contract.change")
        and contract.status in (ContractStatus.DRAFT, ContractStatus.ACTIVE, ContractStatus.EXPIRED)})


@require_capability("contract.change")
def contract_create(request):
    customer = None
    wanted = (request.POST.get("customer") or request.GET.get("customer") or "").strip()
    if wanted:
        try:
            customer = customer_get_for_user(request.user, wanted)
        except NotFound:
            customer = None
    form = ContractForm(request.POST or None, owners=_owners(request.user),
                        initial={"customer": customer.public_id if customer else ""})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if customer is None:
                raise DomainError(_("Choose the customer."), code=PipelineCode.REQUIRED, field="customer")
            contract = services.contract_create(actor=request.user, customer=customer, owner=data.get("owner"),
                                                **{f: data[f] for f in _FIELDS})
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("Contract %(number)s registered.") % {"number": contract.number})
            return redirect("pipeline:contract_detail", public_id=contract.public_id)
    return render(request, "pipeline/contract_form.html", {"form": form, "customer": customer, "creating": True},
                  status=400 if form.errors else 200)


@require_capability("contract.change")
def contract_edit(request, public_id: str):
    contract = selectors.contract_get_for_user(request.user, public_id)
    form = ContractForm(request.POST or None, instance=contract, owners=_owners(request.user))
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k in _FIELDS or (k == "owner" and v is not None)}
        try:
            services.contract_update(actor=request.user, contract=contract, data=data)
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("Contract saved."))
            return redirect("pipeline:contract_detail", public_id=contract.public_id)
    return render(request, "pipeline/contract_form.html", {"form": form, "contract": contract,
                                                        "customer": contract.customer},
                  status=400 if form.errors else 200)


@require_capability("contract.change")
def contract_renew(request, public_id: str):
    contract = selectors.contract_get_for_user(request.user, public_id)
    form = RenewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            new = services.contract_renew(actor=request.user, contract=contract, number=data["number"],
                                          amount=data["amount"], start_date=data["start_date"],
                                          end_date=data["end_date"])
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("Contract %(old)s renewed as %(new)s.") % {"old": contract.number,
                                                                                   "new": new.number})
            return redirect("pipeline:contract_detail", public_id=new.public_id)
    return render(request, "pipeline/contract_form.html", {"form": form, "contract": contract, "renewing": True,
                                                        "customer": contract.customer},
                  status=400 if form.errors else 200)


@require_POST
@require_capability("contract.change")
def contract_terminate(request, public_id: str):
    contract = selectors.contract_get_for_user(request.user, public_id)
    form = TerminateForm(request.POST)
    try:
        if not form.is_valid():
            raise DomainError(_("Say why the contract ends early."), code=PipelineCode.REQUIRED, field="reason")
        services.contract_terminate(actor=request.user, contract=contract, reason=form.cleaned_data["reason"])
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Contract %(number)s terminated.") % {"number": contract.number})
    return redirect("pipeline:contract_detail", public_id=contract.public_id)


urlpatterns = [
    path("contracts/", contract_list, name="contracts"),
    path("contracts/new/", contract_create, name="contract_create"),
    path("contracts/<str:public_id>/", contract_detail, name="contract_detail"),
    path("contracts/<str:public_id>/edit/", contract_edit, name="contract_edit"),
    path("contracts/<str:public_id>/renew/", contract_renew, name="contract_renew"),
    path("contracts/<str:public_id>/terminate/", contract_terminate, name="contract_terminate"),
]
