"""Opportunities in the UI: the Kanban board per pipeline (drag and drop with htmx, a stage select without
JavaScript), the list with filters, create / edit / detail, won (order and/or contract) and lost. The
opportunities card of the customer 360° page is in `fidelis.pipeline.panels`."""


from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from fidelis.accounts.decorators import require_capability
from fidelis.accounts.permissions import has_capability
from fidelis.core.errors import DomainError, NotFound, form_error
from fidelis.customers.selectors import customer_get_for_user
from fidelis.pipeline import selectors, services
from fidelis.pipeline.errors import PipelineCode
from fidelis.pipeline.forms import LostForm, MoveForm, OpportunityForm, WonForm, open_stages
from fidelis.pipeline.models import REQUIRABLE_FIELDS, OpportunitySource, StageKind

PAGE_SIZE = 50


def _owners(user):
    """Return the owners a manager may choose from (None for a rep: they own what they record)."""
    return None if services.is_rep(user) else selectors.sales_owners()


# --- board ----------------------------------------------------------------------------------------------------------


def _board_context(request, pipeline, *, pending=None, error=None) -> dict:
    owner = request.GET.get("owner", "") or request.POST.get("owner_filter", "")
    return {"pipeline": pipeline, "pipelines": selectors.pipelines_active(),
            "columns": selectors.board(request.user, pipeline, owner=owner),
            "stages": selectors.stages_of(pipeline), "owner": owner,
            "owners": selectors.sales_owners() if not services.is_rep(request.user) else None,
            "can_change": has_capability(request.user, "opportunity.change"),
            "pending": pending, "error": error, "lost_reasons": MoveForm.base_fields["lost_reason"].choices}


@require_capability("opportunity.view")
def pipeline_board(request):
    """Show the board of a pipeline: a column per stage with its count, raw and weighted sums, and cards."""
    pipeline = selectors.pipeline_get(request.GET.get("pipeline"))
    return render(request, "pipeline/pipeline_board.html", _board_context(request, pipeline))


@require_POST
@require_capability("opportunity.change")
def pipeline_move(request, public_id: str):
    """Move a card to another stage (htmx drop or the card's stage select); a refused move keeps the card and
    shows why, with the fields the stage needs."""
    opportunity = selectors.opportunity_get_for_user(request.user, public_id)
    pipeline = opportunity.stage.pipeline
    form = MoveForm(request.POST)
    form.fields["stage"].queryset = pipeline.stages.all()
    error, pending = None, None
    if form.is_valid():
        target = form.cleaned_data["stage"]
        if target.kind == StageKind.WON and target.pk != opportunity.stage_id:
            url = reverse("pipeline:opportunity_won", kwargs={"public_id": opportunity.public_id})
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
        try:
            services.opportunity_move(actor=request.user, opportunity=opportunity, stage=target,
                                      data=form.data_fields(), lost_reason=form.cleaned_data["lost_reason"],
                                      lost_note=form.cleaned_data["lost_note"])
        except DomainError as exc:
            error = str(exc.message)
            needs = [f for f in target.required_fields if f in REQUIRABLE_FIELDS and f != "products"]
            pending = {"opportunity": opportunity, "stage": target, "fields": needs,
                       "lost": target.kind == StageKind.LOST, "field": exc.field, "form": form}
    else:
        error = " ".join(str(m) for errors in form.errors.values() for m in errors)
        stage = form.cleaned_data.get("stage")
        if stage is not None:
            pending = {"opportunity": opportunity, "stage": stage, "lost": stage.kind == StageKind.LOST,
                       "fields": [f for f in stage.required_fields if f != "products"], "form": form}
    if error is None and not request.htmx:
        messages.success(request, _("%(title)s moved to %(stage)s.") % {"title": opportunity.title,
                                                                          "stage": form.cleaned_data["stage"].name})
        back = request.POST.get("next", "")
        return redirect(back if back.startswith("/sales/") else f"{reverse('pipeline:board')}?pipeline={pipeline.pk}")
    context = _board_context(request, pipeline, pending=pending, error=error)
    status = 200 if error is None or request.htmx else 400
    if request.htmx:
        return render(request, "pipeline/_board.html", context, status=status)
    return render(request, "pipeline/pipeline_board.html", context, status=status)


# --- list -----------------------------------------------------------------------------------------------------------


@require_capability("opportunity.view")
def opportunity_list(request):
    get = request.GET
    filters = selectors.OpportunityFilters(
        stage=get.get("stage", "").strip(), owner=get.get("owner", "").strip(), source=get.get("source", "").strip(),
        month=get.get("month", "").strip(), customer=get.get("customer", "").strip(),
        status=get.get("status", "").strip(), q=get.get("q", "").strip())
    qs = selectors.opportunity_list_filtered(request.user, filters)
    page = Paginator(qs, PAGE_SIZE).get_page(get.get("page"))
    query = {k: v for k, v in vars(filters).items() if v}
    customer = None
    if filters.customer:
        try:
            customer = customer_get_for_user(request.user, filters.customer)
        except NotFound:
            customer = None
    pipeline = services.pipeline_default()
    return render(request, "pipeline/opportunity_list.html", {
        "page": page, "opportunities": page.object_list, "filters": filters,
        "filtered": bool(query), "totals": selectors.opportunity_totals(qs), "customer": customer,
        "stages": selectors.stages_of(pipeline), "sources": OpportunitySource.choices,
        "owners": selectors.sales_owners() if not services.is_rep(request.user) else None,
        "statuses": StageKind.choices, "can_change": has_capability(request.user, "opportunity.change")})


# --- one opportunity ------------------------------------------------------------------------------------------------


@require_capability("opportunity.change")
def opportunity_create(request):
    """Record an opportunity for a customer (from the 360° page the customer is given)."""
    customer = None
    wanted = (request.POST.get("customer") or request.GET.get("customer") or "").strip()
    if wanted:
        try:
            customer = customer_get_for_user(request.user, wanted)
        except NotFound:
            customer = None
    pipeline = services.pipeline_default()
    form = OpportunityForm(request.POST or None, stages=open_stages(pipeline), owners=_owners(request.user),
                           initial={"customer": customer.public_id if customer else "",
                                    "stage": open_stages(pipeline).first()})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if customer is None:
                raise DomainError(_("Choose the customer."), code=PipelineCode.REQUIRED, field="customer")
            opportunity = services.opportunity_create(
                actor=request.user, customer=customer, title=data["title"], source=data["source"],
                expected_amount=data["expected_amount"], expected_close_date=data["expected_close_date"],
                stage=data.get("stage"), probability=data["probability"], products=list(data["products"]),
                owner=data.get("owner"), notes=data["notes"])
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("Opportunity %(title)s recorded.") % {"title": opportunity.title})
            return redirect("pipeline:opportunity_detail", public_id=opportunity.public_id)
    return render(request, "pipeline/opportunity_form.html", {"form": form, "customer": customer, "creating": True},
                  status=400 if form.errors else 200)


@require_capability("opportunity.view")
def opportunity_detail(request, public_id: str):
    opportunity = selectors.opportunity_get_for_user(request.user, public_id)
    return render(request, "pipeline/opportunity_detail.html", {
        "opportunity": opportunity, "history": selectors.opportunity_history(opportunity),
        "products": list(opportunity.products.all()), "contracts": list(opportunity.contracts.all()),
        "stages": selectors.stages_of(opportunity.stage.pipeline),
        "can_change": has_capability(request.user, "opportunity.change"),
        "lost_reasons": MoveForm.base_fields["lost_reason"].choices})


@require_capability("opportunity.change")
def opportunity_edit(request, public_id: str):
    opportunity = selectors.opportunity_get_for_user(request.user, public_id)
    form = OpportunityForm(request.POST or None, instance=opportunity, owners=_owners(request.user))
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k in services.OPPORTUNITY_FIELDS}
        data["products"] = list(data.get("products") or [])
        if data.get("owner") is None:
            data.pop("owner", None)
        if data.get("probability") is None:
            data.pop("probability", None)
        try:
            services.opportunity_update(actor=request.user, opportunity=opportunity, data=data)
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("Opportunity saved."))
            return redirect("pipeline:opportunity_detail", public_id=opportunity.public_id)
    return render(request, "pipeline/opportunity_form.html", {"form": form, "opportunity": opportunity,
                                                           "customer": opportunity.customer},
                  status=400 if form.errors else 200)


@require_capability("opportunity.change")
def opportunity_won(request, public_id: str):
    """Mark an opportunity won, optionally recording its order and/or registering its contract."""
    opportunity = selectors.opportunity_get_for_user(request.user, public_id)
    won = opportunity.stage.pipeline.stages.filter(kind=StageKind.WON).order_by("order").first()
    form = WonForm(request.POST or None, initial={"contract_amount": opportunity.expected_amount})
    if request.method == "POST" and form.is_valid():
        try:
            services.opportunity_move(actor=request.user, opportunity=opportunity, stage=won,
                                      order=form.order_options(), contract=form.contract_options())
        except DomainError as exc:
            field = {"number": "contract_number", "amount": "contract_amount", "lines": "product"}.get(
                exc.field or "", exc.field)
            if (exc.field or "").startswith("lines."):
                field = "quantity" if exc.field.endswith("quantity") else "product"
            form.add_error(field if field in form.fields else None, str(exc.message))
        else:
            messages.success(request, _("Won: %(title)s.") % {"title": opportunity.title})
            return redirect("pipeline:opportunity_detail", public_id=opportunity.public_id)
    return render(request, "pipeline/opportunity_won.html", {"form": form, "opportunity": opportunity, "stage": won},
                  status=400 if form.errors else 200)


@require_capability("opportunity.change")
def opportunity_lost(request, public_id: str):
    """Mark an opportunity lost, with the reason."""
    opportunity = selectors.opportunity_get_for_user(request.user, public_id)
    lost = opportunity.stage.pipeline.stages.filter(kind=StageKind.LOST).order_by("order").first()
    form = LostForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.opportunity_move(actor=request.user, opportunity=opportunity, stage=lost,
                                      lost_reason=form.cleaned_data["lost_reason"],
                                      lost_note=form.cleaned_data["lost_note"])
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("Lost: %(title)s.") % {"title": opportunity.title})
            return redirect("pipeline:opportunity_detail", public_id=opportunity.public_id)
    return render(request, "pipeline/opportunity_lost.html", {"form": form, "opportunity": opportunity},
                  status=400 if form.errors else 200)


urlpatterns = [
    path("pipeline/", pipeline_board, name="board"),
    path("pipeline/move/<str:public_id>/", pipeline_move, name="board_move"),
    path("opportunities/", opportunity_list, name="opportunities"),
    path("opportunities/new/", opportunity_create, name="opportunity_create"),
    path("opportunities/<str:public_id>/", opportunity_detail, name="opportunity_detail"),
    path("opportunities/<str:public_id>/edit/", opportunity_edit, name="opportunity_edit"),
    path("opportunities/<str:public_id>/won/", opportunity_won, name="opportunity_won"),
    path("opportunities/<str:public_id>/lost/", opportunity_lost, name="opportunity_lost"),
]
